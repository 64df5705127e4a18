"""Files the clinic takes out of Frontdesk: lists for spreadsheets and mail merges."""
