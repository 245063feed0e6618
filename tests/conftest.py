"""Integration fixtures: the real upstreams and the real BFF under gunicorn, on free ports."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from testkit import RedisServer, fake_aws_env, moto_server, redis_server

from .procs import Service, start_bff, start_django, start_fastapi
from .web_site import CHROMIUM, CHROMIUM_ARGS, Site, WebBuild, build_web, start_web

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page


@pytest.fixture(scope="session")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("logs")


@pytest.fixture(scope="session")
def moto(log_dir: Path) -> Iterator[Service]:
    """The CloudWatch Logs and S3 emulator (moto server), as `make dev` runs it."""
    with moto_server(log_dir) as emulator:
        yield Service.of(emulator.process)


@pytest.fixture(scope="module")
def redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """Debian's redis-server on a free loopback port, nothing saved, one per test module."""
    with redis_server(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture(scope="module")
def redis_url(redis: RedisServer) -> str:
    """The module's redis-server, database 0."""
    return redis.url


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
            **fake_aws_env(),
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


@pytest.fixture(scope="session")
def web_build(tmp_path_factory: pytest.TempPathFactory) -> WebBuild:
    """One production build of the site (``npm run build``), copied out of ``web/``."""
    return build_web(tmp_path_factory.mktemp("web") / "standalone")


#: The ops token the site fixture configures on the web server and its BFF.
SITE_OPS_TOKEN = "ops-test-token-4f9c2a7e1b8d3c6a5e0f9b2d7c41"


@pytest.fixture(scope="session")
def site(
    log_dir: Path,
    web_build: WebBuild,
    bff_env: dict[str, str],
    log_group: str,
    moto: Service,
) -> Iterator[Site]:
    """The production site over its own BFF, which symbolicates with this build's source maps."""
    env = {
        **bff_env,
        "BFF_SOURCEMAPS_DIR": str(web_build.sourcemaps),
        "BFF_OPS_TOKEN": SITE_OPS_TOKEN,
    }
    bff_svc = start_bff(log_dir, env, name="bff-site")
    web_env = {"WEB_DIAGNOSTICS": "1", "OPS_TOKEN": SITE_OPS_TOKEN}
    web_svc = start_web(log_dir, web_build, bff_svc.url, "web-site", web_env)
    yield Site(web_svc, bff_svc, web_build, log_group, moto.url, SITE_OPS_TOKEN, env)
    web_svc.stop()
    bff_svc.stop()
    assert not bff_svc.crashes(), bff_svc.crashes()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Debian's chromium driven by Playwright (no bundled browser download)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context and page per test."""
    context = browser.new_context()
    pg = context.new_page()
    yield pg
    context.close()
