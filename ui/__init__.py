"""Frontdesk's Qt Widgets GUI. Talks to the clinic only through `app`."""
