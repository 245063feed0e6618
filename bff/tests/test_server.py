from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
from pathlib import Path

from bff.proxy.server import write_problem_error
from testkit import free_port, start, tcp_ready


def test_gunicorn_errors_are_problem_json() -> None:
    a, b = socket.socketpair()
    with a, b:
        write_problem_error(a, 431, "Request Header Fields Too Large", "too many headers")
        a.shutdown(socket.SHUT_WR)
        raw = b.recv(65536)
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "HTTP/1.1 431 Request Header Fields Too Large"
    headers = dict(line.split(": ", 1) for line in lines[1:])
    assert headers["Content-Type"] == "application/problem+json"
    assert int(headers["Content-Length"]) == len(body)
    doc = json.loads(body)
    assert doc["status"] == 431 and doc["detail"] == "too many headers"
    assert doc["request_id"] == headers["X-Request-ID"]


def _read_responses(sock: socket.socket, count: int, done: list[float]) -> None:
    """Read ``count`` /healthz responses, noting when the last one arrived."""
    buffer = b""
    seen = 0
    while seen < count:
        chunk = sock.recv(65536)
        if not chunk:
            break
        buffer += chunk
        seen += buffer.count(b'{"status":"ok"}')
        buffer = buffer[buffer.rfind(b'{"status":"ok"}') + 1 :] if b"ok" in buffer else buffer
    done.append(time.monotonic())


def test_a_busy_keep_alive_connection_does_not_starve_the_others(tmp_path: Path) -> None:
    """Requests already waiting on one connection are served in turn with the worker's other
    connections, not back to back until that connection runs dry."""
    root = Path(__file__).resolve().parents[2]
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BFF_", "LOG_", "AWS_"))}
    env.update(
        BFF_BIND=f"127.0.0.1:{port}",
        BFF_WORKERS="1",
        BFF_UPSTREAM_CATALOG_URL="http://127.0.0.1:9",
        BFF_UPSTREAM_ORDERS_URL="http://127.0.0.1:9",
    )
    gunicorn = Path(sys.executable).parent / "gunicorn"
    argv = [str(gunicorn), "-c", "bff/gunicorn.conf.py", "bff:create_app()"]
    request = b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n"
    with start(
        "bff",
        argv,
        log_dir=tmp_path,
        port=port,
        env=env,
        inherit_env=False,
        cwd=root,
        ready=tcp_ready(port),
    ):
        busy = socket.create_connection(("127.0.0.1", port), timeout=10)
        other = socket.create_connection(("127.0.0.1", port), timeout=10)
        with busy, other:
            for sock in (busy, other):  # both accepted and warm
                sock.sendall(request)
                _read_responses(sock, 1, [])
            pipelined = 3000
            busy_done: list[float] = []
            reader = threading.Thread(target=_read_responses, args=(busy, pipelined, busy_done))
            reader.start()
            busy.sendall(request * pipelined)
            time.sleep(0.02)
            other.sendall(request)
            other_done: list[float] = []
            _read_responses(other, 1, other_done)
            reader.join(30)
        assert busy_done and other_done
        assert other_done[0] < busy_done[0], "the other connection waited for the whole pipeline"
