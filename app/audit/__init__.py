"""The tamper-evident audit log: who viewed, changed, exported or printed what, and when."""
