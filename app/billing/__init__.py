"""The patient ledger: charges, payments and balances, in integer cents."""
