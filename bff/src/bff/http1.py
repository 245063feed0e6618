"""A lean HTTP/1.1 client exchange for the proxy's hot path.

Why not urllib3's ``urlopen`` here: it goes through ``http.client`` and the ``email`` header
parser, which measured at several hundred microseconds of CPU per proxied request on the target
machine, about four times what the rest of the BFF costs (see docs/proxy.md). This module does
only what a proxy needs: write one request head, parse one response head strictly, and hand the
body back as raw pieces (de-chunked) without decoding content codings.
"""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Iterable, Iterator
from io import BufferedReader
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    import ssl

MAX_HEAD_LINE = 65_536
MAX_HEADERS = 200
READ_SIZE = 65_536


class UpstreamError(Exception):
    """An exchange with the upstream failed; ``kind`` says how, ``reused`` if the connection
    came from the pool (a reused connection closed before any answer is safe to retry)."""

    def __init__(self, kind: str, message: str, *, reused: bool = False) -> None:
        super().__init__(message)
        self.kind = kind  # "connect", "connect_timeout", "read_timeout", "protocol", "closed"
        self.reused = reused


class Connection:
    """One keep-alive TCP (or TLS) connection to an upstream."""

    __slots__ = ("sock", "rfile", "idle_since", "reused")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.rfile = cast(BufferedReader, sock.makefile("rb", buffering=READ_SIZE))
        self.idle_since = 0.0
        self.reused = False

    def close(self) -> None:
        """Close the socket; never raises."""
        try:
            self.rfile.close()
        finally:
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


def build_head(method: str, target: str, headers: dict[str, str]) -> bytes:
    """Serialise a request head; names and values were validated by the caller."""
    lines = [f"{method} {target} HTTP/1.1\r\n"]
    lines.extend(f"{name}: {value}\r\n" for name, value in headers.items())
    lines.append("\r\n")
    return "".join(lines).encode("latin-1")


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


class Response:
    """A parsed response head plus a reader for its body."""

    __slots__ = (
        "conn",
        "status",
        "reason",
        "headers",
        "length",
        "chunked",
        "keep_alive",
        "_done",
        "_remaining",
    )

    def __init__(
        self,
        conn: Connection,
        status: int,
        reason: str,
        headers: list[tuple[str, str]],
        length: int | None,
        chunked: bool,
        keep_alive: bool,
    ) -> None:
        self.conn = conn
        self.status = status
        self.reason = reason
        self.headers = headers
        self.length = length  # None: chunked or delimited by close
        self.chunked = chunked
        self.keep_alive = keep_alive
        self._remaining = length
        self._done = length == 0

    @property
    def complete(self) -> bool:
        """The whole body has been read and the connection may be reused."""
        return self._done

    def stream(self) -> Iterator[bytes]:
        """The body, as raw pieces (content codings untouched, chunked framing removed)."""
        rfile = self.conn.rfile
        try:
            if self._done:
                return
            if self.chunked:
                yield from self._chunks(rfile)
            elif self._remaining is not None:
                while self._remaining > 0:
                    piece = rfile.read1(min(READ_SIZE, self._remaining))
                    if not piece:
                        raise UpstreamError("protocol", f"body ended {self._remaining} bytes short")
                    self._remaining -= len(piece)
                    yield piece
            else:
                while True:
                    piece = rfile.read1(READ_SIZE)
                    if not piece:
                        break
                    yield piece
                self.keep_alive = False
            self._done = True
        except TimeoutError as exc:
            raise UpstreamError("read_timeout", "timed out reading the body") from exc
        except (OSError, ValueError) as exc:
            raise UpstreamError("protocol", f"body read failed: {exc}") from exc

    @staticmethod
    def _chunks(rfile: BufferedReader) -> Iterator[bytes]:
        while True:
            line = rfile.readline(MAX_HEAD_LINE)
            if not line.endswith(b"\n"):
                raise UpstreamError("protocol", "truncated chunk size line")
            size_field = line.split(b";", 1)[0].strip()
            if not size_field or len(size_field) > 16:
                raise UpstreamError("protocol", "invalid chunk size")
            try:
                size = int(size_field, 16)
            except ValueError:
                raise UpstreamError("protocol", "invalid chunk size") from None
            if size < 0:
                raise UpstreamError("protocol", "invalid chunk size")
            if size == 0:
                for _ in range(MAX_HEADERS):  # trailers are dropped (hop-by-hop by agreement)
                    trailer = rfile.readline(MAX_HEAD_LINE)
                    if trailer in (b"\r\n", b"\n"):
                        return
                    if not trailer.endswith(b"\n"):
                        raise UpstreamError("protocol", "truncated trailers")
                raise UpstreamError("protocol", "too many trailers")
            remaining = size
            while remaining > 0:
                piece = rfile.read1(min(READ_SIZE, remaining))
                if not piece:
                    raise UpstreamError("protocol", "chunk ended early")
                remaining -= len(piece)
                yield piece
            if rfile.read(2) not in (b"\r\n",):
                raise UpstreamError("protocol", "missing CRLF after chunk")


_NO_BODY = frozenset({204, 304})


def exchange(
    pool: Pool, method: str, target: str, headers: dict[str, str], timeout: float
) -> tuple[Response, bytes]:
    """One small bodiless request with its whole answer (for health checks)."""
    conn = pool.get(timeout)
    try:
        conn.sock.settimeout(timeout)
        send_request(conn, build_head(method, target, headers), None, False)
        resp = read_response(conn, method, timeout)
        body = b"".join(resp.stream())
    except BaseException:
        conn.close()
        raise
    if resp.keep_alive:
        pool.put(conn)
    else:
        conn.close()
    return resp, body


def read_response(conn: Connection, method: str, timeout: float) -> Response:
    """Read and strictly parse one response head (skipping 1xx interim responses)."""
    conn.sock.settimeout(timeout)
    rfile = conn.rfile
    try:
        while True:
            line = rfile.readline(MAX_HEAD_LINE)
            if not line:
                raise UpstreamError(
                    "closed", "connection closed before a response", reused=conn.reused
                )
            parts = line.rstrip(b"\r\n").split(b" ", 2)
            if len(parts) < 2 or parts[0] not in (b"HTTP/1.1", b"HTTP/1.0"):
                raise UpstreamError("protocol", "malformed status line")
            if len(parts[1]) != 3 or not parts[1].isdigit():
                raise UpstreamError("protocol", "malformed status code")
            status = int(parts[1])
            reason = parts[2].decode("latin-1") if len(parts) == 3 else ""
            headers: list[tuple[str, str]] = []
            for _ in range(MAX_HEADERS + 1):
                raw = rfile.readline(MAX_HEAD_LINE)
                if raw in (b"\r\n", b"\n"):
                    break
                if not raw.endswith(b"\n"):
                    raise UpstreamError("protocol", "truncated or oversized header line")
                if raw[0] in b" \t":
                    raise UpstreamError("protocol", "obsolete header folding")
                raw_name, sep, raw_value = raw.partition(b":")
                if not sep:
                    raise UpstreamError("protocol", "header line without a colon")
                headers.append((raw_name.decode("latin-1"), raw_value.strip().decode("latin-1")))
            else:
                raise UpstreamError("protocol", "too many response headers")
            if 100 <= status < 200:
                if status == 101:
                    raise UpstreamError("protocol", "unexpected protocol switch")
                continue  # 100 Continue, 103 Early Hints: not forwarded
            break
    except TimeoutError as exc:
        raise UpstreamError("read_timeout", "timed out waiting for the response") from exc
    except OSError as exc:
        raise UpstreamError("closed", f"connection lost: {exc}", reused=conn.reused) from exc

    length: int | None = None
    chunked = False
    connection_close = parts[0] == b"HTTP/1.0"
    lengths: set[str] = set()
    for name, value in headers:
        lower = name.lower()
        if lower == "content-length":
            lengths.update(v.strip() for v in value.split(","))
        elif lower == "transfer-encoding":
            chunked = value.lower().replace(" ", "").endswith("chunked")
            if not chunked:
                connection_close = True  # body delimited by close (RFC 9112 6.3)
        elif lower == "connection":
            tokens = {t.strip().lower() for t in value.split(",")}
            if "close" in tokens:
                connection_close = True
            elif "keep-alive" in tokens:
                connection_close = False
    has_te = any(n.lower() == "transfer-encoding" for n, _ in headers)
    if lengths and not has_te:
        if len(lengths) != 1 or not next(iter(lengths)).isdigit():
            raise UpstreamError("protocol", "invalid or conflicting Content-Length")
        length = int(next(iter(lengths)))
    if method == "HEAD" or status in _NO_BODY:
        length, chunked = 0, False
    elif length is None and not chunked:
        connection_close = True
    return Response(conn, status, reason, headers, length, chunked, not connection_close)


class Pool:
    """Idle keep-alive connections to one upstream, newest first, for one worker process."""

    __slots__ = ("scheme", "host", "port", "maxsize", "idle_timeout", "check_after", "tls", "_idle")

    def __init__(
        self,
        scheme: str,
        host: str,
        port: int,
        maxsize: int,
        idle_timeout: float = 4.0,
        check_after: float = 1.0,
    ) -> None:
        self.scheme = scheme
        self.host = host
        self.port = port
        self.maxsize = maxsize
        self.idle_timeout = idle_timeout
        # Probing a socket costs a poll; one reused within this many seconds is trusted, since
        # servers close idle connections after seconds and announce other closes in the
        # response ("Connection: close"). A stale one still fails safely: see UpstreamError.
        self.check_after = check_after
        self.tls: ssl.SSLContext | None = None
        if scheme == "https":
            import ssl

            self.tls = ssl.create_default_context()
        self._idle: list[Connection] = []

    def get(self, connect_timeout: float) -> Connection:
        """A live idle connection, or a new one."""
        now = time.monotonic()
        while self._idle:
            conn = self._idle.pop()
            idle = now - conn.idle_since
            if idle < self.idle_timeout and (idle < self.check_after or not conn.is_dropped()):
                conn.reused = True
                return conn
            conn.close()
        return connect(self.scheme, self.host, self.port, connect_timeout, self.tls)

    def put(self, conn: Connection) -> None:
        """Return a connection whose last response was read completely."""
        if len(self._idle) >= self.maxsize:
            conn.close()
            return
        conn.idle_since = time.monotonic()
        self._idle.append(conn)

    def close(self) -> None:
        """Close every idle connection."""
        while self._idle:
            self._idle.pop().close()

    def __del__(self) -> None:
        self.close()
