"""The `cxrbench` program (cxrbench.cli) and the demo of the whole protocol (cxrbench.demo)."""
