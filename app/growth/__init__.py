"""Growing the clinic: where new patients come from, saved patient filters, and reports."""
