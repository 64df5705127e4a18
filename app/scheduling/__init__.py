"""Appointments and their status history."""
