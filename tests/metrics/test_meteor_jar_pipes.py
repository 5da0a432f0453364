"""MeteorJar adopting a process refuses one without stdin / stdout / stderr pipes at once, with a sentence.

Before, the jar accepted it: its reader threads died with AttributeError on None streams, and the first call then
failed with AttributeError (stdin) or waited out the timeout (stdout)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bench.metrics.report.meteor import MeteorJar


def test_adopted_process_without_pipes_is_refused() -> None:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        with pytest.raises(ValueError, match="stdin, stdout and stderr pipes"):
            MeteorJar(timeout_s=1, process=process)
    finally:
        process.wait()
