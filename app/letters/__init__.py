"""Printed letters, postcards, labels and statements that fit real envelopes (issue 8)."""
