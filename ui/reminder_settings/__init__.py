"""Settings ▸ Reminders and ▸ Email and text messages: where a clinic sets up its reminders."""
