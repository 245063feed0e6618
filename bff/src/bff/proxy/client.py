"""The proxy's HTTP/1.1 client exchange: one request head out, one strictly parsed response in.

Why not urllib3's ``urlopen``: it goes through ``http.client`` and the ``email`` header parser,
which measured at several hundred microseconds of CPU per proxied request here, about four times
what the rest of the BFF costs (docs/proxy.md). Responses are parsed by llhttp (``httptools``),
the parser Node.js and uvicorn use, in its strict mode: bare CR or LF, obs-fold, invalid field
names or values, Content-Length with Transfer-Encoding, repeated or non-decimal lengths and broken
chunks all fail the exchange (502). On top of llhttp, the status must be 100-599, the version
1.0 or 1.1 and the reason phrase free of control characters. Every read is bounded by the read
timeout and by the route's deadline, 1xx interim responses included.
"""

from __future__ import annotations

import re
import select
import socket
import time
from collections import deque
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import httptools

if TYPE_CHECKING:
    import ssl

MAX_HEADERS = 200
MAX_HEAD_BYTES = 131_072
MAX_INTERIM = 8
READ_SIZE = 65_536

_REASON = re.compile(rb"[\t\x20-\x7e\x80-\xff]*")
_UNSAFE = re.compile(r"[\x00\r\n]")


class UpstreamError(Exception):
    """An exchange with the upstream failed; ``kind`` says how, ``reused`` if the connection
    came from the pool (a reused connection closed before any answer is safe to retry)."""

    def __init__(self, kind: str, message: str, *, reused: bool = False) -> None:
        super().__init__(message)
        self.kind = kind  # "connect", "connect_timeout", "read_timeout", "protocol", "closed"
        self.reused = reused


class Connection:
    """One keep-alive TCP (or TLS) connection to an upstream."""

    __slots__ = ("sock", "idle_since", "reused")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.idle_since = 0.0
        self.reused = False

    def close(self) -> None:
        """Close the socket; never raises."""
        try:
            self.sock.close()
        except OSError:
            pass

    def is_dropped(self) -> bool:
        """An idle connection that is readable has been closed (or sent garbage) by the peer."""
        try:
            readable, _, _ = select.select([self.sock], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(readable)


def connect(
    scheme: str, host: str, port: int, timeout: float, tls: ssl.SSLContext | None
) -> Connection:
    """Open a connection, mapping failures to :class:`UpstreamError` kinds."""
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except TimeoutError as exc:
        raise UpstreamError("connect_timeout", f"connect timed out: {exc}") from exc
    except OSError as exc:
        raise UpstreamError("connect", f"connect failed: {exc}") from exc
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if scheme == "https":
        import ssl  # only https upstreams need it (and gevent prefers it imported late)

        context = tls or ssl.create_default_context()
        try:
            sock = context.wrap_socket(sock, server_hostname=host)
        except TimeoutError as exc:
            sock.close()
            raise UpstreamError("connect_timeout", f"TLS handshake timed out: {exc}") from exc
        except (OSError, ssl.SSLError) as exc:
            sock.close()
            raise UpstreamError("connect", f"TLS handshake failed: {exc}") from exc
    return Connection(sock)


class HeaderInjection(ValueError):
    """A header name or value would break the request head (CR, LF or NUL)."""


def build_head(method: str, target: str, headers: dict[str, str]) -> bytes:
    """Serialise a request head; refuses CR, LF or NUL anywhere in the target, names or values."""
    lines = [f"{method} {target} HTTP/1.1\r\n"]
    lines.extend(f"{name}: {value}\r\n" for name, value in headers.items())
    lines.append("\r\n")
    head = "".join(lines)
    # each line ends in exactly one CRLF; any other CR, LF or NUL was injected
    if head.count("\n") != len(lines) or head.count("\r") != len(lines) or "\0" in head:
        bad = next(
            (n for n, v in headers.items() if _UNSAFE.search(n) or _UNSAFE.search(v)), "target"
        )
        raise HeaderInjection(f"CR, LF or NUL in {bad[:64]!r}")
    return head.encode("latin-1")


def send_request(
    conn: Connection, head: bytes, body: bytes | Iterable[bytes] | None, chunked: bool
) -> None:
    """Write the head and body; a body iterator may raise to abort (the connection is then
    unusable and must be closed by the caller)."""
    sock = conn.sock
    try:
        if body is None:
            sock.sendall(head)
        elif isinstance(body, bytes):
            sock.sendall(head + body if len(body) <= READ_SIZE else head)
            if len(body) > READ_SIZE:
                sock.sendall(body)
        else:
            sock.sendall(head)
            for piece in body:
                if not piece:
                    continue
                if chunked:
                    sock.sendall(b"%x\r\n%b\r\n" % (len(piece), piece))
                else:
                    sock.sendall(piece)
            if chunked:
                sock.sendall(b"0\r\n\r\n")
    except TimeoutError as exc:
        raise UpstreamError("read_timeout", "timed out sending the request") from exc
    except OSError as exc:
        raise UpstreamError(
            "closed", f"connection lost while sending: {exc}", reused=conn.reused
        ) from exc


class _Parsed:
    """llhttp callbacks for one response (1xx interim responses are counted and skipped)."""

    __slots__ = (
        "parser",
        "head_only",
        "reason",
        "headers",
        "head_done",
        "body",
        "complete",
        "interim",
        "in_interim",
        "keep_alive",
        "extra",
        "status",
    )

    def __init__(self, head_only: bool) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.head_only = head_only
        self.reason = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.head_done = False
        self.body: deque[bytes] = deque()
        self.complete = False
        self.interim = 0
        self.in_interim = False
        self.keep_alive = False
        self.extra = False
        self.status = 0

    def on_message_begin(self) -> None:
        if self.head_done:
            self.extra = True  # bytes after a complete response: the connection is not reusable
            return
        self.reason = b""
        self.headers = []

    def on_status(self, status: bytes) -> None:
        if not self.head_done:
            self.reason += status

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.head_done:
            return  # trailer fields are dropped
        if len(self.headers) >= MAX_HEADERS:
            raise UpstreamError("protocol", "too many response header fields")
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        if self.head_done:
            return
        parser = self.parser
        status = parser.get_status_code()
        if 100 <= status < 200:
            if status == 101:
                raise UpstreamError("protocol", "unexpected protocol switch")
            self.interim += 1
            if self.interim > MAX_INTERIM:
                raise UpstreamError("protocol", f"more than {MAX_INTERIM} interim responses")
            self.in_interim = True
            return
        if not 200 <= status <= 599:
            raise UpstreamError("protocol", f"invalid status code {status}")
        if parser.get_http_version() not in ("1.1", "1.0"):
            raise UpstreamError("protocol", "unsupported HTTP version")
        if not _REASON.fullmatch(self.reason):
            raise UpstreamError("protocol", "control character in the reason phrase")
        self.status = status
        self.head_done = True
        self.keep_alive = parser.should_keep_alive()
        if self.head_only:
            self.complete = True

    def on_body(self, body: bytes) -> None:
        if self.complete:
            self.extra = True
            return
        self.body.append(body)

    def on_message_complete(self) -> None:
        if self.in_interim:
            self.in_interim = False
            return
        if self.complete:
            return
        self.complete = True
        self.keep_alive = self.keep_alive and self.parser.should_keep_alive()


def _feed(parsed: _Parsed, data: bytes) -> None:
    try:
        parsed.parser.feed_data(data)
    except UpstreamError:
        raise
    except httptools.HttpParserUpgrade:
        raise UpstreamError("protocol", "unexpected protocol switch") from None
    except httptools.HttpParserError as exc:
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, UpstreamError):
            raise cause from None
        raise UpstreamError("protocol", f"malformed response: {exc}") from None


def _recv(conn: Connection, timeout: float, deadline: float) -> bytes:
    remaining = min(timeout, deadline - time.monotonic())
    if remaining <= 0:
        raise UpstreamError("read_timeout", "deadline passed while waiting for the upstream")
    conn.sock.settimeout(remaining)
    try:
        return conn.sock.recv(READ_SIZE)
    except TimeoutError as exc:
        raise UpstreamError("read_timeout", "timed out waiting for the upstream") from exc
    except OSError as exc:
        raise UpstreamError("closed", f"connection lost: {exc}", reused=conn.reused) from exc


class Response:
    """A parsed response head plus a reader for its body."""

    __slots__ = ("conn", "status", "reason", "headers", "_parsed", "_timeout", "_deadline")

    def __init__(self, conn: Connection, parsed: _Parsed, timeout: float, deadline: float) -> None:
        self.conn = conn
        self.status = parsed.status
        self.reason = parsed.reason.decode("latin-1")
        self.headers = [(n.decode("latin-1"), v.decode("latin-1")) for n, v in parsed.headers]
        self._parsed = parsed
        self._timeout = timeout
        self._deadline = deadline

    @property
    def complete(self) -> bool:
        """The whole body has been read."""
        return self._parsed.complete

    @property
    def keep_alive(self) -> bool:
        """The connection may carry another request once the body is read."""
        parsed = self._parsed
        return parsed.keep_alive and parsed.complete and not parsed.extra

    def stream(self) -> Iterator[bytes]:
        """The body, as raw pieces (content codings untouched, chunked framing removed)."""
        parsed = self._parsed
        body = parsed.body
        while True:
            while body:
                yield body.popleft()
            if parsed.complete:
                return
            data = _recv(self.conn, self._timeout, self._deadline)
            if not data:
                self._eof()
                return
            _feed(parsed, data)

    def read_to_end(self) -> None:
        """Receive the rest of the body into the response (pieces kept for :meth:`stream`)."""
        parsed = self._parsed
        while not parsed.complete:
            data = _recv(self.conn, self._timeout, self._deadline)
            if not data:
                self._eof()
                return
            _feed(parsed, data)

    def _eof(self) -> None:
        """The upstream closed: the end of a close-delimited body, or a truncated one."""
        parsed = self._parsed
        names = {name.lower() for name, _ in parsed.headers}
        if b"content-length" in names or b"transfer-encoding" in names:
            if b"transfer-encoding" in names and not _chunked(parsed.headers):
                parsed.complete = True  # non-chunked coding: delimited by close (RFC 9112 6.3)
                parsed.keep_alive = False
                return
            raise UpstreamError("protocol", "the upstream closed before the body was complete")
        parsed.complete = True
        parsed.keep_alive = False


def _chunked(headers: list[tuple[bytes, bytes]]) -> bool:
    for name, value in headers:
        if name.lower() == b"transfer-encoding":
            return value.lower().replace(b" ", b"").endswith(b"chunked")
    return False


def read_response(
    conn: Connection, method: str, timeout: float, deadline: float | None = None
) -> Response:
    """Read and strictly parse one response head, each read bounded by ``timeout`` and the
    whole exchange by ``deadline``."""
    if deadline is None:
        deadline = time.monotonic() + timeout
    parsed = _Parsed(method == "HEAD")
    received = 0
    while not parsed.head_done:
        data = _recv(conn, timeout, deadline)
        if not data:
            if received:
                raise UpstreamError("protocol", "the upstream closed inside the response head")
            raise UpstreamError("closed", "connection closed before a response", reused=conn.reused)
        received += len(data)
        _feed(parsed, data)
        if not parsed.head_done and received > MAX_HEAD_BYTES:
            raise UpstreamError("protocol", "response head too large")
    return Response(conn, parsed, timeout, deadline)
