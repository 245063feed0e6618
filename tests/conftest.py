"""Integration fixtures: the real upstreams and the real BFF under gunicorn, on free ports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .procs import Service, start_bff, start_django, start_fastapi


@pytest.fixture(scope="session")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("logs")


@pytest.fixture(scope="session")
def django_service(log_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    svc = start_django(log_dir, tmp_path_factory.mktemp("db") / "catalog.sqlite3")
    yield svc
    svc.stop()


@pytest.fixture(scope="session")
def fastapi_service(log_dir: Path, django_service: Service) -> Iterator[Service]:
    svc = start_fastapi(log_dir, django_service.url)
    yield svc
    svc.stop()


@pytest.fixture(scope="session")
def bff_env(django_service: Service, fastapi_service: Service) -> dict[str, str]:
    return {
        "BFF_UPSTREAM_CATALOG_URL": django_service.url,
        "BFF_UPSTREAM_ORDERS_URL": fastapi_service.url,
        "BFF_ENV": "test",
    }


@pytest.fixture(scope="session")
def bff(log_dir: Path, bff_env: dict[str, str]) -> Iterator[Service]:
    svc = start_bff(log_dir, bff_env)
    yield svc
    svc.stop()
    log = svc.log()
    assert "Traceback" not in log, log
    assert "Worker exiting" not in log or "Shutting down" in log, log
