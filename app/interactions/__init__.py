"""Calls, messages, letters, visits and notes on a patient's timeline."""
