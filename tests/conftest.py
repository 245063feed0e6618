"""Integration fixtures: the real upstreams and the real BFF under gunicorn, on free ports."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .procs import Service, start_bff, start_django, start_fastapi, start_moto


@pytest.fixture(scope="session")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("logs")


@pytest.fixture(scope="session")
def moto(log_dir: Path) -> Iterator[Service]:
    svc = start_moto(log_dir)
    yield svc
    svc.stop()


@pytest.fixture(scope="session")
def log_group() -> str:
    return f"/test/front-door-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def log_env(
    moto: Service, log_group: str, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], dict[str, str]]:
    """Environment that makes a service ship its logs to the emulator, as `make dev` does."""
    spool = tmp_path_factory.mktemp("spool")

    def env(service: str) -> dict[str, str]:
        return {
            "LOG_CLOUDWATCH_GROUP": log_group,
            "LOG_CLOUDWATCH_ENDPOINT": moto.url,
            "LOG_CLOUDWATCH_CREATE_GROUP": "1",
            "LOG_FLUSH_INTERVAL": "0.2",
            "LOG_SPOOL_DIR": str(spool / service),
            "LOG_ENVIRONMENT": "test",
            "AWS_REGION": "eu-west-1",
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
        }

    return env


@pytest.fixture(scope="session")
def django_service(
    log_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
    log_env: Callable[[str], dict[str, str]],
) -> Iterator[Service]:
    svc = start_django(
        log_dir, tmp_path_factory.mktemp("db") / "catalog.sqlite3", log_env("catalog")
    )
    yield svc
    svc.stop()


@pytest.fixture(scope="session")
def fastapi_service(
    log_dir: Path, django_service: Service, log_env: Callable[[str], dict[str, str]]
) -> Iterator[Service]:
    svc = start_fastapi(log_dir, django_service.url, log_env("orders"))
    yield svc
    svc.stop()


@pytest.fixture(scope="session")
def bff_env(
    django_service: Service, fastapi_service: Service, log_env: Callable[[str], dict[str, str]]
) -> dict[str, str]:
    return {
        "BFF_UPSTREAM_CATALOG_URL": django_service.url,
        "BFF_UPSTREAM_ORDERS_URL": fastapi_service.url,
        "BFF_ENV": "test",
        **log_env("bff"),
    }


@pytest.fixture(scope="session")
def bff(log_dir: Path, bff_env: dict[str, str]) -> Iterator[Service]:
    svc = start_bff(log_dir, bff_env)
    yield svc
    svc.stop()
    assert not svc.crashes(), svc.crashes()
