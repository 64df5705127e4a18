"""Sync between the clinic's workstations, on screen: status, settings tab, joining."""
