"""The engine's thread helpers: order kept, exceptions re-raised, $CXRBENCH_THREADS honoured."""

from __future__ import annotations

import threading

import pytest

from bench.errors import BadInputError
from bench.metrics.threads import map_threads, start, thread_count


@pytest.mark.parametrize("threads", ["1", "3"])
def test_map_threads_keeps_order_and_reraises(monkeypatch, threads):
    monkeypatch.setenv("CXRBENCH_THREADS", threads)
    assert map_threads(lambda x: x * x, range(20)) == [x * x for x in range(20)]
    with pytest.raises(ZeroDivisionError):
        map_threads(lambda x: 1 // x, [3, 2, 0, 1])


@pytest.mark.parametrize(("threads", "same_thread"), [("1", True), ("2", False)])
def test_start_runs_beside_the_caller_unless_one_thread(monkeypatch, threads, same_thread):
    monkeypatch.setenv("CXRBENCH_THREADS", threads)
    assert (start(threading.get_ident).result() == threading.get_ident()) is same_thread
    failing = start(lambda: 1 // 0)
    with pytest.raises(ZeroDivisionError):
        failing.result()


def test_thread_count(monkeypatch):
    monkeypatch.setenv("CXRBENCH_THREADS", "8")
    assert thread_count(3) == 3 and thread_count(20) == 8 and thread_count(0) == 1
    monkeypatch.setenv("CXRBENCH_THREADS", "zero")
    with pytest.raises(BadInputError, match="CXRBENCH_THREADS='zero'"):
        thread_count(2)
