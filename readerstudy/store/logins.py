"""Password logins: back-off per user id and per client, equal-time answers, failures audited in aggregate.

Every check costs one scrypt whether or not the user id exists (:func:`check_credentials`), so the answer time does
not reveal which ids exist; refusals during back-off are equally fast for every id. Failed attempts are counted in
memory and reach the audit log as at most one ``login_failures`` row per interval, so an attacker cannot grow the
log; each success is one ``login`` row that also says how many failures preceded it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from readerstudy.store.audit import append_audit
from readerstudy.store.engine import StudyDB
from readerstudy.store.models import Reader
from readerstudy.store.passwords import MAX_PASSWORD_CHARS, FailureTally, LoginThrottle, verify_password

MAX_USER_ID_CHARS = 100
# Failed logins reach the audit log as one aggregated row per interval at most, however many there are.
LOGIN_FAILURE_AUDIT_INTERVAL_S = 60.0


@dataclass(frozen=True)
class Account:
    reader_id: str
    role: str


class LoginThrottledError(RuntimeError):
    """Too many failed logins for this user id or client: the attempt was refused without checking it."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__(f"too many failed logins: try again in {math.ceil(retry_after_s)} s")
        self.retry_after_s = retry_after_s


def _audit(db: StudyDB, actor: str, action: str, detail: dict[str, Any] | None) -> None:
    with db.write_transaction() as connection:
        append_audit(connection, actor, action, detail)


_THROTTLES: dict[str, LoginThrottle] = {}


def login_throttle(db: StudyDB) -> LoginThrottle:
    """This process's login throttle of the database (per URL, in memory: a server restart clears it)."""
    return _THROTTLES.setdefault(db.url, LoginThrottle())


def check_credentials(db: StudyDB, reader_id: str, password: str) -> Account | None:
    """The account when the password is right; one scrypt whatever the outcome (no user-id enumeration)."""
    with db.engine.connect() as connection:
        row = connection.execute(
            select(Reader.reader_id, Reader.role, Reader.password_hash).where(Reader.reader_id == reader_id)
        ).first()
    ok = verify_password(password, row.password_hash if row is not None else None)
    return Account(row.reader_id, row.role) if ok and row is not None else None


def flush_login_failures(db: StudyDB, min_interval_s: float = LOGIN_FAILURE_AUDIT_INTERVAL_S) -> None:
    """Write the failed-login counts since the last such row as one audit row, at most once per interval."""
    tally = login_throttle(db).drain(min_interval_s)
    if tally:
        _audit(db, "login-guard", "login_failures", _tally_detail(tally))


def _tally_detail(tally: FailureTally, top: int = 20) -> dict[str, Any]:
    ranked = sorted(tally.by_user.items(), key=lambda item: (-item[1], item[0]))
    return {
        "failed": tally.failed,
        "refused_backoff": tally.refused_backoff,
        "by_user_id": dict(ranked[:top]),
        "other_user_ids": len(ranked) - min(len(ranked), top),
    }


def authenticate(db: StudyDB, reader_id: str, password: str, client: str = "") -> Account | None:
    """Check a password, with back-off per user id and per ``client`` (e.g. the IP address).

    Raises :class:`LoginThrottledError` while backing off. Successes are audited one row each; failures are
    counted and audited in aggregate (:func:`flush_login_failures`), so an attacker cannot grow the log.
    """
    user = reader_id.strip()[:MAX_USER_ID_CHARS]
    throttle = login_throttle(db)
    wait = throttle.retry_after(user, client)
    if wait > 0:
        flush_login_failures(db)
        raise LoginThrottledError(wait)
    account = check_credentials(db, user, password[: MAX_PASSWORD_CHARS + 1])
    if account is None:
        throttle.record_failure(user, client)
        flush_login_failures(db)
        return None
    failures = throttle.record_success(user, client)
    flush_login_failures(db)
    _audit(db, account.reader_id, "login", {"failed_attempts_before": failures} if failures else None)
    return account
