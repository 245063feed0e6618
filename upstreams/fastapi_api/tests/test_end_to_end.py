"""Start the real catalog (Django, gunicorn) and orders (FastAPI, uvicorn) services with their
run.py scripts on free ports and exercise them over HTTP."""

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
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

UPSTREAMS_DIR = Path(__file__).resolve().parents[2]
CATALOG_RUNNER = UPSTREAMS_DIR / "django_api" / "run.py"
ORDERS_RUNNER = UPSTREAMS_DIR / "fastapi_api" / "run.py"
STARTUP_TIMEOUT_S = 30.0
SHUTDOWN_TIMEOUT_S = 15.0


@dataclass
class Service:
    name: str
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
    """SIGTERM, then SIGKILL the process group if it does not exit in time."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=SHUTDOWN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=SHUTDOWN_TIMEOUT_S)


def start(name: str, runner: Path, workdir: Path, env: dict[str, str]) -> Service:
    port = free_port()
    log_path = workdir / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, str(runner), "--host", "127.0.0.1", "--port", str(port)],
            cwd=workdir,
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    service = Service(name, f"http://127.0.0.1:{port}", process, log_path)
    try:
        wait_until_healthy(service)
    except BaseException:
        stop(process)
        raise
    return service


def wait_until_healthy(service: Service) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    with httpx.Client(trust_env=False, timeout=2.0) as client:
        while time.monotonic() < deadline:
            if service.process.poll() is not None:
                raise RuntimeError(f"{service.name} exited early:\n{service.log()}")
            try:
                if client.get(f"{service.base_url}/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    raise RuntimeError(f"{service.name} did not become healthy:\n{service.log()}")


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Service, Service]]:
    workdir = tmp_path_factory.mktemp("e2e")
    catalog = start(
        "catalog",
        CATALOG_RUNNER,
        workdir,
        {"CATALOG_DB_PATH": str(workdir / "catalog.sqlite3"), "UPSTREAM_TEST_ENDPOINTS": "1"},
    )
    try:
        orders = start(
            "orders",
            ORDERS_RUNNER,
            workdir,
            {"CATALOG_API_URL": catalog.base_url, "UPSTREAM_TEST_ENDPOINTS": "1"},
        )
        try:
            yield catalog, orders
        finally:
            stop(orders.process)
    finally:
        stop(catalog.process)


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(trust_env=False, timeout=10.0) as client:
        yield client


def test_create_order_end_to_end(services: tuple[Service, Service], http: httpx.Client) -> None:
    catalog, orders = services
    listing = http.get(f"{catalog.base_url}/catalog/items", params={"q": "grinder"}).json()
    in_stock = [item for item in listing["items"] if item["stock"] >= 2][:2]
    assert len(in_stock) == 2

    payload = {
        "items": [
            {"item_id": in_stock[0]["id"], "quantity": 2},
            {"item_id": in_stock[1]["id"], "quantity": 1},
        ],
        "customer_email": "grace@example.com",
        "note": "end-to-end",
    }
    response = http.post(
        f"{orders.base_url}/orders", json=payload, headers={"X-Request-ID": "e2e-order-1"}
    )
    assert response.status_code == 201, response.text
    assert response.headers["x-request-id"] == "e2e-order-1"
    order = response.json()
    assert order["status"] == "confirmed"
    assert [line["unit_price"] for line in order["items"]] == [
        in_stock[0]["price"],
        in_stock[1]["price"],
    ]
    assert [line["name"] for line in order["items"]] == [in_stock[0]["name"], in_stock[1]["name"]]
    expected_total = Decimal(in_stock[0]["price"]) * 2 + Decimal(in_stock[1]["price"])
    assert order["total"] == f"{expected_total:.2f}"
    assert order["currency"] == "EUR"

    fetched = http.get(f"{orders.base_url}{response.headers['location']}")
    assert fetched.status_code == 200
    assert fetched.json() == order
    listed = http.get(f"{orders.base_url}/orders").json()
    assert order in listed["orders"]


def test_unknown_and_out_of_stock_items(
    services: tuple[Service, Service], http: httpx.Client
) -> None:
    catalog, orders = services
    unknown = http.post(
        f"{orders.base_url}/orders",
        json={"items": [{"item_id": 999_999, "quantity": 1}], "customer_email": "a@b.co"},
    )
    assert unknown.status_code == 422
    assert unknown.headers["content-type"] == "application/problem+json"
    assert unknown.json()["errors"][0]["field"] == "items.0.item_id"

    sold_out = http.get(
        f"{catalog.base_url}/catalog/items", params={"q": "Sumatra Mandheling"}
    ).json()["items"][0]
    assert sold_out["stock"] == 0
    conflict = http.post(
        f"{orders.base_url}/orders",
        json={"items": [{"item_id": sold_out["id"], "quantity": 1}], "customer_email": "a@b.co"},
    )
    assert conflict.status_code == 409


def test_orders_echo_preserves_raw_path(
    services: tuple[Service, Service], http: httpx.Client
) -> None:
    _, orders = services
    body = http.get(
        f"{orders.base_url}/orders/_test/echo/a%2Fb/%7Euser?x=%20y",
        headers=[("X-Dup", "one"), ("X-Dup", "two")],
    ).json()
    assert body["path"] == "/orders/_test/echo/a%2Fb/%7Euser"
    assert body["query"] == "x=%20y"
    assert body["headers"]["x-dup"] == "one, two"


def test_orders_stream_is_chunked_and_incremental(
    services: tuple[Service, Service], http: httpx.Client
) -> None:
    _, orders = services
    started = time.monotonic()
    arrivals: list[float] = []
    params = {"chunks": 3, "interval_ms": 300, "size": 8}
    with http.stream("GET", f"{orders.base_url}/orders/_test/stream", params=params) as response:
        assert response.headers["transfer-encoding"] == "chunked"
        assert "content-length" not in response.headers
        lines = []
        for line in response.iter_lines():
            arrivals.append(time.monotonic() - started)
            lines.append(json.loads(line))
    assert [line["index"] for line in lines] == [0, 1, 2]
    assert arrivals[0] < arrivals[-1] - 0.4


def test_orders_large_gzip_and_cookies(
    services: tuple[Service, Service], http: httpx.Client
) -> None:
    _, orders = services
    url = f"{orders.base_url}/orders/_test/large"
    with http.stream("GET", url, params={"kb": 256, "gzip": 1}) as response:
        raw = b"".join(response.iter_raw())
        assert int(response.headers["content-length"]) == len(raw)
    assert len(gzip.decompress(raw)) == 256 * 1024
    cookies = http.get(f"{orders.base_url}/orders/_test/cookie").headers.get_list("set-cookie")
    assert cookies == [
        "session=abc; Path=/; HttpOnly; SameSite=Lax",
        "theme=dark; Path=/catalog; Max-Age=3600",
    ]


def test_orders_head_requests(services: tuple[Service, Service], http: httpx.Client) -> None:
    _, orders = services
    head = http.head(f"{orders.base_url}/orders/_test/large", params={"kb": 4})
    assert head.status_code == 200
    assert head.headers["content-length"] == "4096"
    assert head.content == b""
    assert http.head(f"{orders.base_url}/healthz").status_code == 200
    assert http.get(f"{orders.base_url}/healthz").json() == {"status": "ok"}
    assert "Traceback" not in orders.log()


def test_catalog_down_gives_503(services: tuple[Service, Service], http: httpx.Client) -> None:
    """Runs last in this module: it stops the catalog."""
    catalog, orders = services
    stop(catalog.process)
    assert catalog.process.returncode == 0, catalog.log()
    response = http.post(
        f"{orders.base_url}/orders",
        json={"items": [{"item_id": 1, "quantity": 1}], "customer_email": "a@b.co"},
    )
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert http.get(f"{orders.base_url}/healthz").status_code == 200
