from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from bff.proxy.client import (
    Connection,
    HeaderInjection,
    UpstreamError,
    build_head,
    connect,
    read_response,
    send_request,
)
from bff.proxy.pool import Pool


@pytest.fixture
def pair() -> Iterator[tuple[Connection, socket.socket]]:
    a, b = socket.socketpair()
    conn = Connection(a)
    yield conn, b
    conn.close()
    b.close()


def respond(peer: socket.socket, raw: bytes, close: bool = True) -> None:
    peer.sendall(raw)
    if close:
        peer.shutdown(socket.SHUT_WR)


def body_of(conn: Connection, method: str = "GET") -> tuple[int, dict[str, str], bytes, bool]:
    resp = read_response(conn, method, 2.0)
    data = b"".join(resp.stream())
    return resp.status, dict(resp.headers), data, resp.keep_alive


@pytest.mark.parametrize(
    ("raw", "status", "body", "keep_alive"),
    [
        pytest.param(
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
            200,
            b"hello",
            True,
            id="content-length",
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n",
            200,
            b"hello world",
            True,
            id="chunked-with-extension-and-trailer",
        ),
        pytest.param(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok",
            201,
            b"ok",
            True,
            id="interim-100",
        ),
        pytest.param(
            b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"
            b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
            200,
            b"",
            True,
            id="early-hints",
        ),
        pytest.param(b"HTTP/1.1 204 No Content\r\n\r\n", 204, b"", True, id="no-content"),
        pytest.param(
            b"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
            304,
            b"",
            True,
            id="not-modified",
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\n\r\nuntil close", 200, b"until close", False, id="close-delimited"
        ),
        pytest.param(
            b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", 200, b"ok", False, id="http-1.0"
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
            200,
            b"ok",
            False,
            id="connection-close",
        ),
        pytest.param(
            b"HTTP/1.1 599 \r\nContent-Length: 0\r\n\r\n",
            599,
            b"",
            True,
            id="odd-status-empty-reason",
        ),
    ],
)
def test_valid_responses(
    pair: tuple[Connection, socket.socket], raw: bytes, status: int, body: bytes, keep_alive: bool
) -> None:
    conn, peer = pair
    respond(peer, raw)
    got_status, _, got_body, got_keep_alive = body_of(conn)
    assert (got_status, got_body, got_keep_alive) == (status, body, keep_alive)


def test_head_response_has_no_body(pair: tuple[Connection, socket.socket]) -> None:
    conn, peer = pair
    respond(peer, b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
    assert body_of(conn, "HEAD")[2] == b""


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", id="short-body"),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n",
            id="bad-chunk-size",
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", id="truncated-chunk"
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXX0\r\n\r\n",
            id="missing-chunk-crlf",
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n", id="negative-chunk"
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n",
            id="huge-chunk-size",
        ),
    ],
)
def test_broken_bodies_raise(pair: tuple[Connection, socket.socket], raw: bytes) -> None:
    conn, peer = pair
    respond(peer, raw)
    # a body broken in the bytes that came with the head fails the exchange at once (a 502
    # rather than a cut connection); one broken later fails the stream
    with pytest.raises(UpstreamError) as info:
        resp = read_response(conn, "GET", 2.0)
        b"".join(resp.stream())
        pytest.fail(f"complete={resp.complete}")
    assert info.value.kind == "protocol"


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"NOT HTTP\r\n\r\n", id="garbage"),
        pytest.param(b"HTTP/1.1 2000 OK\r\n\r\n", id="bad-status"),
        pytest.param(b"HTTP/2 200 OK\r\n\r\n", id="bad-version"),
        pytest.param(b"HTTP/1.1 200 OK\r\nX: 1\r\n folded\r\n\r\n", id="obs-fold"),
        pytest.param(b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", id="no-colon"),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
            id="conflicting-lengths",
        ),
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", id="negative-length"),
        pytest.param(b"HTTP/1.1 200 OK\r\n" + b"X: 1\r\n" * 201 + b"\r\n", id="too-many-headers"),
        pytest.param(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n", id="upgrade"),
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Le", id="truncated-head"),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5\r\nhello\r\n0\r\n\r\n",
            id="cl-and-te",
        ),
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nok", id="list-length"),
        pytest.param(
            "HTTP/1.1 200 OK\r\nContent-Length: \u00b2\r\n\r\nok".encode(), id="non-ascii-digit"
        ),
        pytest.param(b"HTTP/1.1 200 O\rK\r\nContent-Length: 0\r\n\r\n", id="bare-cr-in-reason"),
        pytest.param(b"HTTP/1.1 200 O\x01K\r\nContent-Length: 0\r\n\r\n", id="ctl-in-reason"),
        pytest.param(b"HTTP/1.1 200 O\x00K\r\nContent-Length: 0\r\n\r\n", id="nul-in-reason"),
        pytest.param(b"HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n", id="bare-lf"),
        pytest.param(b"HTTP/1.1 000 OK\r\nContent-Length: 0\r\n\r\n", id="status-000"),
        pytest.param(b"HTTP/1.1 099 OK\r\nContent-Length: 0\r\n\r\n", id="status-099"),
        pytest.param(b"HTTP/1.1 600 OK\r\nContent-Length: 0\r\n\r\n", id="status-600"),
        pytest.param(b"HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n", id="version-2.0"),
        pytest.param(b"HTTP/1.1 200 OK\r\nX: a\x00b\r\nContent-Length: 0\r\n\r\n", id="nul"),
        pytest.param(b"HTTP/1.1 200 OK\r\nX y: 1\r\nContent-Length: 0\r\n\r\n", id="bad-name"),
        pytest.param(b"HTTP/1.1 100 Continue\r\n\r\n" * 9, id="endless-100-continue"),
    ],
)
def test_malformed_heads_raise_protocol_errors(
    pair: tuple[Connection, socket.socket], raw: bytes
) -> None:
    conn, peer = pair
    respond(peer, raw)
    with pytest.raises(UpstreamError) as info:
        read_response(conn, "GET", 2.0)
    assert info.value.kind == "protocol"


def test_closed_before_response_marks_reuse(pair: tuple[Connection, socket.socket]) -> None:
    conn, peer = pair
    conn.reused = True
    peer.close()
    with pytest.raises(UpstreamError) as info:
        read_response(conn, "GET", 2.0)
    assert info.value.kind == "closed" and info.value.reused


def test_the_deadline_bounds_a_slowly_sent_head(pair: tuple[Connection, socket.socket]) -> None:
    """An upstream that sends one header line at a time, each within the read timeout, is still
    cut at the deadline."""
    conn, peer = pair

    def trickle() -> None:
        try:
            peer.sendall(b"HTTP/1.1 200 OK\r\n")
            for _ in range(20):
                time.sleep(0.05)
                peer.sendall(b"X-Slow: 1\r\n")
        except OSError:
            pass

    thread = threading.Thread(target=trickle)
    thread.start()
    started = time.monotonic()
    with pytest.raises(UpstreamError) as info:
        read_response(conn, "GET", 0.5, deadline=time.monotonic() + 0.3)
    assert info.value.kind == "read_timeout"
    assert time.monotonic() - started < 0.6
    thread.join(5)


def test_header_injection_is_refused() -> None:
    for headers in ({"x": "a\r\nEvil: 1"}, {"x": "a\nb"}, {"x": "a\rb"}, {"x": "a\0b"}):
        with pytest.raises(HeaderInjection):
            build_head("GET", "/", headers)
    with pytest.raises(HeaderInjection):
        build_head("GET", "/a\r\nX: 1", {})


def test_read_timeout(pair: tuple[Connection, socket.socket]) -> None:
    conn, _peer = pair
    with pytest.raises(UpstreamError) as info:
        read_response(conn, "GET", 0.05)
    assert info.value.kind == "read_timeout"


def test_request_serialisation_and_chunked_body(pair: tuple[Connection, socket.socket]) -> None:
    conn, peer = pair
    head = build_head("POST", "/x?y=1", {"host": "up:1", "transfer-encoding": "chunked"})
    send_request(conn, head, iter([b"ab", b"", b"cde"]), chunked=True)
    peer.settimeout(2)
    got = b""
    while not got.endswith(b"0\r\n\r\n"):
        got += peer.recv(4096)
    assert got == (
        b"POST /x?y=1 HTTP/1.1\r\nhost: up:1\r\ntransfer-encoding: chunked\r\n\r\n"
        b"2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n"
    )


def _listener() -> tuple[socket.socket, int]:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    return srv, srv.getsockname()[1]


def test_connect_errors_are_classified() -> None:
    srv, port = _listener()
    srv.close()
    with pytest.raises(UpstreamError) as info:
        connect("http", "127.0.0.1", port, 1.0, None)
    assert info.value.kind == "connect"


def test_pool_reuses_live_connections_and_drops_dead_ones() -> None:
    srv, port = _listener()
    accepted: list[socket.socket] = []
    thread = threading.Thread(target=lambda: accepted.append(srv.accept()[0]), daemon=True)
    thread.start()
    pool = Pool("http", "127.0.0.1", port, maxsize=2, idle_timeout=10, check_after=0.0)
    try:
        conn = pool.get(1.0)
        thread.join(2)
        pool.put(conn)
        again = pool.get(1.0)
        assert again is conn and again.reused
        pool.put(again)
        accepted[0].close()  # the upstream closes the idle connection
        time.sleep(0.05)
        thread = threading.Thread(target=lambda: accepted.append(srv.accept()[0]), daemon=True)
        thread.start()
        fresh = pool.get(1.0)
        assert fresh is not conn and not fresh.reused
        thread.join(2)
        fresh.close()
    finally:
        pool.close()
        for s in accepted:
            s.close()
        srv.close()


def test_pool_discards_connections_idle_too_long() -> None:
    srv, port = _listener()
    pool = Pool("http", "127.0.0.1", port, maxsize=2, idle_timeout=0.01)
    try:
        conn = pool.get(1.0)
        pool.put(conn)
        time.sleep(0.03)
        other = pool.get(1.0)
        assert other is not conn
        other.close()
    finally:
        pool.close()
        srv.close()


def test_pool_caps_idle_connections() -> None:
    srv, port = _listener()
    pool = Pool("http", "127.0.0.1", port, maxsize=1)
    try:
        a, b = pool.get(1.0), pool.get(1.0)
        pool.put(a)
        pool.put(b)  # over the cap: closed, not kept
        assert pool.get(1.0) is a
        a.close()
    finally:
        pool.close()
        srv.close()
