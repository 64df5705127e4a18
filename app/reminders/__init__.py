"""Reminders, recalls and notices: rules, planner, outbox and the channels that deliver them."""
