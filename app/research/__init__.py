"""De-identified research exports: HIPAA Safe Harbor (45 CFR 164.514(b)(2)) files."""
