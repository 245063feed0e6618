"""The BFF's HTTP/1.1 server: a strict request parser (llhttp) and a bound on every wait.

gunicorn runs the worker (:class:`Worker`, its gevent worker with one greenlet per connection);
this module owns what happens on a connection. Request heads and bodies are parsed by llhttp
(through ``httptools``, the parser uvicorn uses, in its strict default mode), so framing is decided
by the same rules as Node.js and the load balancer in front: every ambiguity a request could be
smuggled through (bare CR or LF, obs-fold, a header line without a colon, whitespace before the
colon, Content-Length with Transfer-Encoding, repeated or non-decimal lengths, malformed chunks)
is answered with a problem+json error and the connection closes. What llhttp accepts but
RFC 9112 forbids here is refused on top (a missing or repeated ``Host``, a ``Transfer-Encoding``
other than ``chunked``, an HTTP/1.0 request with ``Transfer-Encoding``, versions other than 1.0
and 1.1). docs/proxy.md lists every rule and every timeout.

Timeouts (nginx's model, each a setting in :class:`bff.settings.EdgeSettings`): the request
head must be complete within ``header_timeout`` of its first byte (of the connection, for the
first request); a body read may wait ``body_timeout`` at most; an idle keep-alive connection is
closed after ``keepalive_timeout``; a write to a client that does not read fails after
``send_timeout`` and the connection is cut.
"""

from __future__ import annotations

import logging
import os
import re
import resource
import socket
import sys
import time
from collections import deque
from collections.abc import Callable
from email.utils import formatdate
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import unquote_to_bytes

import httptools
from gunicorn import util
from gunicorn.workers.ggevent import GeventWorker
from werkzeug.exceptions import ClientDisconnected

from ..problems import PROBLEM_CONTENT_TYPE, problem_body, reason
from ..settings import EdgeSettings, load_settings
from .headers import new_id

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

log = logging.getLogger("bff.server")

READ_SIZE = 65_536
# A body left unread by the app is drained (so the connection can be reused) only up to this.
DRAIN_LIMIT = 65_536
LINGER_SECONDS = 2.0

_TOKEN = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# RFC 9110 7.2 / RFC 3986 3.2.2: uri-host [ ":" port ]; reg-name, IPv4 or an IP literal.
_HOST = re.compile(rb"(?:\[[0-9A-Fa-f:.vV]+\]|[A-Za-z0-9._~!$&'()*+,;=%-]*)(?::[0-9]*)?")
_VERSION = re.compile(r"HTTP/\d\.\d")


class BodyReadError(ClientDisconnected):
    """The request body could not be read: the client stopped sending, closed early, or broke
    the chunked framing. A 400 for the client's fault; the connection is closed after it."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class _Reject(Exception):
    """A request the server refuses before the app sees it."""

    def __init__(self, status: int, detail: str, *, quiet: bool = False) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.quiet = quiet  # nothing was received: close without an answer


class _Message:
    """One request as llhttp parses it; its body arrives in pieces."""

    __slots__ = (
        "url",
        "headers",
        "head_done",
        "body",
        "body_bytes",
        "complete",
        "method",
        "version",
        "keep_alive",
        "upgrade",
        "expect_continue",
        "body_started",
    )

    def __init__(self) -> None:
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.head_done = False
        self.body: deque[bytes] = deque()
        self.body_bytes = 0
        self.complete = False
        self.method = ""
        self.version = ""
        self.keep_alive = False
        self.upgrade = False
        self.expect_continue = False
        self.body_started = 0.0


class _Input:
    """``wsgi.input``: the current request's body, read from the connection on demand."""

    __slots__ = ("_conn", "_msg", "_buffer")

    def __init__(self, conn: _Connection, msg: _Message) -> None:
        self._conn = conn
        self._msg = msg
        self._buffer = b""

    def _fill(self) -> bool:
        """Make at least one more piece available; False at the end of the body."""
        msg = self._msg
        while not msg.body:
            if msg.complete:
                return False
            if msg.expect_continue:
                msg.expect_continue = False
                self._conn.send(b"HTTP/1.1 100 Continue\r\n\r\n")
            self._conn.read_body_more(msg)
        return True

    def read(self, size: int | None = -1) -> bytes:
        """``size`` bytes, fewer only at the end of the body (all of the rest when negative)."""
        if size is None or size < 0:
            parts = [self._buffer]
            self._buffer = b""
            while self._fill():
                parts.extend(self._msg.body)
                self._msg.body.clear()
            return b"".join(parts)
        while len(self._buffer) < size and self._fill():
            self._buffer += b"".join(self._msg.body)
            self._msg.body.clear()
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def readline(self, size: int | None = -1) -> bytes:
        """One line (up to ``size`` bytes)."""
        limit = size if size is not None and size >= 0 else sys.maxsize
        while b"\n" not in self._buffer and len(self._buffer) < limit and self._fill():
            self._buffer += b"".join(self._msg.body)
            self._msg.body.clear()
        end = self._buffer.find(b"\n")
        cut = min(limit, end + 1 if end != -1 else len(self._buffer))
        data, self._buffer = self._buffer[:cut], self._buffer[cut:]
        return data

    def readlines(self, hint: int | None = -1) -> list[bytes]:
        """Every remaining line."""
        return list(iter(self.readline, b""))

    def __iter__(self) -> Any:
        return iter(self.readline, b"")


class _Parsed:
    """llhttp callbacks: a queue of messages in the order the client sent them."""

    __slots__ = ("queue", "current", "parser", "limits", "fields")

    def __init__(self, limits: EdgeSettings) -> None:
        self.queue: deque[_Message] = deque()
        self.current: _Message | None = None
        self.limits = limits
        self.fields = 0
        self.parser = httptools.HttpRequestParser(self)

    def on_message_begin(self) -> None:
        msg = _Message()
        self.current = msg
        self.fields = 0
        self.queue.append(msg)

    def on_url(self, url: bytes) -> None:
        msg = self.current
        if msg is not None:
            msg.url += url
            if len(msg.url) > self.limits.max_request_line:
                raise _Reject(414, f"request target longer than {self.limits.max_request_line}")

    def on_header(self, name: bytes, value: bytes) -> None:
        msg = self.current
        if msg is None:
            return
        if msg.head_done:
            return  # trailer fields: not forwarded (hop-by-hop by agreement)
        self.fields += 1
        if self.fields > self.limits.max_header_fields:
            raise _Reject(431, f"more than {self.limits.max_header_fields} header fields")
        if len(name) + len(value) + 2 > self.limits.max_header_line:
            raise _Reject(
                431,
                f"header field {name[:64].decode('latin-1')!r} exceeds "
                f"{self.limits.max_header_line} bytes",
            )
        msg.headers.append((name, value))

    def on_headers_complete(self) -> None:
        msg = self.current
        if msg is None:
            return
        parser = self.parser
        msg.head_done = True
        msg.method = parser.get_method().decode("latin-1")
        msg.version = parser.get_http_version()
        msg.keep_alive = parser.should_keep_alive()
        msg.upgrade = parser.should_upgrade()

    def on_body(self, body: bytes) -> None:
        msg = self.current
        if msg is not None:
            msg.body.append(body)
            msg.body_bytes += len(body)

    def on_message_complete(self) -> None:
        msg = self.current
        if msg is not None:
            msg.complete = True


def _parse_error_status(exc: Exception, data: bytes) -> tuple[int, str]:
    """The status and detail for an llhttp error."""
    message = str(exc) or type(exc).__name__
    if isinstance(exc, httptools.HttpParserInvalidMethodError):
        method = data.lstrip(b"\r\n").split(b" ", 1)[0]
        if _TOKEN.fullmatch(method) and len(method) <= 32:
            return 501, f"method {method.decode('latin-1')!r} is not implemented"
        return 400, "invalid method"
    if "HTTP version" in message or "PRI" in message:
        return 505, "only HTTP/1.0 and HTTP/1.1 are supported"
    if "Transfer-Encoding" in message and "Content-Length" not in message:
        return 400, f"{message} (only 'chunked' is accepted)"
    return 400, message


def _check_head(msg: _Message) -> tuple[int, str] | None:
    """The RFC 9112 rules llhttp leaves to the server; None when the head is acceptable."""
    version = msg.version
    if version not in ("1.1", "1.0"):
        if version == "0.9" or not _VERSION.fullmatch(f"HTTP/{version}"):
            return 400, "malformed request line"
        return 505, "only HTTP/1.0 and HTTP/1.1 are supported"
    hosts = 0
    te: bytes | None = None
    for name, value in msg.headers:
        lower = name.lower()
        if lower == b"host":
            hosts += 1
            if not _HOST.fullmatch(value):
                return 400, "invalid Host header"
        elif lower == b"transfer-encoding":
            te = value
    if hosts > 1:
        return 400, "more than one Host header"
    if hosts == 0 and version == "1.1":
        return 400, "HTTP/1.1 request without a Host header"
    if te is not None:
        if version == "1.0":
            return 400, "Transfer-Encoding in an HTTP/1.0 request"
        codings = [c.strip() for c in te.lower().split(b",")]
        if codings[-1] != b"chunked":
            return 400, "chunked is not the final transfer coding"
        if len(codings) > 1:
            return 501, f"unsupported Transfer-Encoding {te[:64].decode('latin-1')!r}"
    if msg.method == "CONNECT":
        return 501, "CONNECT is not supported"
    return None


class _Date:
    """The Date header value, formatted once per second."""

    second = 0
    value = b""

    @classmethod
    def now(cls) -> bytes:
        now = int(time.time())
        if now != cls.second:
            cls.second = now
            cls.value = formatdate(now, usegmt=True).encode("ascii")
        return cls.value


def problem_bytes(
    status: int, detail: str, title: str | None = None, *, head_only: bool = False
) -> bytes:
    """A complete HTTP/1.1 problem+json response that closes the connection."""
    request_id = new_id()
    phrase = title or reason(status) or "Error"
    slug = phrase.lower().replace(" ", "-")
    body = problem_body(status, slug, detail, request_id=request_id, title=phrase)
    head = (
        f"HTTP/1.1 {status} {phrase}\r\n"
        "Connection: close\r\n"
        f"Content-Type: {PROBLEM_CONTENT_TYPE}\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Cache-Control: no-store\r\n"
        f"X-Request-ID: {request_id}\r\n"
        "\r\n"
    )
    return head.encode("latin-1") + (b"" if head_only else body)


class _ClientGone(Exception):
    """The client closed, reset or stalled the connection: stop serving it."""


_NO_BODY_STATUS = frozenset({b"204", b"304"})


class _Response:
    """The answer to one request: WSGI's ``start_response`` and ``write``, and its framing
    (Content-Length when known, chunked for HTTP/1.1 keep-alive, else delimited by close)."""

    __slots__ = ("conn", "msg", "head_only", "status", "headers", "sent", "keep", "chunked")

    def __init__(self, conn: _Connection, msg: _Message) -> None:
        self.conn = conn
        self.msg = msg
        self.head_only = msg.method == "HEAD"
        self.status: str | None = None
        self.headers: list[tuple[str, str]] = []
        self.sent = False
        self.keep = msg.keep_alive and msg.version == "1.1" and not msg.upgrade
        self.chunked = False

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], None]:
        """WSGI's ``start_response``."""
        if exc_info is not None and self.sent:
            raise exc_info[1].with_traceback(exc_info[2])
        self.status = status
        self.headers = headers
        return self.write

    def head(self, body_length: int | None) -> bytes:
        """The response head; ``body_length`` when the whole body is known."""
        status = self.status
        if status is None:
            raise AssertionError("the app wrote before start_response()")
        lines = [f"HTTP/1.1 {status}\r\n"]
        length_known = False
        for name, value in self.headers:
            lower = name.lower()
            if lower == "content-length":
                length_known = True
            elif lower == "connection":
                if "close" in value.lower():
                    self.keep = False
                continue
            elif lower == "transfer-encoding":
                continue
            lines.append(f"{name}: {value}\r\n")
        if not self.msg.complete or _Connection.draining:
            self.keep = False  # an unread or broken body cannot be skipped safely
        bodyless = status[:3].encode("latin-1") in _NO_BODY_STATUS or self.head_only
        if not length_known and not bodyless:
            if body_length is not None:
                lines.append(f"Content-Length: {body_length}\r\n")
            elif self.keep:
                self.chunked = True
                lines.append("Transfer-Encoding: chunked\r\n")
            else:
                self.keep = False  # the body ends when the connection closes
        if not self.keep:
            lines.append("Connection: close\r\n")
        lines.append("Date: ")
        head = "".join(lines).encode("latin-1") + _Date.now() + b"\r\n\r\n"
        if head.count(b"\n") != head.count(b"\r\n") or b"\0" in head:
            raise ValueError("response header with CR, LF or NUL")
        return head

    def _frame(self, data: bytes) -> bytes:
        return b"%x\r\n%b\r\n" % (len(data), data) if self.chunked else data

    def write(self, data: bytes) -> None:
        """WSGI's ``write``, and each piece of an iterated body."""
        if not self.sent:
            head = self.head(None)
            self.sent = True
            self.conn.send(head + self._frame(data) if data and not self.head_only else head)
        elif data and not self.head_only:
            self.conn.send(self._frame(data))

    def send_all(self, result: Any) -> None:
        """Send the app's result: a list at once (with its length), an iterable as it comes."""
        if isinstance(result, list | tuple) and not self.sent:
            body = b"".join(result)
            head = self.head(len(body))
            self.sent = True
            self.conn.send(head if self.head_only else head + body)
            return
        for data in result:
            if data:
                self.write(data)
        if not self.sent:
            head = self.head(0)
            self.sent = True
            self.conn.send(head)
        elif self.chunked and not self.head_only:
            self.conn.send(b"0\r\n\r\n")


class _Connection:
    """One client connection: requests are read, checked, served and answered in order."""

    __slots__ = (
        "sock",
        "addr",
        "app",
        "edge",
        "base",
        "parsed",
        "parse_error",
        "eof",
        "served",
    )

    # connections waiting for their next request (closed at once when the worker drains)
    waiting: ClassVar[set[socket.socket]] = set()
    draining: ClassVar[bool] = False

    def __init__(
        self,
        sock: socket.socket,
        addr: Any,
        app: WSGIApplication,
        edge: EdgeSettings,
        base: dict[str, Any],
    ) -> None:
        self.sock = sock
        self.addr = addr
        self.app = app
        self.edge = edge
        self.base = base
        self.parsed = _Parsed(edge)
        self.parse_error: tuple[int, str] | None = None
        self.eof = False
        self.served = 0

    # --- reading -----------------------------------------------------------------------------

    def _feed(self, data: bytes) -> tuple[int, str] | None:
        """Parse ``data``; the parse error so far, if any (the connection ends at it)."""
        try:
            self.parsed.parser.feed_data(data)
        except _Reject as exc:
            self.parse_error = (exc.status, exc.detail)
        except httptools.HttpParserUpgrade:
            msg = self.parsed.current
            if msg is not None:
                msg.upgrade = True
                if any(
                    n.lower() in (b"content-length", b"transfer-encoding") for n, _ in msg.headers
                ):
                    self.parse_error = (400, "protocol upgrade with a request body")
                elif msg.method == "CONNECT":
                    self.parse_error = (501, "CONNECT is not supported")
                if self.parse_error is not None and self.parsed.queue[-1] is msg:
                    self.parsed.queue.pop()  # refused: never served
            # llhttp stops at an upgrade: nothing after it is parsed, so the connection ends here
            self.eof = True
        except httptools.HttpParserError as exc:
            cause = exc.__cause__ or exc.__context__
            if isinstance(cause, _Reject):
                self.parse_error = (cause.status, cause.detail)
            else:
                self.parse_error = _parse_error_status(exc, data)
        return self.parse_error

    def _recv(self, timeout: float) -> bytes:
        self.sock.settimeout(max(timeout, 0.001))
        try:
            return self.sock.recv(READ_SIZE)
        except TimeoutError:
            raise
        except OSError as exc:
            raise _ClientGone(str(exc)) from exc

    def next_message(self) -> _Message | None:
        """The next complete request head, or None when the connection should end quietly."""
        parsed = self.parsed
        edge = self.edge
        # a new connection, or a next request already begun (pipelined), is held to the head
        # deadline at once; an idle keep-alive connection first waits keepalive_timeout
        begun = self.served == 0 or bool(parsed.queue)
        deadline: float | None = time.monotonic() + edge.header_timeout if begun else None
        head_bytes = 0
        while True:
            if parsed.queue:
                msg = parsed.queue[0]
                if msg.head_done:
                    if self.parse_error is not None and not msg.complete:
                        # its own framing is broken: never served, even in part
                        raise _Reject(*self.parse_error)
                    return msg
            if self.parse_error is not None:
                status, detail = self.parse_error
                raise _Reject(status, detail)
            if self.eof:
                if head_bytes or (parsed.queue and not parsed.queue[0].head_done):
                    raise _Reject(400, "connection closed inside the request head")
                return None
            if _Connection.draining and not head_bytes and not parsed.queue:
                return None
            waiting_idle = deadline is None
            timeout = edge.keepalive_timeout if waiting_idle else deadline - time.monotonic()  # type: ignore[operator]
            if timeout <= 0:
                raise _Reject(
                    408,
                    "the request head was not received in time",
                    quiet=not head_bytes and not parsed.queue,
                )
            if waiting_idle:
                _Connection.waiting.add(self.sock)
            try:
                data = self._recv(timeout)
            except TimeoutError:
                if waiting_idle:
                    return None  # keep-alive idle timeout: close quietly
                raise _Reject(
                    408,
                    "the request head was not received in time",
                    quiet=not head_bytes and not parsed.queue,
                ) from None
            finally:
                if waiting_idle:
                    _Connection.waiting.discard(self.sock)
            if not data:
                self.eof = True
                continue
            if deadline is None:
                deadline = time.monotonic() + edge.header_timeout
            head_bytes += len(data)
            if head_bytes > edge.max_head_bytes and not (
                parsed.queue and parsed.queue[0].head_done
            ):
                raise _Reject(431, f"request head larger than {edge.max_head_bytes} bytes")
            self._feed(data)

    def read_body_more(self, msg: _Message) -> None:
        """Receive and parse more of ``msg``'s body (raises :class:`BodyReadError`)."""
        if self.parse_error is not None:
            raise BodyReadError(f"malformed request body: {self.parse_error[1]}")
        if self.eof:
            raise BodyReadError("the client closed the connection before the body was complete")
        edge = self.edge
        wait = edge.body_timeout
        if edge.body_min_rate:
            # a slow-POST client (one byte every few seconds) must still average the minimum
            # rate once body_timeout has passed (Apache's mod_reqtimeout MinRate)
            allowed = msg.body_started + edge.body_timeout + msg.body_bytes / edge.body_min_rate
            wait = min(wait, allowed - time.monotonic())
            if wait <= 0:
                raise BodyReadError(f"request body slower than {edge.body_min_rate} bytes/s")
        try:
            data = self._recv(wait)
        except TimeoutError:
            if wait < edge.body_timeout:
                raise BodyReadError(
                    f"request body slower than {edge.body_min_rate} bytes/s"
                ) from None
            raise BodyReadError(f"no request body data for {edge.body_timeout:g} s") from None
        except _ClientGone as exc:
            self.eof = True
            raise BodyReadError(f"connection lost while reading the body: {exc}") from None
        if not data:
            self.eof = True
            raise BodyReadError("the client closed the connection before the body was complete")
        error = self._feed(data)
        if error is not None and not msg.body and not msg.complete:
            raise BodyReadError(f"malformed request body: {error[1]}")

    # --- writing -----------------------------------------------------------------------------

    def send(self, data: bytes) -> None:
        """Write to the client within ``send_timeout`` (else the connection is cut)."""
        self.sock.settimeout(self.edge.send_timeout)
        try:
            self.sock.sendall(data)
        except TimeoutError as exc:
            raise _ClientGone(f"client did not read for {self.edge.send_timeout:g} s") from exc
        except OSError as exc:
            raise _ClientGone(str(exc)) from exc

    def reject(self, exc: _Reject, head_only: bool = False) -> None:
        """Answer a refused request (unless nothing arrived), then close."""
        if not exc.quiet:
            client = self.addr[0] if isinstance(self.addr, tuple) else ""
            log.warning(
                "rejected malformed request from %s: %s",
                client,
                exc.detail[:300],
                extra={
                    "data": {"client_ip": client, "status": exc.status, "reason": exc.detail[:300]}
                },
            )
            try:
                self.send(problem_bytes(exc.status, exc.detail, head_only=head_only))
            except _ClientGone:
                return

    # --- the request loop --------------------------------------------------------------------

    def serve(self) -> None:
        """Serve requests until the client, a timeout, an error or shutdown ends the connection."""
        import gevent

        try:
            while True:
                gevent.sleep(0)  # let the worker's other connections run between requests
                try:
                    msg = self.next_message()
                except _Reject as exc:
                    self.reject(exc)
                    return
                except _ClientGone:
                    return
                if msg is None:
                    return
                problem = _check_head(msg)
                if problem is not None:
                    self.reject(_Reject(*problem), head_only=msg.method == "HEAD")
                    return
                if not self.run(msg):
                    return
                self.parsed.queue.popleft()
                self.served += 1
                if _Connection.draining:
                    return
        finally:
            self.close()

    def environ(self, msg: _Message) -> dict[str, Any]:
        """The WSGI environ for ``msg``."""
        env = self.base.copy()
        url = msg.url
        if url[:1] != b"/":
            if b"://" in url:  # absolute-form: the host in it is never used (RFC 9112 3.2.2)
                rest = url.split(b"://", 1)[1]
                cut = min((i for i in (rest.find(b"/"), rest.find(b"?")) if i != -1), default=-1)
                url = (
                    b"/"
                    if cut == -1
                    else (rest[cut:] if rest[cut : cut + 1] == b"/" else b"/" + rest[cut:])
                )
        hash_at = url.find(b"#")
        if hash_at != -1:
            url = url[:hash_at]
        path, _, query = url.partition(b"?")
        env["REQUEST_METHOD"] = msg.method
        env["RAW_URI"] = env["REQUEST_URI"] = url.decode("latin-1")
        env["PATH_INFO"] = (unquote_to_bytes(path) if b"%" in path else path).decode("latin-1")
        env["QUERY_STRING"] = query.decode("latin-1")
        env["SERVER_PROTOCOL"] = f"HTTP/{msg.version}"
        env["REMOTE_ADDR"] = self.addr[0] if isinstance(self.addr, tuple) else ""
        env["REMOTE_PORT"] = str(self.addr[1]) if isinstance(self.addr, tuple) else ""
        for raw_name, raw_value in msg.headers:
            if b"_" in raw_name:
                continue  # ambiguous with '-' once in the environ (nginx's default drops them)
            name = raw_name.decode("latin-1").upper().replace("-", "_")
            value = raw_value.decode("latin-1")
            if name == "CONTENT_TYPE" or name == "CONTENT_LENGTH":
                key = name
            else:
                key = "HTTP_" + name
            if key in env:
                sep = "; " if key == "HTTP_COOKIE" else ","
                env[key] = env[key] + sep + value
            else:
                env[key] = value
        env["wsgi.input"] = _Input(self, msg)
        return env

    def run(self, msg: _Message) -> bool:
        """Run the app for ``msg`` and write its answer; True if the connection may go on."""
        env = self.environ(msg)
        msg.body_started = time.monotonic()
        expect = env.get("HTTP_EXPECT")
        if expect is not None:
            if expect.lower() != "100-continue":
                self.reject(
                    _Reject(417, f"unsupported Expect {expect[:64]!r}"),
                    head_only=msg.method == "HEAD",
                )
                return False
            msg.expect_continue = msg.version == "1.1" and not msg.complete
        response = _Response(self, msg)
        try:
            result = self.app(env, response.start_response)
            try:
                response.send_all(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        except _ClientGone:
            return False
        except Exception as exc:  # noqa: BLE001 - the last line of defence for one request
            return self._app_failed(exc, response.sent, response.head_only)
        if not response.keep:
            return False
        return self._finish_body(msg)

    def _app_failed(self, exc: Exception, sent: bool, head_only: bool) -> bool:
        from .app import UpstreamAborted  # imported late: the worker loads before the app

        if isinstance(exc, UpstreamAborted):
            return False  # logged by the proxy; the client sees the connection cut
        if isinstance(exc, BodyReadError):
            if not sent:
                self.reject(_Reject(400, exc.detail), head_only=head_only)
            return False
        log.error("unhandled error while serving a request", exc_info=exc)
        if not sent:
            try:
                self.send(
                    problem_bytes(
                        500, "the server failed to handle this request", head_only=head_only
                    )
                )
            except _ClientGone:
                pass
        return False

    def _finish_body(self, msg: _Message) -> bool:
        """Skip what is left of a small unread body, so the next request can be read."""
        drained = 0
        while not msg.complete:
            if msg.body:
                drained += sum(len(piece) for piece in msg.body)
                msg.body.clear()
            if drained > DRAIN_LIMIT:
                return False
            try:
                self.read_body_more(msg)
            except BodyReadError:
                return False
        msg.body.clear()
        return True

    def close(self) -> None:
        """Close the connection; unread input is drained briefly so the answer is not lost to a
        reset (a lingering close)."""
        sock = self.sock
        try:
            sock.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + LINGER_SECONDS
            budget = 1_048_576
            while budget > 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                sock.settimeout(remaining)
                data = sock.recv(READ_SIZE)
                if not data:
                    break
                budget -= len(data)
        except OSError:
            pass
        finally:
            try:
                sock.close()
            except OSError:
                pass


def close_idle() -> None:
    """Stop reading new requests; close every connection waiting for its next request."""
    _Connection.draining = True
    for sock in list(_Connection.waiting):
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def serve_connection(
    sock: socket.socket,
    addr: Any,
    app: WSGIApplication,
    edge: EdgeSettings,
    base: dict[str, Any],
) -> None:
    """Serve one accepted connection to the end."""
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    _Connection(sock, addr, app, edge, base).serve()


def base_environ(server_name: str, server_port: str) -> dict[str, Any]:
    """The WSGI environ keys that are the same for every request of a worker."""
    return {
        "SCRIPT_NAME": "",
        "SERVER_NAME": server_name,
        "SERVER_PORT": server_port,
        "SERVER_SOFTWARE": "bff",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.input_terminated": True,
    }


class Worker(GeventWorker):  # type: ignore[misc]
    """gunicorn's gevent worker serving connections with :func:`serve_connection`."""

    server_class = None

    def init_process(self) -> None:
        """Load the edge settings and lift the open-file limit before serving."""
        self.edge = load_settings(os.environ).edge
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft != resource.RLIM_INFINITY and (hard == resource.RLIM_INFINITY or soft < hard):
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            except (ValueError, OSError):
                pass
        self._bases: dict[Any, dict[str, Any]] = {}
        super().init_process()

    def handle(self, listener: socket.socket, client: socket.socket, addr: Any) -> None:
        """Serve one connection (gunicorn's per-connection entry point)."""
        base = self._bases.get(listener)
        if base is None:
            name = listener.getsockname()
            host, port = (name[0], str(name[1])) if isinstance(name, tuple) else (str(name), "")
            base = self._bases[listener] = base_environ(host, port)
        try:
            serve_connection(client, addr, self.wsgi, self.edge, base)
        except Exception:  # noqa: BLE001 - one connection must never take the worker down
            log.exception("connection handler failed")

    def notify(self) -> None:
        """Heartbeat; once shutdown has begun, also close idle keep-alive connections."""
        super().notify()
        if not self.alive:
            close_idle()


def write_problem_error(sock: socket.socket, status_int: int, reason_: str, mesg: str) -> None:
    """Drop-in for ``gunicorn.util.write_error`` (used by gunicorn's other worker classes)."""
    util.write_nonblock(sock, problem_bytes(status_int, mesg or reason_, reason_))


def install_problem_errors() -> None:
    """Make gunicorn's own error pages (sync/gthread/gevent workers) problem+json too."""
    util.write_error = write_problem_error


def exit_worker(worker: Any) -> None:
    """Close pooled upstream connections when a worker exits."""
    app = getattr(worker, "wsgi", None)
    clients = getattr(app, "extensions", {}).get("bff.clients") if app is not None else None
    if clients is not None:
        clients.close()


__all__ = [
    "BodyReadError",
    "Worker",
    "close_idle",
    "exit_worker",
    "install_problem_errors",
    "problem_bytes",
    "serve_connection",
    "write_problem_error",
]
