"""Engagement beyond reminders: surveys, education, seasonal alerts, acquisition, reactivation."""
