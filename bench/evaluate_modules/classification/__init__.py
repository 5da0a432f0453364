"""The `evaluate` module script of cxrbench's classification task (classification.py)."""
