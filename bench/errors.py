"""One error model for every command: an error knows its exit status, one handler prints it as one line.

Exit statuses (the same in `cxrbench`, `cxrbench study`, `table` and `verify`):
  0  done;
  1  a run failed, or a verification found a mismatch;
  2  bad input or usage (a file, a line, an option): nothing was written;
  3  incomplete: nothing mismatched, but some numbers could not be recomputed here.
The message is `FILE:LINE: what is wrong` when a file is at fault (RecordError, LayoutError, ...), else one sentence.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import ClassVar, NoReturn, TypeVar

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INCOMPLETE = 3

T = TypeVar("T")


class CxrbenchError(Exception):
    """Base of the errors a user can act on; `exit_status` says which kind it is."""

    exit_status: ClassVar[int] = EXIT_FAILED


class BadInputError(CxrbenchError, ValueError):
    """Bad input or usage: a file, a line, an option value. Also a ValueError, as the errors it replaced were."""

    exit_status = EXIT_BAD_INPUT


class FailedError(CxrbenchError):
    """A run that could not finish, or a verification that found a mismatch."""

    exit_status = EXIT_FAILED


class IncompleteError(CxrbenchError):
    exit_status = EXIT_INCOMPLETE


# Library errors that mean bad input when they reach a command (a missing file, a value outside its range).
BAD_INPUT_TYPES: tuple[type[BaseException], ...] = (ValueError, FileNotFoundError, FileExistsError, KeyError)


def exit_status_of(exc: BaseException) -> int | None:
    """The exit status for an error a command reports in one line; None for a bug (which keeps its traceback)."""
    if isinstance(exc, CxrbenchError):
        return exc.exit_status
    if isinstance(exc, BAD_INPUT_TYPES):
        return EXIT_BAD_INPUT
    return None


def message_of(exc: BaseException) -> str:
    if isinstance(exc, KeyError) and exc.args:  # str(KeyError) quotes its argument
        return str(exc.args[0])
    if isinstance(exc, FileNotFoundError) and exc.filename is not None:  # "[Errno 2] ..." from open()
        return f"{exc.filename}: file not found"
    return str(exc)


def report(exc: BaseException) -> int:
    """Print `error: MESSAGE` on stderr and give the exit status (the one handler every command uses)."""
    status = exit_status_of(exc)
    if status is None:
        raise exc
    print(f"error: {message_of(exc)}", file=sys.stderr, flush=True)
    return status


def guarded(action: Callable[[], T], exit: Callable[[int], NoReturn]) -> T:
    """Run a command body; an error a user can act on becomes one line and `exit(status)`."""
    try:
        return action()
    except Exception as exc:  # noqa: BLE001 - re-raised by `report` unless it is one of ours
        if exit_status_of(exc) is None:
            raise
        exit(report(exc))
