"""The reference baseline: a small pure-torch multi-task CNN (`baseline:WEIGHTS`), trained on CPU in minutes."""

from __future__ import annotations

from bench.models.baseline.model import DEFAULT_CONFIG, BaselineModel

__all__ = ["DEFAULT_CONFIG", "BaselineModel"]
