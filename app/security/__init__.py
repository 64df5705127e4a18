"""Who may do what: accounts, passwords, sign-in, roles and their permissions."""
