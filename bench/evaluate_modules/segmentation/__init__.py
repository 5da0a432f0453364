"""The `evaluate` module script of cxrbench's segmentation task (segmentation.py)."""
