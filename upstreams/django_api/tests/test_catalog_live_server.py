"""Run the real service (run.py -> gunicorn) and talk to it over HTTP.

These checks cover what the Django test client cannot: the raw request target from
gunicorn, chunked request and response bodies, real Set-Cookie headers and concurrency.
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from catalog.seed_data import SEED_ITEMS

RUNNER = Path(__file__).resolve().parent.parent / "run.py"
STARTUP_TIMEOUT_S = 30.0
SHUTDOWN_TIMEOUT_S = 15.0


@dataclass
class LiveServer:
    base_url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL the whole process group if it does not exit in time."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=SHUTDOWN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=SHUTDOWN_TIMEOUT_S)


def wait_until_healthy(server: LiveServer) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    with httpx.Client(trust_env=False, timeout=2.0) as client:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise RuntimeError(f"catalog exited early:\n{server.log()}")
            try:
                if client.get(f"{server.base_url}/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    raise RuntimeError(f"catalog did not become healthy:\n{server.log()}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("catalog-live")
    port = free_port()
    env = {**os.environ, "CATALOG_DB_PATH": str(tmp / "catalog.sqlite3")}
    env.pop("UPSTREAM_TEST_ENDPOINTS", None)
    log_path = tmp / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, str(RUNNER), "--port", str(port), "--workers", "1", "--threads", "4"],
            cwd=tmp,  # the runner must not depend on the working directory
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    live = LiveServer(f"http://127.0.0.1:{port}", process, log_path)
    try:
        wait_until_healthy(live)
        yield live
    finally:
        stop(process)


@pytest.fixture
def http(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, trust_env=False, timeout=10.0) as client:
        yield client


def test_seeded_on_start(http: httpx.Client) -> None:
    body = http.get("/catalog/items").json()
    assert body["total"] == len(SEED_ITEMS)


def test_echo_preserves_raw_path_and_query(http: httpx.Client) -> None:
    response = http.get("/catalog/_test/echo/a%2Fb/%7Euser?x=%20y&x=2")
    body = response.json()
    assert body["path"] == "/catalog/_test/echo/a%2Fb/%7Euser"
    assert body["query"] == "x=%20y&x=2"


def test_echo_repeated_headers_are_folded_by_gunicorn(http: httpx.Client) -> None:
    response = http.get("/catalog/_test/echo", headers=[("X-Dup", "one"), ("X-Dup", "two")])
    assert response.json()["headers"]["x-dup"] == "one,two"


def test_echo_chunked_request_body(http: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"hello "
        yield b"chunked "
        yield b"world"

    response = http.post("/catalog/_test/echo", content=chunks())
    body = response.json()
    assert body["headers"]["transfer-encoding"] == "chunked"
    assert body["body"] == "hello chunked world"
    assert body["body_length"] == 19


def test_stream_is_chunked_and_incremental(http: httpx.Client) -> None:
    started = time.monotonic()
    arrivals: list[float] = []
    params = {"chunks": 3, "interval_ms": 300, "size": 8}
    with http.stream("GET", "/catalog/_test/stream", params=params) as response:
        assert response.headers["transfer-encoding"] == "chunked"
        assert "content-length" not in response.headers
        lines = []
        for line in response.iter_lines():
            arrivals.append(time.monotonic() - started)
            lines.append(json.loads(line))
    assert [line["index"] for line in lines] == [0, 1, 2]
    assert arrivals[0] < arrivals[-1] - 0.4


def test_large_gzip_has_correct_content_length(http: httpx.Client) -> None:
    with http.stream("GET", "/catalog/_test/large", params={"kb": 256, "gzip": 1}) as response:
        raw = b"".join(response.iter_raw())
        assert response.headers["content-encoding"] == "gzip"
        assert int(response.headers["content-length"]) == len(raw)
    assert len(gzip.decompress(raw)) == 256 * 1024


def test_two_set_cookie_headers(http: httpx.Client) -> None:
    response = http.get("/catalog/_test/cookie")
    assert response.headers.get_list("set-cookie") == [
        "session=abc; Path=/; HttpOnly; SameSite=Lax",
        "theme=dark; Path=/catalog; Max-Age=3600",
    ]


def test_absolute_redirect_uses_host_header(http: httpx.Client, server: LiveServer) -> None:
    response = http.get("/catalog/_test/redirect", params={"to": "/catalog/items", "absolute": 1})
    assert response.status_code == 302
    assert response.headers["location"] == f"{server.base_url}/catalog/items"


def test_head_and_bodyless_statuses_are_clean(http: httpx.Client, server: LiveServer) -> None:
    head = http.head("/catalog/items")
    assert head.status_code == 200
    assert int(head.headers["content-length"]) > 0
    assert head.content == b""
    assert http.get("/catalog/_test/status/204").content == b""
    assert "WSGI app sent body bytes" not in server.log()


def test_slow_requests_do_not_block_each_other(http: httpx.Client) -> None:
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = [
            pool.submit(http.get, "/catalog/_test/delay", params={"ms": 600}) for _ in range(3)
        ]
        results = [future.result() for future in futures]
    assert all(result.json() == {"slept_ms": 600} for result in results)
    assert time.monotonic() - started < 1.5


def test_request_id_round_trip(http: httpx.Client) -> None:
    response = http.get("/healthz", headers={"X-Request-ID": "live-check-1"})
    assert response.headers["x-request-id"] == "live-check-1"
