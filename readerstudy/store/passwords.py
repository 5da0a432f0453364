"""Salted scrypt password hashes (``scrypt$n$r$p$salt_hex$hash_hex``) and the login throttle.

Every check costs one scrypt, whether or not the account exists or has a password (a dummy hash is checked
instead), so the answer time does not tell which user ids exist.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

_N, _R, _P = 2**14, 8, 1


SSO_ONLY = "!sso-only"  # stored instead of a hash for accounts that log in through OIDC
MAX_PASSWORD_CHARS = 200

_dummy_hash: str | None = None


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${salt.hex()}${digest.hex()}"


def is_password_hash(value: str) -> bool:
    parts = value.split("$")
    return len(parts) == 6 and parts[0] == "scrypt" and all(p.isdigit() for p in parts[1:4])


def dummy_hash() -> str:
    """A hash of a random password with the study's scrypt cost, checked when there is no real hash."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = hash_password(secrets.token_hex(16))
    return _dummy_hash


def verify_password(password: str, stored: str | None) -> bool:
    """True when ``password`` matches ``stored``; costs one scrypt even when ``stored`` is no password hash."""
    real = stored is not None and is_password_hash(stored)
    _, n, r, p, salt_hex, digest_hex = (stored if real else dummy_hash()).split("$")  # type: ignore[union-attr]
    digest = hashlib.scrypt(
        password[:MAX_PASSWORD_CHARS].encode(),
        salt=bytes.fromhex(salt_hex),
        n=int(n),
        r=int(r),
        p=int(p),
        dklen=32,
    )
    return hmac.compare_digest(digest.hex(), digest_hex) and real and len(password) <= MAX_PASSWORD_CHARS


@dataclass
class _Failures:
    count: int = 0
    last: float = 0.0


@dataclass
class FailureTally:
    """Failed and refused login attempts since the last audit row (see :meth:`LoginThrottle.drain`)."""

    failed: int = 0
    refused_backoff: int = 0
    by_user: dict[str, int] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.failed or self.refused_backoff)


class LoginThrottle:
    """Per user id and per client back-off after repeated failed logins.

    ``free_per_user`` (``free_per_client``) failures are allowed back to back; after that each further attempt must
    wait ``base_delay_s * 2**(excess - 1)`` seconds (capped at ``max_delay_s``) after the last failure. User ids are
    throttled whether they exist or not, so the throttle does not reveal which do. Memory stays bounded: at most
    ``max_keys`` tracked keys, the oldest dropped first.
    """

    def __init__(
        self,
        free_per_user: int = 5,
        free_per_client: int = 20,
        base_delay_s: float = 1.0,
        max_delay_s: float = 900.0,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.free_per_user = free_per_user
        self.free_per_client = free_per_client
        self.base_delay_s = base_delay_s
        self.max_delay_s = max_delay_s
        self.max_keys = max_keys
        self.clock = clock
        self._lock = threading.Lock()
        self._failures: dict[tuple[str, str], _Failures] = {}
        self._tally = FailureTally()
        self.last_drain = -math.inf

    def _delay(self, failures: _Failures | None, free: int) -> float:
        if failures is None or failures.count < free:
            return 0.0
        wait = min(self.base_delay_s * 2 ** (failures.count - free), self.max_delay_s)
        return max(0.0, failures.last + wait - self.clock())

    def retry_after(self, user: str, client: str) -> float:
        """Seconds until this user id from this client may try again (0: now); counts a refusal."""
        with self._lock:
            wait = max(
                self._delay(self._failures.get(("user", user)), self.free_per_user),
                self._delay(self._failures.get(("client", client)), self.free_per_client) if client else 0.0,
            )
            if wait > 0:
                self._tally.refused_backoff += 1
            return wait

    def record_failure(self, user: str, client: str) -> None:
        now = self.clock()
        with self._lock:
            for key in (("user", user), ("client", client)) if client else (("user", user),):
                entry = self._failures.pop(key, None) or _Failures()
                entry.count += 1
                entry.last = now
                self._failures[key] = entry  # re-inserted: dict order is least recently failed first
            while len(self._failures) > self.max_keys:
                del self._failures[next(iter(self._failures))]
            self._tally.failed += 1
            self._tally.by_user[user] = self._tally.by_user.get(user, 0) + 1

    def record_success(self, user: str, client: str) -> int:
        """Clear the user's (and client's) failures; returns how many failures the user id had."""
        with self._lock:
            entry = self._failures.pop(("user", user), None)
            if client:
                self._failures.pop(("client", client), None)
            return entry.count if entry else 0

    def drain(self, min_interval_s: float) -> FailureTally | None:
        """The tally since the last drain, if there is one and ``min_interval_s`` has passed since then."""
        with self._lock:
            now = self.clock()
            if not self._tally or now - self.last_drain < min_interval_s:
                return None
            tally, self._tally, self.last_drain = self._tally, FailureTally(), now
            return tally
