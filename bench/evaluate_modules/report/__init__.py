"""The `evaluate` module script of cxrbench's report task (report.py)."""
