"""Every wait at the edge is bounded, and a broken upstream is a 502 with an access record.

The BFF runs under gunicorn with short timeouts; clients are raw sockets; upstreams are the real
Django catalog and a scripted raw-TCP upstream that misbehaves on purpose.
"""

from __future__ import annotations

import json
import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .procs import Service, start_bff

HEADER_TIMEOUT = 1.0
BODY_TIMEOUT = 1.0
KEEPALIVE_TIMEOUT = 1.5
SEND_TIMEOUT = 2.0
BODY_MIN_RATE = 20
SLACK = 1.5  # scheduling slack on a shared two-core machine


class _Scripted(socketserver.BaseRequestHandler):
    """An upstream that answers according to the request path."""

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.settimeout(5)
        head = b""
        try:
            while b"\r\n\r\n" not in head:
                data = sock.recv(65536)
                if not data:
                    return
                head += data
            path = head.split(b" ", 2)[1].decode()
            if path.endswith("/slow-head"):
                sock.sendall(b"HTTP/1.1 200 OK\r\n")
                for _ in range(40):  # one header line every 0.2 s: each read is "in time"
                    time.sleep(0.2)
                    sock.sendall(b"X-Slow: 1\r\n")
            elif path.endswith("/endless-continue"):
                for _ in range(200):
                    sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
                    time.sleep(0.01)
            else:
                sock.sendall(RESPONSES[path.rsplit("/", 1)[-1]])
                time.sleep(0.2)
        except OSError:
            return


RESPONSES = {
    "bare-cr-reason": b"HTTP/1.1 200 O\rK\r\nContent-Length: 2\r\n\r\nok",
    "status-000": b"HTTP/1.1 000 OK\r\nContent-Length: 2\r\n\r\nok",
    "non-ascii-length": "HTTP/1.1 200 OK\r\nContent-Length: \u00b2\r\n\r\nok".encode(),
    "broken-first-chunk": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nok\r\n",
    "bad-field-name": b"HTTP/1.1 200 OK\r\nBad Name: 1\r\nContent-Length: 2\r\n\r\nok",
    "cl-and-te": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\nok",
}


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@pytest.fixture(scope="module")
def scripted() -> Iterator[str]:
    server = _Server(("127.0.0.1", 0), _Scripted)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _start_edge_bff(
    log_dir: Path,
    bff_env: dict[str, str],
    scripted: str,
    tmp_path_factory: pytest.TempPathFactory,
    *,
    name: str,
    send_timeout: float,
) -> Service:
    routes = tmp_path_factory.mktemp("edge-routes") / "routes.toml"
    routes.write_text(
        "[upstreams.catalog]\n[upstreams.orders]\n[upstreams.scripted]\n"
        '[[routes]]\nname = "catalog"\nprefix = "/api/catalog"\nupstream = "catalog"\n'
        'upstream_prefix = "/catalog"\n'
        '[[routes]]\nname = "orders"\nprefix = "/api/orders"\nupstream = "orders"\n'
        'upstream_prefix = "/orders"\nmethods = ["GET", "POST"]\n'
        '[[routes]]\nname = "scripted"\nprefix = "/api/scripted"\nupstream = "scripted"\n'
        'upstream_prefix = ""\nread_timeout = 0.5\ndeadline = 1.5\nretries = 0\n',
        encoding="utf-8",
    )
    env = {
        **bff_env,
        "BFF_ROUTES_FILE": str(routes),
        "BFF_UPSTREAM_SCRIPTED_URL": scripted,
        "BFF_WORKERS": "1",
        "BFF_HEADER_TIMEOUT": str(HEADER_TIMEOUT),
        "BFF_BODY_TIMEOUT": str(BODY_TIMEOUT),
        "BFF_KEEPALIVE_TIMEOUT": str(KEEPALIVE_TIMEOUT),
        "BFF_SEND_TIMEOUT": str(send_timeout),
        "BFF_BODY_MIN_RATE": str(BODY_MIN_RATE),
        "BFF_CIRCUIT_FAILURES": "1000",
    }
    return start_bff(log_dir, env, name=name)


@pytest.fixture(scope="module")
def edge_bff(
    log_dir: Path,
    bff_env: dict[str, str],
    scripted: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Service]:
    svc = _start_edge_bff(
        log_dir, bff_env, scripted, tmp_path_factory, name="bff-edge", send_timeout=SEND_TIMEOUT
    )
    yield svc
    svc.stop()
    assert not svc.crashes(), svc.crashes()


# The stalled-reader test's own BFF: a send timeout far above what a probe may take, so a probe
# that waited for the stalled clients to be cut (the upstream held) cannot pass for a slow one on
# a loaded machine.
PATIENT_SEND_TIMEOUT = 12.0
PROBE_BOUND = 4.0


@pytest.fixture(scope="module")
def patient_bff(
    log_dir: Path,
    bff_env: dict[str, str],
    scripted: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Service]:
    svc = _start_edge_bff(
        log_dir,
        bff_env,
        scripted,
        tmp_path_factory,
        name="bff-edge-patient",
        send_timeout=PATIENT_SEND_TIMEOUT,
    )
    yield svc
    svc.stop()
    assert not svc.crashes(), svc.crashes()


def _connect(svc: Service) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", svc.port), timeout=10)
    sock.settimeout(10)
    return sock


def _read_until_close(sock: socket.socket, limit: float = 10.0) -> tuple[bytes, float]:
    """Everything the server sends until it closes, and how long that took."""
    started = time.monotonic()
    data = b""
    sock.settimeout(limit)
    while True:
        try:
            piece = sock.recv(65536)
        except (ConnectionResetError, TimeoutError):
            break
        if not piece:
            break
        data += piece
    return data, time.monotonic() - started


def _media_type(path: str) -> str:
    return "application/x-sentry-envelope" if path.endswith("/envelope") else "application/json"


def _status(raw: bytes) -> int:
    return int(raw.split(b" ", 2)[1]) if raw.startswith(b"HTTP/1.1 ") else 0


def test_an_incomplete_request_head_gets_408_and_a_close(edge_bff: Service) -> None:
    with _connect(edge_bff) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        raw, waited = _read_until_close(sock)
    assert _status(raw) == 408, raw[:200]
    assert b"application/problem+json" in raw and b"Connection: close" in raw
    assert waited < HEADER_TIMEOUT + SLACK


def test_a_head_sent_slowly_is_cut_at_the_header_timeout(edge_bff: Service) -> None:
    """One byte at a time, each within any idle timeout: the head deadline still applies."""
    with _connect(edge_bff) as sock:
        started = time.monotonic()
        sock.settimeout(0.5)
        closed = False
        for byte in b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100:
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                closed = True
                break
            time.sleep(0.1)
            if time.monotonic() - started > HEADER_TIMEOUT + SLACK:
                break
        raw, _ = _read_until_close(sock, 5)
    assert closed or _status(raw) == 408
    assert time.monotonic() - started < HEADER_TIMEOUT + SLACK + 5


def test_a_pipelined_partial_head_is_held_to_the_header_timeout(edge_bff: Service) -> None:
    """A second request begun in the same packet as the first is not an idle connection."""
    with _connect(edge_bff) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHo")
        raw, waited = _read_until_close(sock)
    first, _, rest = raw.partition(b"\r\n\r\n")
    assert _status(first) == 200
    assert b"HTTP/1.1 408 " in rest, raw[:600]
    assert waited < HEADER_TIMEOUT + SLACK


def test_a_silent_connection_is_closed_without_an_answer(edge_bff: Service) -> None:
    with _connect(edge_bff) as sock:
        raw, waited = _read_until_close(sock)
    assert raw == b""
    assert waited < HEADER_TIMEOUT + SLACK


def test_an_idle_keep_alive_connection_is_closed(edge_bff: Service) -> None:
    with _connect(edge_bff) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        first = sock.recv(65536)
        assert _status(first) == 200
        raw, waited = _read_until_close(sock)
    assert raw == b""
    assert KEEPALIVE_TIMEOUT - 0.5 < waited < KEEPALIVE_TIMEOUT + SLACK


@pytest.mark.parametrize(
    "path",
    ["/api/orders", "/api/client-errors", "/api/vitals", "/api/client-errors/envelope"],
)
def test_a_stalled_body_gets_400_and_a_close(edge_bff: Service, path: str) -> None:
    with _connect(edge_bff) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {_media_type(path)}\r\n"
            'Content-Length: 100\r\n\r\n{"a":'.encode()
        )
        raw, waited = _read_until_close(sock)
    assert _status(raw) == 400, raw[:300]
    assert b"application/problem+json" in raw
    assert waited < BODY_TIMEOUT + SLACK
    assert not edge_bff.crashes(), edge_bff.crashes()


def test_a_body_trickled_below_the_minimum_rate_is_cut(edge_bff: Service) -> None:
    """One byte every 0.3 s never trips the idle timeout, but falls below BFF_BODY_MIN_RATE."""
    with _connect(edge_bff) as sock:
        started = time.monotonic()
        sock.sendall(
            b"POST /api/client-errors HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\n\r\n"
        )
        for _ in range(60):
            try:
                sock.sendall(b" ")
            except OSError:
                break
            time.sleep(0.3)
            sock.setblocking(False)
            try:
                if sock.recv(1, socket.MSG_PEEK):
                    break
            except BlockingIOError:
                pass
            except OSError:
                break
            finally:
                sock.setblocking(True)
        raw, _ = _read_until_close(sock)
    assert _status(raw) == 400, raw[:300]
    assert b"bytes/s" in raw
    assert time.monotonic() - started < BODY_TIMEOUT + 60 * 0.3 / 3


@pytest.mark.parametrize(
    "path",
    [
        "/api/orders",
        "/api/client-errors",
        "/api/client-errors/reports",
        "/api/vitals",
        "/api/client-errors/envelope",
    ],
)
def test_a_truncated_body_is_never_a_500(edge_bff: Service, path: str) -> None:
    """The client half-closes inside its body (an aborted beacon): 400 or nothing, no ERROR."""
    with _connect(edge_bff) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {_media_type(path)}\r\n"
            'Content-Length: 100\r\n\r\n{"a":'.encode()
        )
        sock.shutdown(socket.SHUT_WR)
        raw, _ = _read_until_close(sock)
    assert raw == b"" or _status(raw) == 400, raw[:300]
    assert not edge_bff.crashes(), edge_bff.crashes()


def test_a_client_that_stops_reading_is_cut_and_frees_the_upstream(patient_bff: Service) -> None:
    """Sixteen clients stall on a 20 MiB answer (as many as Django has threads); the catalog
    still answers everyone else long before the stalled connections are cut (a held upstream
    would make every probe wait PATIENT_SEND_TIMEOUT), and then they are cut."""
    stalled: list[socket.socket] = []
    try:
        for _ in range(16):
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.connect(("127.0.0.1", patient_bff.port))
            sock.sendall(b"GET /api/catalog/_test/large?kb=20480 HTTP/1.1\r\nHost: x\r\n\r\n")
            stalled.append(sock)
        time.sleep(0.5)
        latencies = []
        for _ in range(20):
            started = time.monotonic()
            with _connect(patient_bff) as probe:
                probe.sendall(
                    b"GET /api/catalog/items HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                )
                raw, _ = _read_until_close(probe, PROBE_BOUND)
            latencies.append(time.monotonic() - started)
            assert _status(raw) == 200, raw[:300]
        assert max(latencies) < PROBE_BOUND, latencies
        # the stalled clients are cut once a write has waited PATIENT_SEND_TIMEOUT
        deadline = time.monotonic() + PATIENT_SEND_TIMEOUT + 30
        for sock in stalled:
            sock.settimeout(max(0.1, deadline - time.monotonic()))
            total = 0
            try:
                while piece := sock.recv(1 << 20):
                    total += len(piece)
                    time.sleep(0.001)
            except (ConnectionResetError, TimeoutError):
                pass
            assert time.monotonic() < deadline, "a stalled client was never cut"
            assert total < 20 * 1024 * 1024 + 4096
    finally:
        for sock in stalled:
            sock.close()


def _exchange(svc: Service, path: str, request_id: str) -> tuple[bytes, float]:
    with _connect(svc) as sock:
        started = time.monotonic()
        sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: x\r\nX-Request-ID: {request_id}\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        raw, _ = _read_until_close(sock)
    return raw, time.monotonic() - started


@pytest.mark.parametrize("case", ["slow-head", "endless-continue"])
def test_the_route_deadline_bounds_the_response_head(edge_bff: Service, case: str) -> None:
    raw, waited = _exchange(edge_bff, f"/api/scripted/{case}", f"deadline-{case}")
    assert _status(raw) in (502, 504), raw[:300]
    assert waited < 1.5 + SLACK
    assert f"X-Request-ID: deadline-{case}".encode() in raw


@pytest.mark.parametrize("case", sorted(RESPONSES))
def test_a_malformed_upstream_response_is_a_502_with_an_access_record(
    edge_bff: Service, case: str
) -> None:
    request_id = f"bad-upstream-{case}"
    raw, _ = _exchange(edge_bff, f"/api/scripted/{case}", request_id)
    assert _status(raw) == 502, raw[:300]
    head, _, body = raw.partition(b"\r\n\r\n")
    assert f"X-Request-ID: {request_id}".encode() in head
    assert json.loads(body)["request_id"] == request_id
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        records = [
            json.loads(line)
            for line in edge_bff.log().splitlines()
            if line.startswith("{") and request_id in line
        ]
        if any(r.get("logger") == "bff.access" for r in records):
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"no access record for {request_id}")
    assert not edge_bff.crashes(), edge_bff.crashes()


def test_expect_100_continue_is_answered_before_the_body(edge_bff: Service) -> None:
    """The interim 100 arrives when the app first reads the body, and the final answer after."""
    body = b'{"message": "boom", "url": "https://shop.example/"}'
    with _connect(edge_bff) as sock:
        sock.sendall(
            b"POST /api/client-errors HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Expect: 100-continue\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % len(body)
        )
        interim = sock.recv(65536)
        assert interim.startswith(b"HTTP/1.1 100 Continue\r\n\r\n"), interim[:200]
        sock.sendall(body)
        raw, _ = _read_until_close(sock)
    final = interim[len(b"HTTP/1.1 100 Continue\r\n\r\n") :] + raw
    assert 200 <= _status(final) < 500, final[:300]


@pytest.mark.parametrize(
    ("head", "status"),
    [
        pytest.param(
            b"POST /api/orders HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\n"
            b"Content-Length: 2\r\n\r\n{}",
            417,
            id="unknown-expectation",
        ),
        pytest.param(b"CONNECT x:443 HTTP/1.1\r\nHost: x:443\r\n\r\n", 501, id="connect"),
        pytest.param(
            b"POST /api/orders HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket"
            b"\r\nContent-Length: 2\r\n\r\n{}",
            400,
            id="upgrade-with-body",
        ),
    ],
)
def test_refused_expectations_and_upgrades_close(
    edge_bff: Service, head: bytes, status: int
) -> None:
    with _connect(edge_bff) as sock:
        sock.sendall(head + b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        raw, waited = _read_until_close(sock)
    assert _status(raw) == status, raw[:300]
    assert b"application/problem+json" in raw and b"Connection: close" in raw
    assert raw.count(b"HTTP/1.1 ") == 1, "the request after it was served"
    assert waited < 5
