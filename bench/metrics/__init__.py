"""Metric engine: pure functions on arrays, one result shape (`TaskResult`)."""
