"""ASGI middleware that protects the server before any handler runs.

* Body size: a request whose ``Content-Length`` is over its path's limit is answered 413
  without reading the body; a body sent without a length (chunked) is counted while it is
  read and the request is stopped with 413 as soon as it passes the limit.
* Admission: requests to the heavy paths (photo uploads) each take a slot; when all slots are
  taken (``workers`` running plus ``queue`` waiting) the request is answered 503 with
  ``Retry-After`` before its body is read. Memory is thus bounded by the slot count times
  the upload limit, however many clients connect.
* Origin (`OriginCheck`): a POST from a page of another site (its ``Origin`` or
  ``Sec-Fetch-Site`` header says so) is answered 403 before its body is read, so a web page
  elsewhere cannot fill the queue or run assessments through the user's browser.
* Headers (`SecurityHeaders`): every response, error or page or static file, carries the
  Content-Security-Policy, ``nosniff``, framing forbidden and no referrer.
* Host (`HostCheck`): a server bound to this computer only answers requests whose ``Host``
  header names this computer, so a web page elsewhere cannot reach it through DNS rebinding.
"""

from __future__ import annotations

import json
from typing import Any, Awaitable, Callable

from starlette.exceptions import HTTPException

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when a streamed body passes its limit (FastAPI passes
    HTTPExceptions through its body parsing, so the app's handler turns it into a 413)."""

    def __init__(self, limit: int):
        super().__init__(413, f"request body is over the limit of {limit / 2**20:.1f} MB")
        self.limit = limit


def error_body(code: str, message: str) -> bytes:
    return json.dumps({"error": code, "detail": message}).encode()


async def send_error(send: Send, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
    body = error_body(code, message)
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class Gate:
    """Admission slots for the heavy paths. Only touched from the event loop (one thread),
    so a plain counter is enough."""

    def __init__(self, slots: int):
        self.slots = slots
        self.in_use = 0


class Guard:
    """``limits``: body limit in bytes per path (``default_limit`` for the others);
    ``heavy_paths`` each take a slot of ``gate`` while they run."""

    def __init__(self, app, *, limits: dict[str, int], default_limit: int, heavy_paths: set[str], gate: Gate):
        self.app = app
        self.limits = limits
        self.default_limit = default_limit
        self.heavy_paths = heavy_paths
        self.gate = gate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        heavy = scope["path"] in self.heavy_paths
        limit = self.limits.get(scope["path"], self.default_limit)
        length = _content_length(scope)
        if length is not None and length > limit:
            await send_error(send, 413, "too_large",
                             f"request body is {length / 2**20:.1f} MB, over the limit of {limit / 2**20:.1f} MB",
                             {"connection": "close"})
            return
        if heavy:
            if self.gate.in_use >= self.gate.slots:
                await send_error(send, 503, "busy", f"server busy: {self.gate.in_use} photos are being processed "
                                 "or queued; try again in a few seconds", {"retry-after": "2"})
                return
            self.gate.in_use += 1
        started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, _counting(receive, limit), send_wrapper)
        except BodyTooLarge as exc:  # not handled inside the app (e.g. a route without a handler)
            if not started:
                await send_error(send, 413, "too_large", exc.detail, {"connection": "close"})
        finally:
            if heavy:
                self.gate.in_use -= 1


def _content_length(scope: Scope) -> int | None:
    for k, v in scope.get("headers") or []:
        if k == b"content-length":
            try:
                return int(v)
            except ValueError:
                return None
    return None


def _counting(receive: Receive, limit: int) -> Receive:
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge(limit)
        return message

    return wrapped


LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]"})


def host_name(header: str) -> str:
    """The host part of a ``Host`` header, lower case, without the port (IPv6 kept in brackets)."""
    header = header.strip().lower()
    if header.startswith("["):
        end = header.find("]")
        return header[: end + 1] if end > 0 else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class HostCheck:
    """Answer 400 to HTTP requests whose ``Host`` header is not one of ``allowed``."""

    def __init__(self, app, *, allowed: frozenset[str] | set[str]):
        self.app = app
        self.allowed = frozenset(h.lower() for h in allowed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            raw = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
            if host_name(raw) not in self.allowed:
                await send_error(send, 400, "bad_host", f"Host header {raw!r} is not allowed; this server answers "
                                 f"to {', '.join(sorted(self.allowed))}")
                return
        await self.app(scope, receive, send)


CSP = ("default-src 'self'; img-src 'self' blob: data:; object-src 'none'; base-uri 'none'; "
       "frame-ancestors 'none'; form-action 'self'")
SECURITY_HEADERS = [(b"content-security-policy", CSP.encode()), (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"), (b"referrer-policy", b"no-referrer"),
                    (b"cross-origin-resource-policy", b"same-origin")]


class SecurityHeaders:
    """Add `SECURITY_HEADERS` to every HTTP response (replacing any of the same name)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        names = {k for k, _ in SECURITY_HEADERS}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message = {**message, "headers": headers + SECURITY_HEADERS}
            await send(message)

        await self.app(scope, receive, send_wrapper)


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def origin_host(origin: str) -> str | None:
    """``host[:port]`` of an ``Origin`` header (lower case); None for ``null`` or junk."""
    origin = origin.strip().lower()
    scheme, sep, rest = origin.partition("://")
    if not sep or scheme not in ("http", "https") or not rest or "/" in rest:
        return None
    return rest


class OriginCheck:
    """Answer 403 to a state-changing request sent by a page of another origin: its
    ``Origin`` header names another host:port than the ``Host`` header (or is ``null``), or
    ``Sec-Fetch-Site`` is ``cross-site``/``same-site``. Requests without these headers
    (curl, scripts, the bench) pass: they are not a browser acting for another site."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in SAFE_METHODS:
            headers = {k: v.decode("latin-1") for k, v in scope.get("headers") or []}
            origin, host = headers.get(b"origin"), headers.get(b"host", "").strip().lower()
            fetch_site = headers.get(b"sec-fetch-site", "").strip().lower()
            why = None
            if origin is not None and origin_host(origin) != host:
                why = f"Origin {origin[:100]!r} is not this server ({host[:100]!r})"
            elif fetch_site in ("cross-site", "same-site"):
                why = f"Sec-Fetch-Site is {fetch_site!r}"
            if why:
                await send_error(send, 403, "cross_origin", f"request from another site refused: {why}; use the page "
                                 "this server serves")
                return
        await self.app(scope, receive, send)
