"""The BFF's edge: hostile and malformed HTTP/1.1 over raw sockets to the real server (gunicorn).

Every case is sent byte for byte to a BFF whose only routes point at an in-process *echo
upstream* that records every byte it receives. A malformed request must be answered with a
problem+json error and a closed connection, and nothing of it (nor of a request smuggled behind
it) may ever reach the upstream. Valid but unusual requests must be forwarded with a clean head.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .procs import Service, start_bff

PROBLEM = "application/problem+json"
CRLF = b"\r\n"
#: Makes every marker of this run unique, so no earlier run or other case can match it.
RUN = uuid.uuid4().hex[:8]
#: How long a server may take to close the connection after its final response.
CLOSE_WITHIN = 2.0
#: Once a case has failed, how long to keep listening for a second (smuggled) answer.
FAILED_LISTEN = 0.5
#: How long to wait for a response.
RESPONSE_WITHIN = 6.0
#: The upstream's one and only answer.
ECHO_RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: application/json\r\n\r\n"
HOP_BY_HOP = (b"keep-alive", b"te", b"upgrade", b"proxy-connection")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")


# --- the echo upstream -------------------------------------------------------------------------


@dataclass(frozen=True)
class UpstreamRequest:
    """One request the echo upstream could frame: its head as received, its de-chunked body."""

    head: bytes
    body: bytes
    chunked: bool

    @property
    def fields(self) -> list[tuple[bytes, bytes]]:
        """(lower-case name, stripped value) of every header line."""
        out = []
        for line in self.head.split(CRLF)[1:]:
            if line:
                name, _, value = line.partition(b":")
                out.append((name.strip().lower(), value.strip()))
        return out

    def values(self, name: bytes) -> list[bytes]:
        """Every value of header ``name`` (lower case)."""
        return [v for n, v in self.fields if n == name]


class _Reader:
    """Buffered reads from one upstream-side connection, recording every byte received."""

    def __init__(self, sock: socket.socket, record: bytearray, lock: threading.Lock) -> None:
        self.sock = sock
        self.record = record
        self.lock = lock
        self.buf = bytearray()

    def _more(self) -> bool:
        try:
            data = self.sock.recv(65536)
        except OSError:  # timeout or reset: give up on this connection
            return False
        if not data:
            return False
        with self.lock:
            self.record += data
        self.buf += data
        return True

    def until(self, sep: bytes, limit: int = 1 << 20) -> bytes | None:
        """Bytes up to and including ``sep``, or None on EOF, timeout or overflow."""
        while (i := self.buf.find(sep)) == -1:
            if len(self.buf) > limit or not self._more():
                return None
        out = bytes(self.buf[: i + len(sep)])
        del self.buf[: i + len(sep)]
        return out

    def exact(self, n: int) -> bytes | None:
        """Exactly ``n`` bytes, or None."""
        while len(self.buf) < n:
            if not self._more():
                return None
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out


class EchoUpstream:
    """A raw TCP server that records every byte per connection and answers ``{}`` to each
    request it can frame (Content-Length or chunked); anything else just waits, then closes."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.port: int = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.connections: list[bytearray] = []
        self.requests: list[UpstreamRequest] = []
        self._stopping = threading.Event()
        self._open: set[socket.socket] = set()
        self._thread = threading.Thread(target=self._accept, name="echo-upstream", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            record = bytearray()
            with self.lock:
                self.connections.append(record)
                self._open.add(conn)
            threading.Thread(target=self._serve, args=(conn, record), daemon=True).start()

    def _serve(self, conn: socket.socket, record: bytearray) -> None:
        conn.settimeout(30.0)  # longer than the BFF keeps idle pooled connections
        reader = _Reader(conn, record, self.lock)
        try:
            while (request := self._read_request(reader)) is not None:
                with self.lock:
                    self.requests.append(request)
                is_head = request.head.startswith(b"HEAD ")
                conn.sendall(ECHO_RESPONSE + (b"" if is_head else b"{}"))
        except OSError:
            pass
        finally:
            with self.lock:
                self._open.discard(conn)
            conn.close()

    @staticmethod
    def _read_request(reader: _Reader) -> UpstreamRequest | None:
        head = reader.until(CRLF + CRLF, limit=256 * 1024)
        if head is None:
            return None
        req = UpstreamRequest(head, b"", False)
        te = b",".join(req.values(b"transfer-encoding")).lower()
        lengths = req.values(b"content-length")
        if b"chunked" in te:
            body = bytearray()
            while True:
                line = reader.until(CRLF, limit=4096)
                if line is None:
                    return None
                try:
                    size = int(line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    return None
                if size == 0:
                    while (trailer := reader.until(CRLF, limit=65536)) not in (CRLF, None):
                        pass
                    if trailer is None:
                        return None
                    return UpstreamRequest(head, bytes(body), True)
                data = reader.exact(size + 2)
                if data is None or not data.endswith(CRLF):
                    return None
                body += data[:-2]
        if lengths:
            try:
                length = int(lengths[0])
            except ValueError:
                return None
            body_bytes = reader.exact(length)
            if body_bytes is None:
                return None
            return UpstreamRequest(head, body_bytes, False)
        return req

    def received(self, marker: bytes) -> bool:
        """Whether any upstream connection ever received ``marker``."""
        with self.lock:
            return any(marker in record for record in self.connections)

    def request_with(self, marker: bytes) -> UpstreamRequest | None:
        """The framed request whose head carries ``marker``."""
        with self.lock:
            found = [r for r in self.requests if marker in r.head]
        return found[0] if found else None

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(2)
        self.listener.close()
        with self.lock:
            for conn in list(self._open):
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


# --- raw HTTP/1.1 from the client side -----------------------------------------------------------


@dataclass
class RawResponse:
    """One response as it came off the wire."""

    status: int
    head: bytes
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        values = self.all(name)
        return values[0] if values else None

    def all(self, name: str) -> list[str]:
        return [v for n, v in self.headers if n.lower() == name.lower()]


class RawClient:
    """A client socket with a read buffer; every wait is bounded by a deadline."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=RESPONSE_WITHIN)
        self.buf = bytearray()
        self.eof = False

    def __enter__(self) -> RawClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        """Send; the server may already have closed (it is allowed to stop reading)."""
        try:
            self.sock.sendall(data)
        except OSError:
            pass

    def half_close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def _fill(self, deadline: float) -> bool:
        remaining = deadline - time.monotonic()
        if self.eof or remaining <= 0:
            return False
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            return False
        except OSError:  # reset: the peer closed
            self.eof = True
            return False
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def _line(self, deadline: float) -> bytes | None:
        while (i := self.buf.find(CRLF)) == -1:
            if not self._fill(deadline):
                return None
        line = bytes(self.buf[:i])
        del self.buf[: i + 2]
        return line

    def _exact(self, n: int, deadline: float) -> bytes | None:
        while len(self.buf) < n:
            if not self._fill(deadline):
                return None
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def read_response(
        self, method: str = "GET", within: float = RESPONSE_WITHIN
    ) -> RawResponse | None:
        """One complete response (body framed by Content-Length, chunked, or close), or None
        if the connection closed or the deadline passed first."""
        deadline = time.monotonic() + within
        while (i := self.buf.find(CRLF + CRLF)) == -1:
            if not self._fill(deadline):
                return None
        head = bytes(self.buf[: i + 4])
        del self.buf[: i + 4]
        lines = head[:-4].decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
            raise AssertionError(f"not an HTTP response: {head[:200]!r}")
        status = int(parts[1])
        headers = [
            (n.strip(), v.strip()) for n, _, v in (line.partition(":") for line in lines[1:])
        ]
        resp = RawResponse(status, head, headers, b"")
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            return resp
        if "chunked" in (resp.header("Transfer-Encoding") or "").lower():
            body = bytearray()
            while (size_line := self._line(deadline)) is not None:
                size = int(size_line.split(b";")[0], 16)
                if size == 0:
                    while self._line(deadline) not in (b"", None):
                        pass
                    resp.body = bytes(body)
                    return resp
                data = self._exact(size + 2, deadline)
                if data is None:
                    return None
                body += data[:-2]
            return None
        length = resp.header("Content-Length")
        if length is not None:
            data = self._exact(int(length), deadline)
            if data is None:
                return None
            resp.body = data
            return resp
        while self._fill(deadline):
            pass
        resp.body = bytes(self.buf)
        self.buf.clear()
        return resp

    def peek(self, n: int, within: float = RESPONSE_WITHIN) -> bytes:
        """The next ``n`` bytes (fewer on close or timeout), left in the buffer."""
        deadline = time.monotonic() + within
        while len(self.buf) < n and self._fill(deadline):
            pass
        return bytes(self.buf[:n])

    def read_rest(self, within: float = CLOSE_WITHIN) -> tuple[bytes, bool]:
        """Everything until the server closes: (bytes, whether it closed within ``within``)."""
        deadline = time.monotonic() + within
        while self._fill(deadline):
            pass
        rest = bytes(self.buf)
        self.buf.clear()
        return rest, self.eof


def wait_for_close(problems: list[str]) -> float:
    """The full close budget while a case still passes; a short listen once it has failed."""
    return FAILED_LISTEN if problems else CLOSE_WITHIN


def problem_violations(resp: RawResponse, status: int) -> list[str]:
    """How a response falls short of a closing problem+json error with ``status``."""
    found: list[str] = []
    if resp.status != status:
        found.append(f"status {resp.status}, expected {status}: {resp.head[:120]!r}")
    ctype = (resp.header("Content-Type") or "").split(";")[0].strip()
    if ctype != PROBLEM:
        found.append(f"Content-Type {ctype!r}, expected {PROBLEM}")
    else:
        try:
            doc = json.loads(resp.body)
        except ValueError:
            found.append(f"body is not JSON: {resp.body[:120]!r}")
        else:
            if not isinstance(doc, dict) or doc.get("status") != resp.status:
                found.append(f"problem status {doc!r} does not match {resp.status}")
    tokens = {t.strip().lower() for v in resp.all("Connection") for t in v.split(",")}
    if "close" not in tokens:
        found.append(f"no Connection: close (Connection: {resp.all('Connection')})")
    if not resp.header("X-Request-ID"):
        found.append("no X-Request-ID")
    return found


# --- fixtures ------------------------------------------------------------------------------------


ROUTES = """
[upstreams.echo]
health_path = "/healthz"

[[routes]]
name = "echo"
prefix = "/api/echo"
upstream = "echo"
upstream_prefix = "/echo"
methods = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"]
chunked_requests = "stream"
read_timeout = 2.0
deadline = 4.0
retries = 0

[[routes]]
name = "echo-buffered"
prefix = "/api/echo-buffered"
upstream = "echo"
upstream_prefix = "/echo"
methods = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"]
read_timeout = 2.0
deadline = 4.0
retries = 0
"""


@dataclass
class Edge:
    """The BFF under test and the echo upstream behind it."""

    bff: Service
    echo: EchoUpstream
    checked_crashes: int = 0
    smuggled: list[bytes] = field(default_factory=list)

    def client(self) -> RawClient:
        return RawClient(self.bff.port)

    def new_crashes(self) -> list[str]:
        """ERROR/CRITICAL records and tracebacks logged since the last call."""
        time.sleep(0.1)  # the worker logs before it answers; leave the file a moment anyway
        crashes = self.bff.crashes()
        new = crashes[self.checked_crashes :]
        self.checked_crashes = len(crashes)
        return new


@pytest.fixture(scope="module")
def edge(log_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Edge]:
    echo = EchoUpstream()
    routes = tmp_path_factory.mktemp("edge-routes") / "routes.toml"
    routes.write_text(ROUTES, encoding="utf-8")
    env = {
        "BFF_ROUTES_FILE": str(routes),
        "BFF_UPSTREAM_ECHO_URL": echo.url,
        "BFF_ENV": "test",
        "BFF_WORKERS": "1",
    }
    try:
        bff = start_bff(log_dir, env, name="bff-edge")
    except BaseException:
        echo.stop()
        raise
    yield Edge(bff, echo)
    bff.stop()
    echo.stop()


# --- request builders ----------------------------------------------------------------------------


def message(start: bytes, *fields: bytes, body: bytes = b"") -> bytes:
    """A request: start line, header lines, blank line, body; every line ends in CRLF."""
    return start + CRLF + b"".join(f + CRLF for f in fields) + CRLF + body


def get(target: bytes, *fields: bytes) -> bytes:
    return message(b"GET " + target + b" HTTP/1.1", b"Host: x", *fields)


def post(target: bytes, *fields: bytes, body: bytes = b"") -> bytes:
    return message(b"POST " + target + b" HTTP/1.1", b"Host: x", *fields, body=body)


def chunked_post(target: bytes, body: bytes, *fields: bytes) -> bytes:
    return post(target, b"Transfer-Encoding: chunked", *fields, body=body)


def smuggled(marker: bytes) -> bytes:
    return b"GET /api/echo/" + marker + b" HTTP/1.1\r\nHost: x\r\n\r\n"


Build = Callable[[bytes, bytes], bytes]
"""(request target, smuggled request) -> the bytes to send."""

END = b"0\r\n\r\n"


@dataclass(frozen=True)
class Bad:
    """A request that must be refused with ``status``, a problem+json body and a close."""

    id: str
    status: int
    build: Build
    #: the error is in the head: not even the request's own head may reach the upstream
    head_error: bool = True
    prefix: bytes = b"/api/echo"


def _cl_te(t: bytes, s: bytes) -> bytes:
    body = END + s
    return post(t, b"Content-Length: %d" % len(body), b"Transfer-Encoding: chunked", body=body)


def _te_cl(t: bytes, s: bytes) -> bytes:
    body = b"%x\r\n%b\r\n0\r\n\r\n" % (len(s), s)
    return post(t, b"Transfer-Encoding: chunked", b"Content-Length: 4", body=body)


def _cl(value: bytes) -> Build:
    return lambda t, s: post(t, b"Content-Length: " + value, body=b"hello" + s)


def _te(*lines: bytes) -> Build:
    return lambda t, s: post(t, *lines, body=END + s)


def _version(version: bytes) -> Build:
    return lambda t, s: b"GET " + t + b" " + version + b"\r\nHost: x\r\n\r\n" + s


def _value(value: bytes) -> Build:
    return lambda t, s: get(t, b"X-A: " + value) + s


def _field(line: bytes) -> Build:
    return lambda t, s: get(t, line) + s


HEAD_CASES = [
    # header syntax
    Bad("header-without-colon", 400, _te(b"X-No-Colon", b"Transfer-Encoding: chunked")),
    Bad(
        "space-before-colon-content-length",
        400,
        lambda t, s: post(t, b"Content-Length : %d" % len(s), body=s),
    ),
    Bad("space-before-colon-transfer-encoding", 400, _te(b"Transfer-Encoding : chunked")),
    Bad("obs-fold-sp", 400, _field(b"X-A: a\r\n b")),
    Bad("obs-fold-htab", 400, _field(b"X-A: a\r\n\tb")),
    Bad("obs-fold-transfer-encoding", 400, _te(b"Transfer-Encoding:", b" chunked")),
    Bad("bare-cr-in-value", 400, _te(b"User-Agent: a\rTransfer-Encoding: chunked")),
    Bad("bare-lf-in-value", 400, _te(b"User-Agent: a\nTransfer-Encoding: chunked")),
    Bad("lf-only-request-line", 400, lambda t, s: b"GET " + t + b" HTTP/1.1\nHost: x\r\n\r\n" + s),
    Bad(
        "lf-only-header-lines",
        400,
        lambda t, s: b"GET " + t + b" HTTP/1.1\r\nHost: x\nX-A: 1\n\n" + s,
    ),
    Bad("lf-only-everywhere", 400, lambda t, s: b"GET " + t + b" HTTP/1.1\nHost: x\n\n" + s),
    Bad("nul-in-value", 400, _value(b"a\x00b")),
    Bad("ctl-01-in-value", 400, _value(b"a\x01b")),
    Bad("del-7f-in-value", 400, _value(b"a\x7fb")),
    Bad("field-name-dquote", 400, _field(b'x"q: 1')),
    Bad("field-name-space", 400, _field(b"a b: 1")),
    Bad("field-name-empty", 400, _field(b": v")),
    Bad("field-name-parens", 400, _field(b"x(y): 1")),
    # Content-Length and Transfer-Encoding together, and Content-Length tricks
    Bad("cl-te", 400, _cl_te),
    Bad("te-cl", 400, _te_cl),
    Bad(
        "content-length-twice-same",
        400,
        lambda t, s: post(t, b"Content-Length: 5", b"Content-Length: 5", body=b"hello" + s),
    ),
    Bad(
        "content-length-twice-different",
        400,
        lambda t, s: post(t, b"Content-Length: 5", b"Content-Length: 6", body=b"hello" + s),
    ),
    Bad("content-length-plus", 400, _cl(b"+5")),
    Bad("content-length-hex", 400, _cl(b"0x5")),
    Bad("content-length-list", 400, _cl(b"5, 5")),
    Bad("content-length-negative", 400, _cl(b"-1")),
    Bad("content-length-two-numbers", 400, _cl(b"1 2")),
    Bad("content-length-empty", 400, lambda t, s: post(t, b"Content-Length:", body=b"hello" + s)),
    Bad("content-length-superscript-two", 400, _cl("\u00b2".encode())),
    Bad("content-length-overflow", 400, _cl(b"9" * 30)),
    # Transfer-Encoding obfuscations
    Bad("te-chunked-chunked", 400, _te(b"Transfer-Encoding: chunked, chunked")),
    Bad("te-two-headers", 400, _te(b"Transfer-Encoding: chunked", b"Transfer-Encoding: chunked")),
    Bad("te-xchunked", 400, _te(b"Transfer-Encoding: xchunked")),
    Bad("te-chunked-with-parameter", 400, _te(b"Transfer-Encoding: chunked;q=1")),
    Bad("te-identity", 400, _te(b"Transfer-Encoding: identity")),
    Bad("te-gzip", 400, _te(b"Transfer-Encoding: gzip")),
    Bad("te-gzip-chunked", 501, _te(b"Transfer-Encoding: gzip, chunked")),
    Bad(
        "te-in-http-1.0",
        400,
        lambda t, s: message(
            b"POST " + t + b" HTTP/1.0", b"Host: x", b"Transfer-Encoding: chunked", body=END + s
        ),
    ),
    # Host
    Bad("no-host", 400, lambda t, s: b"GET " + t + b" HTTP/1.1\r\nX-A: 1\r\n\r\n" + s),
    Bad("two-hosts", 400, _field(b"Host: y")),
    Bad("host-with-space", 400, lambda t, s: message(b"GET " + t + b" HTTP/1.1", b"Host: a b") + s),
    Bad("host-with-slash", 400, lambda t, s: message(b"GET " + t + b" HTTP/1.1", b"Host: a/b") + s),
    Bad("host-with-at", 400, lambda t, s: message(b"GET " + t + b" HTTP/1.1", b"Host: a@b") + s),
    # request line
    Bad("target-with-ctl", 400, lambda t, s: get(t + b"\x01") + s),
    Bad("target-with-space", 400, lambda t, s: get(t + b" x") + s),
    Bad("http-0.9-request-line", 400, lambda t, s: b"GET " + t + b"\r\n\r\n" + s),
    Bad("lower-case-version", 400, _version(b"http/1.1")),
    Bad("malformed-version", 400, _version(b"HTTP/11")),
    Bad("bad-method-token", 400, lambda t, s: b"G(T " + t + b" HTTP/1.1\r\nHost: x\r\n\r\n" + s),
    Bad("unknown-method", 501, lambda t, s: b"FOO " + t + b" HTTP/1.1\r\nHost: x\r\n\r\n" + s),
    Bad("version-2.0", 505, _version(b"HTTP/2.0")),
    Bad("version-1.2", 505, _version(b"HTTP/1.2")),
    Bad("version-9.9", 505, _version(b"HTTP/9.9")),
    # limits
    Bad("request-line-too-long", 414, lambda t, s: get(t + b"/" + b"a" * 9000) + s),
    Bad("header-field-too-large", 431, _field(b"X-Big: " + b"a" * 9000)),
    Bad(
        "too-many-headers",
        431,
        lambda t, s: get(t, *(b"X-H%d: 1" % i for i in range(120))) + s,
    ),
    Bad("body-over-route-cap", 413, lambda t, s: post(t, b"Content-Length: 2000000")),
    Bad(
        "body-over-route-cap-buffered",
        413,
        lambda t, s: post(t, b"Content-Length: 2000000"),
        prefix=b"/api/echo-buffered",
    ),
]

CHUNK_FRAMING = {
    "chunk-size-non-hex": b"zz\r\nabc\r\n0\r\n\r\n",
    "chunk-size-trailing-space": b"3 \r\nabc\r\n0\r\n\r\n",
    "chunk-size-negative": b"-3\r\nabc\r\n0\r\n\r\n",
    "chunk-size-overflow": b"FFFFFFFFFFFFFFFFF1\r\nabc\r\n0\r\n\r\n",
    "chunk-data-missing-crlf": b"3\r\nabcXX0\r\n\r\n",
    "chunk-lf-only-lines": b"3\nabc\n0\n\n",
    "chunk-ext-bad-char": b'3;a"b\r\nabc\r\n0\r\n\r\n',
    "chunk-ext-bare-lf": b"3;ext\nabc\r\n0\r\n\r\n",
}


def _chunk_case(body: bytes) -> Build:
    return lambda t, s: chunked_post(t, body + s)


BODY_CASES = [
    Bad(f"{name}-{mode}", 400, _chunk_case(body), head_error=False, prefix=prefix)
    for name, body in CHUNK_FRAMING.items()
    for mode, prefix in (("stream", b"/api/echo"), ("buffered", b"/api/echo-buffered"))
]


def marker(kind: str, case_id: str) -> bytes:
    return f"{kind}-{case_id}-{RUN}".encode()


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in HEAD_CASES + BODY_CASES])
def test_malformed_request_is_refused_and_closed(edge: Edge, case: Bad) -> None:
    own, smuggle = marker("case", case.id), marker("smuggled", case.id)
    edge.smuggled.append(smuggle)
    payload = case.build(case.prefix + b"/" + own, smuggled(smuggle))
    problems: list[str] = []
    with edge.client() as client:
        client.send(payload)
        resp = client.read_response()
        if resp is None:
            problems.append(f"no response (closed: {client.eof})")
        else:
            problems += problem_violations(resp, case.status)
            rest, closed = client.read_rest(wait_for_close(problems))
            if rest:
                problems.append(f"more bytes after the error response: {rest[:120]!r}")
            if not closed:
                problems.append("connection still open after the response")
    if edge.echo.received(smuggle):
        problems.append("the smuggled request reached the upstream")
    if case.head_error and edge.echo.received(own):
        problems.append("the malformed request reached the upstream")
    assert not problems, "\n".join(problems)


# --- bodies that break, on the proxy and on the BFF's own ingest endpoints ---------------------

INGEST = [
    pytest.param(b"/api/client-errors", b"application/json", id="client-errors"),
    pytest.param(b"/api/client-errors/envelope", b"text/plain", id="envelope"),
    pytest.param(b"/api/client-errors/reports", b"application/json", id="reports"),
    pytest.param(b"/api/vitals", b"application/json", id="vitals"),
]
BODY_TARGETS = [
    pytest.param(b"/api/echo", b"application/json", id="echo-stream"),
    pytest.param(b"/api/echo-buffered", b"application/json", id="echo-buffered"),
    *INGEST,
]


def _target(path: bytes, case: str) -> bytes:
    """The path itself for an ingest endpoint; a marked sub-path for a proxied route."""
    return path + b"/" + marker("case", case) if path.startswith(b"/api/echo") else path


@pytest.mark.parametrize(("path", "ctype"), BODY_TARGETS)
def test_chunked_body_broken_mid_way_never_smuggles(edge: Edge, path: bytes, ctype: bytes) -> None:
    case = f"mid-body-{path.decode().strip('/').replace('/', '-')}"
    smuggle = marker("smuggled", case)
    edge.smuggled.append(smuggle)
    body = b"5\r\nhello\r\n3\r\nabcdef\r\n0\r\n\r\n" + smuggled(smuggle)
    problems: list[str] = []
    with edge.client() as client:
        client.send(chunked_post(_target(path, case), body, b"Content-Type: " + ctype))
        resp = client.read_response()
        if resp is not None:
            problems += problem_violations(resp, 400)
        rest, closed = client.read_rest(wait_for_close(problems))
        if rest:
            problems.append(f"more bytes after the error response: {rest[:120]!r}")
        if not closed:
            problems.append("connection still open")
    if edge.echo.received(smuggle):
        problems.append("the smuggled request reached the upstream")
    problems += [f"crash logged: {line[:300]}" for line in edge.new_crashes()]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("framing", ["fixed", "chunked"])
@pytest.mark.parametrize(("path", "ctype"), BODY_TARGETS)
def test_truncated_body_then_half_close_is_never_a_500(
    edge: Edge, path: bytes, ctype: bytes, framing: str
) -> None:
    case = f"truncated-{framing}-{path.decode().strip('/').replace('/', '-')}"
    if framing == "fixed":
        payload = post(_target(path, case), b"Content-Type: " + ctype, b"Content-Length: 100")
        payload += b'{"message":'
    else:
        payload = chunked_post(_target(path, case), b'40\r\n{"message":', b"Content-Type: " + ctype)
    problems: list[str] = []
    with edge.client() as client:
        client.send(payload)
        client.half_close()
        resp = client.read_response()
        if resp is not None and resp.status != 400:
            problems.append(f"status {resp.status}: expected 400 or no response at all")
        rest, closed = client.read_rest(wait_for_close(problems))
        if rest:
            problems.append(f"more bytes after the response: {rest[:120]!r}")
        if not closed:
            problems.append("connection still open after the client's half-close")
    problems += [f"crash logged: {line[:300]}" for line in edge.new_crashes()]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(("path", "ctype"), INGEST)
def test_ingest_body_too_large_closes_without_reading_it(
    edge: Edge, path: bytes, ctype: bytes
) -> None:
    problems: list[str] = []
    with edge.client() as client:
        client.send(post(path, b"Content-Type: " + ctype, b"Content-Length: 2000000"))
        resp = client.read_response()
        if resp is None:
            problems.append(f"no response (closed: {client.eof})")
        else:
            problems += problem_violations(resp, 413)
            rest, closed = client.read_rest(wait_for_close(problems))
            if rest:
                problems.append(f"more bytes after the 413: {rest[:120]!r}")
            if not closed:
                problems.append("connection still open after the 413 (body never sent)")
    assert not problems, "\n".join(problems)


# --- responses that must not leak ----------------------------------------------------------------


def test_head_error_response_has_no_body(edge: Edge) -> None:
    """A refused HEAD on a keep-alive connection: the next bytes are the next response."""
    with edge.client() as client:
        client.send(b"HEAD /api/echo/a%2Fb HTTP/1.1\r\nHost: x\r\n\r\n")
        first = client.read_response(method="HEAD")
        assert first is not None, f"no response to HEAD (closed: {client.eof})"
        assert first.status == 400, first.head
        next_marker = marker("case", "after-head")
        client.send(b"GET /api/echo/" + next_marker + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        assert client.peek(13).startswith(b"HTTP/1.1 200 "), bytes(client.buf[:200])
        second = client.read_response()
        assert second is not None and second.status == 200
    assert edge.echo.received(next_marker)


def test_host_header_is_never_reflected(edge: Edge) -> None:
    with edge.client() as client:
        client.send(
            b"GET /api//ops/summary HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n"
        )
        resp = client.read_response()
    assert resp is not None
    leaked = [(n, v) for n, v in resp.headers if "evil.example" in v.lower()]
    assert not leaked, (resp.status, leaked)


# --- requests that are valid and must be forwarded cleanly ---------------------------------------


@dataclass(frozen=True)
class Good:
    id: str
    build: Callable[[bytes], bytes]
    body: bytes = b""


def _chunked_good(body: bytes, *fields: bytes) -> Callable[[bytes], bytes]:
    return lambda t: post(t, *fields, body=body)


HOP_FIELDS = (
    b"Connection: keep-alive, X-Drop-Me",
    b"X-Drop-Me: 1",
    b"Keep-Alive: timeout=5",
    b"TE: trailers",
    b"Upgrade: example/1",
    b"Proxy-Connection: keep-alive",
)

GOOD_CASES = [
    Good("htab-in-value", lambda t: get(t, b"X-A: a\tb")),
    Good("obs-text-in-value", lambda t: get(t, b"X-A: a\xffb")),
    Good("hop-by-hop-fields", lambda t: get(t, *HOP_FIELDS)),
    Good(
        "hop-by-hop-fields-with-body",
        lambda t: post(t, *HOP_FIELDS, b"Content-Length: 5", body=b"hello"),
        b"hello",
    ),
    Good("fixed-length-body", lambda t: post(t, b"Content-Length: 5", body=b"hello"), b"hello"),
]
for _mode, _prefix in (("stream", b"/api/echo"), ("buffered", b"/api/echo-buffered")):
    GOOD_CASES += [
        Good(
            f"te-leading-htab-{_mode}",
            _chunked_good(b"5\r\nhello\r\n0\r\n\r\n", b"Transfer-Encoding:\tchunked"),
            b"hello",
        ),
        Good(
            f"chunk-extension-{_mode}",
            _chunked_good(
                b'5;foo=bar\r\nhello\r\n6;a="q"\r\n world\r\n0\r\n\r\n',
                b"Transfer-Encoding: chunked",
            ),
            b"hello world",
        ),
        Good(
            f"chunked-trailers-{_mode}",
            _chunked_good(
                b"5\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n", b"Transfer-Encoding: chunked"
            ),
            b"hello",
        ),
    ]
GOOD_PREFIX = {
    c.id: b"/api/echo-buffered" if c.id.endswith("-buffered") else b"/api/echo" for c in GOOD_CASES
}


def forwarded_head_violations(req: UpstreamRequest, drop: tuple[bytes, ...]) -> list[str]:
    """How a head the upstream received falls short of a clean HTTP/1.1 head."""
    found: list[str] = []
    head = req.head
    if b"\x00" in head:
        found.append("NUL in the forwarded head")
    if re.search(rb"\r(?!\n)", head):
        found.append("bare CR in the forwarded head")
    if re.search(rb"(?<!\r)\n", head):
        found.append("bare LF in the forwarded head")
    hosts = req.values(b"host")
    if len(hosts) != 1:
        found.append(f"{len(hosts)} Host headers")
    if req.values(b"transfer-encoding") and req.values(b"content-length"):
        found.append("both Transfer-Encoding and Content-Length")
    names = {n for n, _ in req.fields}
    for name in (*HOP_BY_HOP, *drop):
        if name in names:
            found.append(f"hop-by-hop header {name.decode()} forwarded")
    return found


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in GOOD_CASES])
def test_valid_request_is_forwarded_cleanly(edge: Edge, case: Good) -> None:
    own = marker("case", case.id)
    with edge.client() as client:
        client.send(case.build(GOOD_PREFIX[case.id] + b"/" + own))
        resp = client.read_response()
    assert resp is not None, f"no response (closed: {client.eof})"
    assert resp.status == 200, (resp.head, resp.body[:300])
    req = edge.echo.request_with(own)
    assert req is not None, "the upstream received no complete request"
    problems = forwarded_head_violations(req, (b"x-drop-me",))
    if req.body != case.body:
        problems.append(f"upstream body {req.body[:120]!r}, expected {case.body!r}")
    assert not problems, "\n".join(problems) + f"\n{req.head!r}"


def test_pipelined_requests_are_answered_in_order(edge: Edge) -> None:
    first, second = marker("case", "pipelined-1"), marker("case", "pipelined-2")
    with edge.client() as client:
        client.send(get(b"/api/echo/" + first) + get(b"/api/echo/" + second))
        responses = [client.read_response(), client.read_response()]
    assert [r.status if r else None for r in responses] == [200, 200]
    for own in (first, second):
        req = edge.echo.request_with(own)
        assert req is not None
        assert not forwarded_head_violations(req, ())
    with edge.echo.lock:
        order = [r.head for r in edge.echo.requests if first in r.head or second in r.head]
    assert [first in h for h in order] == [True, False]


@pytest.mark.parametrize(
    "request_id",
    [pytest.param("has spaces in it", id="spaces"), pytest.param("r" * 200, id="200-chars")],
)
def test_unsafe_request_id_is_replaced(edge: Edge, request_id: str) -> None:
    own = marker("case", f"request-id-{len(request_id)}")
    with edge.client() as client:
        client.send(get(b"/api/echo/" + own, b"X-Request-ID: " + request_id.encode()))
        resp = client.read_response()
    assert resp is not None and resp.status == 200
    req = edge.echo.request_with(own)
    assert req is not None
    sent = [v.decode("latin-1") for v in req.values(b"x-request-id")]
    assert len(sent) == 1 and sent[0] != request_id and _REQUEST_ID.fullmatch(sent[0]), sent
    assert resp.header("X-Request-ID") == sent[0]


# --- after all of it -----------------------------------------------------------------------------


def test_no_smuggled_request_ever_reached_the_upstream(edge: Edge) -> None:
    time.sleep(0.5)  # anything the server was still forwarding has arrived by now
    reached = [m.decode() for m in edge.smuggled if edge.echo.received(m)]
    assert not reached, reached


def test_bff_logged_no_crash(edge: Edge) -> None:
    with edge.client() as client:
        client.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        resp = client.read_response()
    assert resp is not None and resp.status == 200, "the BFF stopped answering"
    crashes = edge.bff.crashes()
    assert not crashes, "\n".join(line[:300] for line in crashes)
