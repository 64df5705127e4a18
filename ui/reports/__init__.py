"""The Reports page: charts and tables of the clinic's figures, saved as pictures or CSV."""
