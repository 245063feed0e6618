"""The web slice end to end: the built site and `next dev`, each over the real BFF and upstreams."""

from __future__ import annotations

import html
import json
import os
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from .procs import ROOT, Service, free_port, start

WEB = ROOT / "web"
NODE_ENV = {"NEXT_TELEMETRY_DISABLED": "1"}


def fetch(
    url: str, data: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(
        url, data=data, headers=headers or {}, method="POST" if data is not None else "GET"
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()


@pytest.fixture(scope="session")
def standalone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`next build`, then the standalone server laid out the way the container image does."""
    subprocess.run(
        ["npm", "run", "--silent", "build"],
        cwd=WEB,
        check=True,
        env={**os.environ, **NODE_ENV},
        stdout=subprocess.DEVNULL,
    )
    out = tmp_path_factory.mktemp("web") / "standalone"
    shutil.copytree(WEB / ".next" / "standalone", out, symlinks=True)
    shutil.copytree(WEB / ".next" / "static", out / ".next" / "static")
    if (WEB / "public").exists():
        shutil.copytree(WEB / "public", out / "public", dirs_exist_ok=True)
    return out


def start_web(log_dir: Path, standalone: Path, bff_url: str, name: str) -> Service:
    port = free_port()
    env = {**NODE_ENV, "BFF_URL": bff_url, "PORT": str(port), "HOSTNAME": "127.0.0.1"}
    return start(
        name, ["node", str(standalone / "server.js")], port, log_dir, env, health="/", timeout=60
    )


@pytest.fixture(scope="module")
def web(log_dir: Path, standalone: Path, bff: Service) -> Iterator[Service]:
    svc = start_web(log_dir, standalone, bff.url, "web")
    yield svc
    svc.stop()


def test_home_page_renders_catalog_data_from_the_bff(web: Service, bff: Service) -> None:
    _, _, raw = fetch(f"{bff.url}/api/catalog/items?page=1&page_size=20")
    first_item = json.loads(raw)["items"][0]["name"]
    status, headers, body = fetch(f"{web.url}/")
    assert status == 200
    assert html.escape(first_item) in body.decode()
    assert "text/html" in headers["content-type"]


def test_search_goes_through_the_bff(web: Service) -> None:
    status, _, body = fetch(f"{web.url}/?q=zzzz-no-such-thing")
    assert status == 200
    assert "No items found" in body.decode()


def test_same_origin_api_reaches_the_bff(web: Service) -> None:
    status, headers, body = fetch(
        f"{web.url}/api/catalog/items?page_size=2", headers={"X-Request-ID": "web-e2e-1"}
    )
    assert status == 200
    assert len(json.loads(body)["items"]) == 2
    assert headers["x-request-id"] == "web-e2e-1"
    assert "access-control-allow-origin" not in headers  # same origin: no CORS at all


def test_client_side_order_action_path(web: Service) -> None:
    payload = json.dumps(
        {"items": [{"item_id": 2, "quantity": 1}], "customer_email": "demo@example.com"}
    ).encode()
    status, headers, body = fetch(
        f"{web.url}/api/orders", payload, {"Content-Type": "application/json"}
    )
    assert status == 201, body
    assert headers["location"].startswith("/api/orders/")
    assert json.loads(body)["status"] == "confirmed"


def test_bff_address_is_read_at_run_time(log_dir: Path, standalone: Path) -> None:
    """The same build, pointed at a BFF that is down: a calm page and a 502 problem."""
    svc = start_web(log_dir, standalone, f"http://127.0.0.1:{free_port()}", "web-down")
    try:
        status, _, body = fetch(f"{svc.url}/")
        assert status == 200
        assert "The catalog is unavailable right now" in body.decode()
        status, headers, body = fetch(f"{svc.url}/api/catalog/items")
        assert status == 502
        assert headers["content-type"].startswith("application/problem+json")
        assert json.loads(body)["status"] == 502
    finally:
        svc.stop()


def test_next_dev_reaches_the_bff_without_cors(log_dir: Path, bff: Service) -> None:
    port = free_port()
    svc = start(
        "next-dev",
        [str(WEB / "node_modules" / ".bin" / "next"), "dev", "-p", str(port), "-H", "127.0.0.1"],
        port,
        log_dir,
        {**NODE_ENV, "BFF_URL": bff.url},
        health="/api/catalog/items?page_size=1",
        timeout=120,
        cwd=WEB,
    )
    try:
        status, _, body = fetch(f"{svc.url}/api/catalog/items?page_size=1")
        assert status == 200 and len(json.loads(body)["items"]) == 1
        status, _, body = fetch(f"{svc.url}/")
        assert status == 200 and "item" in body.decode().lower()
    finally:
        svc.stop()
