"""Running things: scoring files, comparing prediction files, provenance."""
