"""Threads for the metric engine's independent array work.

numpy (and scipy.sparse's products) release the GIL inside their loops, so independent pieces of work, such as the
bootstrap replicates of different labels, run in parallel on threads. Each piece writes only its own output, so
the numbers do not depend on the thread count.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from bench.errors import BadInputError

ENV_VAR = "CXRBENCH_THREADS"

T = TypeVar("T")
R = TypeVar("R")


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity mask, which containers and `taskset` narrow)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def thread_count(tasks: int) -> int:
    """$CXRBENCH_THREADS (a whole number >= 1) when set, else the available CPUs; never more than `tasks`."""
    value = os.environ.get(ENV_VAR, "").strip()
    if value:
        if not value.isdigit() or int(value) < 1:
            raise BadInputError(f"{ENV_VAR}={value!r}: expected a whole number of threads, 1 or more")
        wanted = int(value)
    else:
        wanted = available_cpus()
    return max(1, min(wanted, tasks))


def map_threads(function: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """[function(item) for item in items], on `thread_count` threads; in order, exceptions re-raised."""
    items = list(items)
    workers = thread_count(len(items))
    if workers == 1:
        return [function(item) for item in items]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cxrbench") as pool:
        return list(pool.map(function, items))


def start(function: Callable[..., R], *args: object, **kwargs: object) -> Future[R]:
    """function(*args, **kwargs) on a thread of its own, to overlap the caller's work (run at once when only one
    thread is allowed); `.result()` waits for it and re-raises its exception."""
    if thread_count(2) == 1:
        done: Future[R] = Future()
        try:
            done.set_result(function(*args, **kwargs))
        except Exception as exc:  # handed to .result(), as a thread would
            done.set_exception(exc)
        return done
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cxrbench")
    future = executor.submit(function, *args, **kwargs)
    executor.shutdown(wait=False)  # its one thread ends with the task
    return future
