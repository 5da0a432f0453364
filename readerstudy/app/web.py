"""HTTP routes and websocket middleware served next to the Streamlit app (``st.App``, see ``server.py``).

* ``/session/start?ticket=T``: trades a one-time login ticket for the HttpOnly session cookie (Streamlit's websocket
  cannot set cookies, so the login form hands the browser a ticket and the browser fetches the cookie here).
* ``/session/end``: clears the cookie (logout).
* ``/case-image/{order}``: the image of the logged-in reader's case ``order``, so no server file path ever leaves
  the server.
* :class:`HideScriptPath`: Streamlit puts the absolute path of the entry script into every ``new_session``
  message; the middleware rewrites it to the bare file name before the frame reaches the browser.
"""

from __future__ import annotations

import io
import logging
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy.exc import NoResultFound
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from readerstudy.app.common import db_url_from_args
from readerstudy.app.sessions import COOKIE_NAME, MAX_AGE_S, STORE
from readerstudy.store.engine import StudyDB, open_db
from readerstudy.store.reader_api import load_case

_LOGGER = logging.getLogger(__name__)
APP_DIR = Path(__file__).resolve().parent


def _served_db() -> StudyDB | None:
    url = db_url_from_args(sys.argv[1:])
    try:
        return _open_cached(url) if url else None
    except (ValueError, FileNotFoundError):  # the page itself says why (see common.current_db)
        return None


@lru_cache(maxsize=4)
def _open_cached(url: str) -> StudyDB:
    return open_db(url)


def session_start(request: Request) -> Response:
    cookie = STORE.redeem_ticket(request.query_params.get("ticket", ""))
    if cookie is None:
        return PlainTextResponse("This login link has expired. Go back and log in again.", status_code=403)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        COOKIE_NAME,
        cookie,
        max_age=MAX_AGE_S,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def session_end(request: Request) -> Response:
    db = _served_db()
    if db is not None:
        STORE.revoke(STORE.check(request.cookies.get(COOKIE_NAME), db.url, touch=False).nonce)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="strict")
    return response


# Files browsers show as they are: sent unchanged (re-encoding a 2500 x 3000 chest film as PNG costs about 0.5 s of
# server CPU, the largest cost of a case by far).
_AS_IS: dict[tuple[str | None, str], str] = {
    ("PNG", "L"): "image/png",
    ("PNG", "RGB"): "image/png",
    ("JPEG", "L"): "image/jpeg",
    ("JPEG", "RGB"): "image/jpeg",
}


def browser_image(path: str, mtime_ns: int) -> tuple[bytes, str]:
    """The image's bytes and media type: an 8-bit PNG or JPEG file as it is, anything else converted to 8-bit PNG."""
    from PIL import Image

    with Image.open(path) as image:  # reads the header only
        media_type = _AS_IS.get((image.format, image.mode))
    if media_type is not None:
        return Path(path).read_bytes(), media_type
    return _png_bytes(path, mtime_ns), "image/png"


@lru_cache(maxsize=16)
def _png_bytes(path: str, _mtime_ns: int) -> bytes:
    """The image as an 8-bit PNG (16-bit and other modes rescaled), cached per file version."""
    import numpy as np
    from PIL import Image

    with Image.open(path) as opened:
        image: Image.Image = opened
        if image.mode in ("I;16", "I;16B", "I", "F"):
            pixels = np.asarray(image, dtype=np.float64)
            low, high = float(pixels.min()), float(pixels.max())
            scaled = (pixels - low) * (255.0 / (high - low)) if high > low else np.zeros_like(pixels)
            image = Image.fromarray(scaled.round().astype(np.uint8), mode="L")
        elif image.mode not in ("L", "RGB"):
            image = image.convert("RGB")
        out = io.BytesIO()
        image.save(out, format="PNG")
    return out.getvalue()


def case_image(request: Request) -> Response:
    db = _served_db()
    account = STORE.check(request.cookies.get(COOKIE_NAME), db.url, touch=False).account if db else None
    if account is None or db is None:
        return PlainTextResponse("Log in first.", status_code=401)
    try:
        order = int(request.path_params["order"])
        image_path = load_case(db, account.reader_id, order).image_path
    except (ValueError, NoResultFound):  # not an order of this reader's assignment
        image_path = None
    if not image_path or not Path(image_path).is_file():
        return PlainTextResponse("No image for this case.", status_code=404)
    try:
        data, media_type = browser_image(image_path, Path(image_path).stat().st_mtime_ns)
    except OSError:
        _LOGGER.warning("case image of order %s could not be read", request.path_params["order"])
        return PlainTextResponse("The image of this case cannot be read.", status_code=500)
    # private + max-age: the viewer prefetches the next case's image, which the next page then takes from the cache
    return Response(data, media_type=media_type, headers={"Cache-Control": "private, max-age=3600"})


def routes() -> list[Route]:
    return [
        Route("/session/start", session_start, methods=["GET"]),
        Route("/session/end", session_end, methods=["GET"]),
        Route("/case-image/{order:int}", case_image, methods=["GET"]),
    ]


def _strip_script_path(data: bytes) -> bytes:
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    message = ForwardMsg()
    message.ParseFromString(data)
    if message.WhichOneof("type") != "new_session":
        return data
    message.new_session.main_script_path = Path(message.new_session.main_script_path).name
    return message.SerializeToString()


class HideScriptPath:
    """ASGI middleware: no websocket frame carries the server's absolute path of the app folder."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._needle = str(APP_DIR).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return

        async def send_without_path(message: Message) -> None:
            data: Any = message.get("bytes")
            if message["type"] == "websocket.send" and data and self._needle in data:
                message = {**message, "bytes": _strip_script_path(data)}
            await send(message)

        await self.app(scope, receive, send_without_path)
