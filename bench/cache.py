"""Where cxrbench keeps model outputs worth reusing across runs (CheXbert labels, RadGraph graphs): one root."""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "CXRBENCH_CACHE_DIR"


def cache_root() -> Path:
    """$CXRBENCH_CACHE_DIR, else $XDG_CACHE_HOME/cxrbench, else ~/.cache/cxrbench."""
    root = os.environ.get(ENV_VAR)
    if root:
        return Path(root)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "cxrbench"
