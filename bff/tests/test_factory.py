from __future__ import annotations

import pytest
from bff.settings import SettingsError
from flask.testing import FlaskClient

from bff import create_app


def test_create_app_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BFF_UPSTREAM_CATALOG_URL", "http://127.0.0.1:8001")
    monkeypatch.setenv("BFF_UPSTREAM_ORDERS_URL", "http://127.0.0.1:8002")
    monkeypatch.setenv("BFF_ENV", "test")
    app = create_app()
    assert app.config["BFF_SETTINGS"].environment == "test"


def test_create_app_fails_fast_on_missing_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BFF_UPSTREAM_CATALOG_URL", raising=False)
    monkeypatch.setenv("BFF_UPSTREAM_ORDERS_URL", "http://127.0.0.1:8002")
    with pytest.raises(SettingsError, match="BFF_UPSTREAM_CATALOG_URL"):
        create_app()


def test_each_app_has_its_own_clients(settings: object) -> None:
    a, b = create_app(settings), create_app(settings)  # type: ignore[arg-type]
    assert a.extensions["bff.clients"] is not b.extensions["bff.clients"]


@pytest.mark.parametrize("path", ["/api//ops/summary", "//healthz", "/healthz/"])
def test_no_redirect_names_the_clients_host(client: FlaskClient, path: str) -> None:
    """A non-canonical path is not redirected to an absolute URL built from the client's Host."""
    resp = client.get(path, headers={"Host": "evil.example"})
    assert resp.status_code == 404
    assert not any("evil.example" in value for _, value in resp.headers.items())
