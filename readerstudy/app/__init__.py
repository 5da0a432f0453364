"""Streamlit reading app (entry file ``main.py``)."""
