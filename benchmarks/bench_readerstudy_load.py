"""Load test of the reader-study store: N concurrent readers submitting against one SQLite study.

Each reader is a thread (as in the Streamlit server: one process, one thread per browser session) that reads its
cases in order: load the case, submit (commit with fsync), find the next unread case. Checks 0 lost and 0 duplicated
reads and an intact audit chain, and prints submit-latency percentiles. The reference row is the floor: a bare
sqlite3 INSERT + COMMIT with the same durability settings (WAL, synchronous=FULL) from the same number of threads.

    python benchmarks/bench_readerstudy_load.py --readers 20 --cases 40
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from sqlalchemy import func, select

from readerstudy.store.audit import verify_audit_chain
from readerstudy.store.engine import StudyDB, open_db
from readerstudy.store.models import AuditEntry, Read
from readerstudy.store.reader_api import ReadAnswers, load_case, next_unread, submit_read
from readerstudy.study.build import CaseRecord, build_from_records
from readerstudy.study.protocol import protocol_from_dict


def build(path: Path, n_readers: int, n_cases: int) -> StudyDB:
    records = [
        CaseRecord(
            "bench",
            i + 1,
            {
                "case_id": f"b{i}",
                "site": f"s{i % 4}",
                "original_report": f"FINDINGS: finding {i}. IMPRESSION: impression {i}.",
                "ai_report": f"FINDINGS: other finding {i}. IMPRESSION: other impression {i}.",
            },
        )
        for i in range(n_cases)
    ]
    readers = [{"id": f"load-r{k}", "password_hash": "scrypt$2$1$1$00$00"} for k in range(n_readers)]
    protocol = protocol_from_dict({"seed": 1, "readers": readers})
    # A load test: its placeholder texts differ on purpose, so the blinding audit is recorded, not enforced.
    return open_db(build_from_records(records, protocol, path, allow_distinguishable=True).db_url)


def run_readers(
    db: StudyDB, n_readers: int, think_ms: float
) -> tuple[list[float], list[float], float, list[str]]:
    submit_ms: list[float] = []
    page_ms: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(n_readers)

    def reader(reader_id: str) -> None:
        rng = np.random.default_rng(abs(hash(reader_id)) % 2**32)
        barrier.wait()
        try:
            order = next_unread(db, reader_id)
            while order is not None:
                load_case(db, reader_id, order)
                if think_ms:
                    time.sleep(rng.uniform(0, 2 * think_ms) / 1e3)
                choice = ("A", "equal", "B")[int(rng.integers(3))]
                t0 = time.perf_counter()
                submit_read(db, reader_id, order, ReadAnswers({"diagnostic clarity": choice}), None)
                t1 = time.perf_counter()
                order = next_unread(db, reader_id)
                t2 = time.perf_counter()
                with lock:
                    submit_ms.append((t1 - t0) * 1e3)
                    page_ms.append((t2 - t0) * 1e3)
        except Exception as exc:  # noqa: BLE001
            with lock:
                errors.append(f"{reader_id}: {exc!r}")

    threads = [threading.Thread(target=reader, args=(f"load-r{k}",)) for k in range(n_readers)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return submit_ms, page_ms, time.perf_counter() - start, errors


def run_bare_sqlite(path: Path, n_threads: int, n_rows: int) -> tuple[list[float], float]:
    setup = sqlite3.connect(path)
    setup.execute("PRAGMA journal_mode=WAL")
    setup.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, reader TEXT, item INTEGER, UNIQUE(reader, item))")
    setup.close()
    latencies: list[float] = []
    lock = threading.Lock()

    def writer(k: int) -> None:
        connection = sqlite3.connect(path, timeout=30, isolation_level=None)
        connection.execute("PRAGMA synchronous=FULL")
        for item in range(n_rows):
            t0 = time.perf_counter()
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("INSERT INTO t (reader, item) VALUES (?, ?)", (f"r{k}", item))
            connection.execute("COMMIT")
            with lock:
                latencies.append((time.perf_counter() - t0) * 1e3)
        connection.close()

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(n_threads)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, time.perf_counter() - start


def check(db: StudyDB, n_readers: int, n_cases: int) -> tuple[int, int, bool]:
    with db.reading() as session:
        n_reads = session.scalar(select(func.count()).select_from(Read)) or 0
        distinct = session.execute(
            select(func.count()).select_from(select(Read.reader_id, Read.case_idx).distinct().subquery())
        ).scalar_one()
        n_submits = session.scalar(select(func.count()).where(AuditEntry.action == "submit")) or 0
    expected = n_readers * n_cases
    lost = expected - distinct
    duplicated = n_reads - distinct
    chain_ok, _ = verify_audit_chain(db)
    return lost, duplicated, chain_ok and n_submits == expected


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--readers", type=int, default=20)
    parser.add_argument("--cases", type=int, default=40)
    parser.add_argument(
        "--think-ms",
        type=float,
        default=0.0,
        help="mean reading time between submits (0 = worst case: all readers submit back to back)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = build(Path(tmp) / "load.db", args.readers, args.cases)
        submit_ms, page_ms, wall, errors = run_readers(db, args.readers, args.think_ms)
        lost, duplicated, audit_ok = check(db, args.readers, args.cases)
        db.dispose()
        bare_ms, bare_wall = run_bare_sqlite(Path(tmp) / "bare.db", args.readers, args.cases)
    n = args.readers * args.cases
    print(
        f"{args.readers} concurrent readers x {args.cases} cases = {n} submits on one SQLite study, "
        f"mean think time {args.think_ms:g} ms\n"
    )
    print("| path | submits | wall s | submits/s | p50 ms | p95 ms | p99 ms | max ms |")
    print("|---|---|---|---|---|---|---|---|")
    for name, values, seconds in [
        ("submit_read (cxrbench)", submit_ms, wall),
        ("submit + next case (cxrbench)", page_ms, wall),
        ("bare sqlite3 INSERT+COMMIT (reference floor)", bare_ms, bare_wall),
    ]:
        print(
            f"| {name} | {len(values)} | {seconds:.2f} | {len(values) / seconds:.0f} | {statistics.median(values):.1f} "
            f"| {pct(values, 95):.1f} | {pct(values, 99):.1f} | {max(values):.1f} |"
        )
    print(f"\np95 ratio cxrbench submit / bare commit: {pct(submit_ms, 95) / pct(bare_ms, 95):.1f}x")
    print(f"lost reads: {lost}, duplicated reads: {duplicated}, audit chain and submit count ok: {audit_ok}")
    if errors or lost or duplicated or not audit_ok:
        raise SystemExit(
            f"FAILED: errors={errors[:3]} lost={lost} duplicated={duplicated} audit_ok={audit_ok}"
        )


if __name__ == "__main__":
    main()
