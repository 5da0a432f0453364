"""Login sessions bound to an HttpOnly cookie, not to Streamlit's session id.

Streamlit hands its session id to the browser in the first websocket message, and any client that presents that id
on a new websocket resumes the session, ``st.session_state`` included. So the app never trusts session state for
who is logged in: every script run re-checks the ``cxr_session`` cookie that came with *this* websocket's handshake
(``st.context.cookies``: "cookies sent in the initial request", https://docs.streamlit.io/develop/api-reference/
caching-and-state/st.context; Streamlit 1.67 reads them from the session's *current* client, see
``streamlit/runtime/context.py::_get_client_context``). Streamlit cannot set an HttpOnly cookie from a script, so
the cookie is set by our own HTTP route (``st.App(routes=...)``, https://docs.streamlit.io/develop/api-reference/
server/st.app; :mod:`readerstudy.app.web`) as HttpOnly + SameSite=Strict: page scripts never see its value and it
never travels on the websocket's messages.

Cookie value: ``base64url(json payload) "." base64url(HMAC-SHA256)``; the payload names the account, the database,
the issue time, an absolute expiry and a nonce. Inactivity is tracked per nonce in memory; logout revokes the nonce.
The signing key comes from ``CXRBENCH_SESSION_SECRET`` (sessions then survive a server restart) or is drawn per
process (a restart asks everyone to log in again; no read is lost either way).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from readerstudy.store.reader_api import Account

COOKIE_NAME = "cxr_session"
SECRET_ENV_VAR = "CXRBENCH_SESSION_SECRET"
IDLE_ENV_VAR = "CXRBENCH_SESSION_IDLE_MINUTES"
DEFAULT_IDLE_MINUTES = 30.0
MAX_AGE_S = 12 * 3600
TICKET_TTL_S = 60.0
_MAX_TRACKED = 50_000


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def db_tag(db_url: str) -> str:
    """Short digest of the database URL: a cookie for one study does not open another served by the same key."""
    return hashlib.sha256(db_url.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class SessionCheck:
    account: Account | None
    nonce: str | None = None
    expired: bool = False  # the cookie was genuine but timed out (inactivity or absolute age)


class SessionStore:
    """Issues and checks signed session cookies; one per server process (see :data:`STORE`)."""

    def __init__(
        self,
        secret: bytes | None = None,
        idle_s: float | None = None,
        max_age_s: float = MAX_AGE_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        env_secret = os.environ.get(SECRET_ENV_VAR, "")
        self._key = secret or (env_secret.encode() if env_secret else secrets.token_bytes(32))
        minutes = os.environ.get(IDLE_ENV_VAR, "")
        self.idle_s = idle_s if idle_s is not None else 60 * float(minutes or DEFAULT_IDLE_MINUTES)
        self.max_age_s = max_age_s
        self.clock = clock
        self._lock = threading.Lock()
        self._last_seen: dict[str, float] = {}
        self._revoked: dict[str, float] = {}
        self._tickets: dict[str, tuple[str, float]] = {}

    def _sign(self, body: str) -> str:
        return _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())

    def issue_cookie(self, account: Account, db_url: str) -> str:
        now = self.clock()
        nonce = secrets.token_urlsafe(16)
        payload = {
            "r": account.reader_id,
            "role": account.role,
            "db": db_tag(db_url),
            "iat": now,
            "exp": now + self.max_age_s,
            "n": nonce,
        }
        body = _b64(json.dumps(payload, separators=(",", ":")).encode())
        with self._lock:
            self._last_seen[nonce] = now
        return f"{body}.{self._sign(body)}"

    def check(self, cookie: str | None, db_url: str, touch: bool = True) -> SessionCheck:
        """Who this cookie logs in, if it is genuine, for this database, unrevoked and not timed out."""
        if not cookie or cookie.count(".") != 1:
            return SessionCheck(None)
        body, signature = cookie.split(".")
        if not hmac.compare_digest(signature, self._sign(body)):
            return SessionCheck(None)
        try:
            payload = json.loads(_unb64(body))
        except ValueError:
            return SessionCheck(None)
        nonce = str(payload["n"])
        if payload["db"] != db_tag(db_url):
            return SessionCheck(None)
        now = self.clock()
        with self._lock:
            if nonce in self._revoked:
                return SessionCheck(None, nonce)
            # A nonce issued before a restart (shared secret) starts its inactivity clock now.
            last = self._last_seen.get(nonce, now)
            if now > payload["exp"] or now - last > self.idle_s:
                self._last_seen.pop(nonce, None)
                self._revoked[nonce] = now  # dead for good: an unknown nonce would otherwise start afresh
                return SessionCheck(None, nonce, expired=True)
            if touch:
                self._last_seen[nonce] = now
                self._forget_oldest()
        return SessionCheck(Account(str(payload["r"]), str(payload["role"])), nonce)

    def revoke(self, nonce: str | None) -> None:
        if nonce:
            with self._lock:
                self._revoked[nonce] = self.clock()
                self._last_seen.pop(nonce, None)
                self._forget_oldest()

    def issue_ticket(self, cookie: str) -> str:
        """A one-time, short-lived ticket that :mod:`readerstudy.app.web` trades for ``cookie``."""
        ticket = secrets.token_urlsafe(32)
        with self._lock:
            self._tickets = {t: v for t, v in self._tickets.items() if v[1] > self.clock()}
            self._tickets[ticket] = (cookie, self.clock() + TICKET_TTL_S)
        return ticket

    def redeem_ticket(self, ticket: str) -> str | None:
        with self._lock:
            cookie, valid_until = self._tickets.pop(ticket, (None, 0.0))
        return cookie if cookie is not None and self.clock() <= valid_until else None

    def _forget_oldest(self) -> None:
        for table in (self._last_seen, self._revoked):
            while len(table) > _MAX_TRACKED:
                del table[next(iter(table))]


STORE = SessionStore()


def request_cookies() -> Mapping[str, str]:
    """Cookies of the websocket handshake of the current browser connection (not of whoever started the session)."""
    import streamlit as st

    try:
        return st.context.cookies
    except Exception:  # no browser connection at all (bare script run)
        return {}


def session_cookie() -> str | None:
    return request_cookies().get(COOKIE_NAME)
