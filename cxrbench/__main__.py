"""`python -m cxrbench ...` is the `cxrbench` program (also under torchrun)."""

from cxrbench.cli import main

main()
