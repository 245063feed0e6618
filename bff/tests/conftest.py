"""Fixtures: a fresh app per test, wired to a scripted upstream on loopback; a real redis-server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bff.settings import Settings, load_settings
from flask import Flask
from flask.testing import FlaskClient
from testkit import redis_server

from bff import create_app

from .upstream_stub import StubServer

CLOSED_PORT_URL = "http://127.0.0.1:9"  # discard port: nothing listens, connect is refused


def make_settings(catalog_url: str, orders_url: str = CLOSED_PORT_URL, **env: str) -> Settings:
    """Settings as the BFF would parse them from its environment."""
    return load_settings(
        {"BFF_UPSTREAM_CATALOG_URL": catalog_url, "BFF_UPSTREAM_ORDERS_URL": orders_url, **env}
    )


def routes_file(tmp_path: Path, body: str) -> str:
    """Write a route table and return its path."""
    path = tmp_path / "routes.toml"
    path.write_text(body, encoding="utf-8")
    return str(path)


class BufferedClient(FlaskClient):
    """A test client that reads every response body through, as a real server does."""

    def open(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        kwargs.setdefault("buffered", True)
        return super().open(*args, **kwargs)


@pytest.fixture(autouse=True)
def _buffered_clients(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Flask, "test_client_class", BufferedClient)


@pytest.fixture
def stub() -> Iterator[StubServer]:
    server = StubServer().start()
    yield server
    server.stop()


@pytest.fixture
def settings(stub: StubServer) -> Settings:
    return make_settings(stub.url)


@pytest.fixture
def app(settings: Settings) -> Flask:
    return create_app(settings)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """Debian's redis-server on a free loopback port, for one test."""
    with redis_server(tmp_path) as redis:
        yield redis.url
