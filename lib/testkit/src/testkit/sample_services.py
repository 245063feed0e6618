"""pytest plugin: the sample services of ``upstreams/`` on free ports, and the CloudWatch Logs
emulator, as the Django and FastAPI suites use them.

Load it from a suite's top-level ``conftest.py`` with ``pytest_plugins =
["testkit.sample_services"]``. Each service runs through its own ``run.py`` (gunicorn for the
catalog, uvicorn for orders), exactly as ``make dev`` starts it.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Literal

import pytest

from .process import STARTUP_TIMEOUT_S, Process, free_port, http_ready, start
from .services import MotoServer, moto_server

Sample = Literal["catalog", "orders"]
RUNNERS: dict[Sample, str] = {
    "catalog": "upstreams/django_api/run.py",
    "orders": "upstreams/fastapi_api/run.py",
}
#: Inherited variables a sample service must not see unless a test sets them: where logs go,
#: AWS credentials, and the switch for the diagnostics endpoints.
HERMETIC_PREFIXES = ("LOG_", "AWS_", "UPSTREAM_TEST_ENDPOINTS")


def repo_root() -> Path:
    """The checkout holding ``upstreams/``: found from the working directory, else from here."""
    for start_dir in (Path.cwd(), Path(__file__).resolve()):
        for candidate in (start_dir, *start_dir.parents):
            if (candidate / RUNNERS["catalog"]).is_file():
                return candidate
    raise FileNotFoundError("no upstreams/django_api/run.py above the working directory")


def sample_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without ``LOG_*``, ``AWS_*`` and ``UPSTREAM_TEST_ENDPOINTS``,
    plus ``env``."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(HERMETIC_PREFIXES)}
    return {**base, **(env or {})}


def start_sample(
    service: Sample,
    workdir: Path,
    env: Mapping[str, str] | None = None,
    *,
    args: Sequence[str] = (),
    name: str | None = None,
    timeout: float = STARTUP_TIMEOUT_S,
) -> Process:
    """Run a sample service's ``run.py`` on a free port with ``workdir`` as its working
    directory (the runner must not depend on it) and wait until ``/healthz`` answers 200.

    ``env`` is added to the hermetic environment of ``sample_env``; ``args`` go to run.py
    (``--workers``, ``--threads``, ...)."""
    port = free_port()
    runner = repo_root() / RUNNERS[service]
    argv = [sys.executable, str(runner), "--host", "127.0.0.1", "--port", str(port), *args]
    return start(
        name or service,
        argv,
        log_dir=workdir,
        log_name=f"{name or service}-{port}",
        port=port,
        env=sample_env(env),
        inherit_env=False,
        cwd=workdir,
        ready=http_ready(f"http://127.0.0.1:{port}/healthz"),
        timeout=timeout,
    )


class SampleServices:
    """Starts sample services for one test and stops every one of them afterwards."""

    def __init__(self, workdir: Path) -> None:
        """Services run in (and log to) ``workdir``."""
        self.workdir = workdir
        self.started: list[Process] = []

    def start(
        self,
        service: Sample,
        env: Mapping[str, str] | None = None,
        *,
        args: Sequence[str] = (),
        name: str | None = None,
    ) -> Process:
        """``start_sample`` in this test's directory; stopped when the test ends."""
        process = start_sample(service, self.workdir, env, args=args, name=name)
        self.started.append(process)
        return process

    def stop_all(self) -> None:
        """Stop what is still running, newest first."""
        while self.started:
            self.started.pop().stop()


@pytest.fixture
def sample_service(tmp_path: Path) -> Iterator[SampleServices]:
    """Start sample services for this test: ``sample_service.start("catalog", env)``."""
    services = SampleServices(tmp_path)
    try:
        yield services
    finally:
        services.stop_all()


@pytest.fixture(scope="module")
def live_catalog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Process]:
    """The catalog (Django under gunicorn, one worker, four threads) with its seeded database
    and diagnostics endpoints, for the whole module; no log shipping."""
    workdir = tmp_path_factory.mktemp("catalog")
    env = {"CATALOG_DB_PATH": str(workdir / "catalog.sqlite3"), "UPSTREAM_TEST_ENDPOINTS": "1"}
    with start_sample("catalog", workdir, env, args=["--workers", "1", "--threads", "4"]) as proc:
        yield proc


@pytest.fixture(scope="module")
def live_orders(
    tmp_path_factory: pytest.TempPathFactory, live_catalog: Process
) -> Iterator[Process]:
    """The orders service (FastAPI under uvicorn) over ``live_catalog``, for the whole module."""
    workdir = tmp_path_factory.mktemp("orders")
    env = {"CATALOG_API_URL": live_catalog.url, "UPSTREAM_TEST_ENDPOINTS": "1"}
    with start_sample("orders", workdir, env) as proc:
        yield proc


@pytest.fixture(scope="session")
def cloudwatch_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    """One moto server (CloudWatch Logs) for the session."""
    with moto_server(tmp_path_factory.mktemp("moto")) as server:
        yield server


@pytest.fixture
def log_group() -> str:
    """A log group name no other test uses."""
    return f"/test/{uuid.uuid4()}"
