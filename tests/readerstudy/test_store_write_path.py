"""The fast submit path: FIFO hand-off of the write lock, multi-criterion inserts, cached assignments."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable

import pytest
from sqlalchemy import select
from sqlalchemy.exc import NoResultFound

from readerstudy.store.audit import verify_audit_chain
from readerstudy.store.engine import FairLock, StudyDB
from readerstudy.store.models import Assignment, AuditEntry, Read
from readerstudy.store.reader_api import ReadAnswers, load_case, log_event, next_unread, submit_read

CRITERIA = ["diagnostic clarity", "completeness", "conciseness"]


def _wait_until(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def test_fair_lock_hands_over_in_arrival_order() -> None:
    lock = FairLock()
    acquired: list[int] = []
    inside = [0]

    def worker(k: int) -> None:
        with lock:
            inside[0] += 1
            assert inside[0] == 1  # mutual exclusion
            acquired.append(k)
            time.sleep(0.001)
            inside[0] -= 1

    lock.acquire()
    threads = []
    for k in range(8):  # enqueue one at a time so the arrival order is known
        threads.append(threading.Thread(target=worker, args=(k,)))
        threads[-1].start()
        _wait_until(lambda k=k: len(lock._waiters) == k + 1)
    lock.release()
    for thread in threads:
        thread.join(timeout=5)
    assert acquired == list(range(8))
    assert not lock._held and not lock._waiters
    with lock:  # free again, and usable without waiting
        assert lock._held


def test_multi_criterion_submits_record_ids_in_criterion_order(make_study: Callable[..., StudyDB]) -> None:
    db = make_study(n_cases=4, criteria=CRITERIA)
    submitted: dict[tuple[str, int, int], dict[str, str]] = {}
    choices = ("A", "equal", "B")

    def worker(reader: str, offset: int) -> None:
        for order in range(4):
            for version in (1, 2):  # a submit, then a revision
                answer = {c: choices[(order + k + offset + version) % 3] for k, c in enumerate(CRITERIA)}
                assert submit_read(db, reader, order, ReadAnswers(answer), None) == version
                submitted[(reader, order, version)] = answer

    threads = [threading.Thread(target=worker, args=(r, k)) for k, r in enumerate(("r1", "r2"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert verify_audit_chain(db) == (True, None)
    with db.reading() as session:
        case_of = {(a.reader_id, a.order_index): a.case_idx for a in session.scalars(select(Assignment))}
        reads = {r.id: r for r in session.scalars(select(Read))}
        entries = list(session.scalars(select(AuditEntry).where(AuditEntry.action.in_(["submit", "revise"]))))
    assert len(entries) == len(submitted) and len(reads) == len(submitted) * len(CRITERIA)
    for entry in entries:
        detail = json.loads(entry.detail_json)
        key = (entry.actor, detail["order_index"], detail["version"])
        rows = [reads[read_id] for read_id in detail["read_ids"]]
        assert [r.criterion for r in rows] == CRITERIA
        assert {r.criterion: r.choice for r in rows} == submitted[key]
        assert {(r.reader_id, r.case_idx, r.version) for r in rows} == {
            (entry.actor, case_of[(entry.actor, detail["order_index"])], detail["version"])
        }
        assert entry.action == ("submit" if detail["version"] == 1 else "revise")


def test_cached_assignments_match_the_database(make_study: Callable[..., StudyDB]) -> None:
    db = make_study(n_cases=4)
    with db.reading() as session:
        rows = session.scalars(select(Assignment).where(Assignment.reader_id == "r2")).all()
    for row in rows:
        view = load_case(db, "r2", row.order_index)
        assert view.n_total == 4 and view.latest is None
        assert submit_read(db, "r2", row.order_index, ReadAnswers({"diagnostic clarity": "B"}), None) == 1
        assert load_case(db, "r2", row.order_index).latest == ReadAnswers({"diagnostic clarity": "B"})
    assert next_unread(db, "r2") is None and next_unread(db, "r1") == 0
    with pytest.raises(NoResultFound):
        load_case(db, "r2", 99)
    with pytest.raises(NoResultFound):
        submit_read(db, "nobody", 0, ReadAnswers({"diagnostic clarity": "A"}), None)
    log_event(db, "r2", "note", {"n": 1})  # an audit row between submits keeps the chain intact
    submit_read(db, "r1", 0, ReadAnswers({"diagnostic clarity": "A"}), None)
    assert verify_audit_chain(db) == (True, None)
