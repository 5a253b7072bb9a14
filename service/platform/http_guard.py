"""What every request and response passes through before any route: bounded input, safe headers.

- A body larger than ``MAX_BODY_BYTES`` is refused (413) before any route reads it; nothing this service
  takes (a referral, a return, a report's details) comes near it.
- JSON nested deeper than ``MAX_JSON_DEPTH`` is refused (422): Python's parser would otherwise recurse
  until it fails with a 500.
- An address (path or query) carrying a control character is refused (400): such a value would reach the
  database (PostgreSQL refuses NUL in text) or a log line.
- Text in a JSON or form body carrying an invisible character (zero-width characters, the byte order mark, the
  soft hyphen, tag characters, line and paragraph separators: Unicode's format and separator categories) is
  refused (422, naming the field): such text reads differently from what it holds (two pseudonyms that look
  alike, a hidden message). Checked here, at the edge, not in the workflows' models, so a running case whose
  history already holds such a character still replays. Passwords are exempt (never shown, checked on their own).
- A body trickled in tiny pieces is gathered in place (linear time), and headers must be complete within
  ``API_HEADER_TIMEOUT`` seconds of a connection opening or of its previous answer (``HeaderDeadline``, the
  server's protocol: uvicorn's own settings bound the size of the headers and the keep-alive wait, not the time
  they take). A slow body is bounded in size, not time: that is the TLS proxy's job in front of the service.
- Every response says: no caching (pages and answers hold case data), no framing, no sniffing, no referrer,
  a content security policy that allows no script at all (the pages need none), and HSTS in production.
"""

from __future__ import annotations

import asyncio
import json
import unicodedata
from collections.abc import Iterator
from urllib.parse import parse_qsl, unquote_to_bytes

from uvicorn.protocols.http.h11_impl import H11Protocol

MAX_BODY_BYTES = 1_000_000
MAX_JSON_DEPTH = 32
CONTROL_BYTES = frozenset(range(32)) | {127}
# The interactive API docs load their script and styles from a CDN; they hold no case data.
DOCS_PATHS = ("/docs", "/redoc")
PAGE_POLICY = ("default-src 'self'; script-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    (b"cache-control", b"no-store"),
]


def printable_text(text: str) -> bool:
    """No control (Cc) or format (Cf: bidirectional overrides, zero-width) characters."""
    return not any(unicodedata.category(character) in ("Cc", "Cf") for character in text)


INVISIBLE_CATEGORIES = ("Cf", "Zl", "Zp")


def invisible_character(text: str) -> str | None:
    """The first character of ``text`` a reader cannot see (format or line/paragraph separator), or None."""
    return next((c for c in text if unicodedata.category(c) in INVISIBLE_CATEGORIES), None)


def _texts(value, path: str) -> Iterator[tuple[str, str]]:
    """Every (field path, text) in a parsed JSON value, keys included."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _texts(item, f"{path}.{index}" if path else str(index))
    elif isinstance(value, dict):
        for key, item in value.items():
            name = f"{path}.{key}" if path else str(key)
            yield name, str(key)
            yield from _texts(item, name)


def invisible_text_problem(content_type: bytes, body: bytes) -> str | None:
    """Why a JSON or form body cannot be taken (the field and the character), or None."""
    kind = content_type.split(b";")[0].strip().lower()
    try:
        if kind == b"application/json":
            texts = _texts(json.loads(body), "")
        elif kind == b"application/x-www-form-urlencoded":
            texts = iter(parse_qsl(body.decode(), keep_blank_values=True))
        else:
            return None
        for field, text in texts:
            found = None if "password" in field.lower() else invisible_character(text)
            if found is not None:
                name = unicodedata.name(found, "unnamed").lower()
                return (f"The request is not valid: {field}: contains the invisible character U+{ord(found):04X} "
                        f"({name}), which is not allowed in text")
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None  # not valid JSON or form data: the route answers that itself
    return None


def json_depth_exceeds(body: bytes, limit: int) -> bool:
    """True if brackets nest deeper than ``limit`` (strings skipped): a linear scan, no parsing."""
    depth, in_string, escaped = 0, False, False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > limit:
                return True
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return False


class HttpGuard:
    """Pure ASGI middleware (it buffers the bounded body once, so routes read it as usual)."""

    def __init__(self, app, *, production: bool) -> None:
        self.app, self.production = app, production

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope.get("raw_path") or scope["path"].encode()
        address = unquote_to_bytes(path) + unquote_to_bytes(scope.get("query_string", b""))
        if CONTROL_BYTES & set(address) or not printable_text(address.decode("utf-8", "replace")):
            return await self._refuse(send, 400, "The address contains a control character")
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > MAX_BODY_BYTES:
            return await self._refuse(send, 413, f"The request body is larger than {MAX_BODY_BYTES:,} bytes")
        received, more = bytearray(), True
        while more:  # appended in place: a body trickled in tiny pieces costs linear time, not quadratic
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            received += message.get("body", b"")
            more = message.get("more_body", False)
            if len(received) > MAX_BODY_BYTES:
                return await self._refuse(send, 413, f"The request body is larger than {MAX_BODY_BYTES:,} bytes")
        body = bytes(received)
        if json_depth_exceeds(body, MAX_JSON_DEPTH):  # whatever the content type says: routes parse what comes
            return await self._refuse(send, 422, f"The JSON body is nested deeper than {MAX_JSON_DEPTH} levels")
        if body and (problem := invisible_text_problem(headers.get(b"content-type", b""), body)):
            return await self._refuse(send, 422, problem)

        delivered = False

        async def replay():
            nonlocal delivered
            if delivered:
                return await receive()
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    (name, value) for name, value in self._headers(scope["path"]) if name not in present]
            await send(message)

        return await self.app(scope, replay, send_with_headers)

    def _headers(self, path: str) -> list[tuple[bytes, bytes]]:
        headers = list(SECURITY_HEADERS)
        if not path.startswith(DOCS_PATHS):
            headers.append((b"content-security-policy", PAGE_POLICY.encode()))
        if self.production:
            headers.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
        return headers

    async def _refuse(self, send, status: int, detail: str) -> None:
        body = json.dumps({"detail": detail}).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                *self._headers("/")]})
        await send({"type": "http.response.body", "body": body})


class HeaderDeadline(H11Protocol):
    """uvicorn's HTTP/1.1 protocol with a deadline for each request's headers: a connection that has not sent
    a whole request head ``header_timeout`` seconds after it opened, or after its previous answer, is closed."""

    header_timeout = 10.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_timer: asyncio.TimerHandle | None = None
        self._arm_header_deadline()

    def data_received(self, data: bytes) -> None:
        if self._header_timer is None and (self.cycle is None or self.cycle.response_complete):
            self._arm_header_deadline()  # the next request on a kept-alive connection begins
        super().data_received(data)
        if self._header_timer is not None and self.cycle is not self._waiting_after:
            self._header_timer.cancel()  # a whole request head arrived in time
            self._header_timer = None

    def connection_lost(self, exc: Exception | None) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
        super().connection_lost(exc)

    def _arm_header_deadline(self) -> None:
        self._waiting_after = self.cycle
        self._header_timer = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self.cycle is self._waiting_after and not self.transport.is_closing():
            self.transport.close()


def header_deadline(seconds: float) -> type[HeaderDeadline]:
    """The protocol class for uvicorn's ``http`` setting, with this deadline."""
    return type("HeaderDeadline", (HeaderDeadline,), {"header_timeout": seconds})
