"""The `evaluate` module script of cxrbench's localization task (localization.py)."""
