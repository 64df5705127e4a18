"""Patients: their records, contact points, validation and search."""
