"""Reports: the clinic's figures by month (reminders, confirmations, NPS, growth, messages)."""
