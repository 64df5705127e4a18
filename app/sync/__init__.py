"""Sync between the clinic's workstations through a relay that only ever sees ciphertext."""
