"""Fixtures: a real moto server subprocess, clients, unique log groups, the fault proxy."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest
from logship.cloudwatch import make_client
from testkit import free_port as free_port  # the suite's modules import it from here
from testkit import moto_server

from .faultproxy import FaultProxy

REGION = "us-east-1"
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "slow: long fault-injection scenarios (part of the default run)"
    )


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


@pytest.fixture(scope="session", autouse=True)
def fake_aws_env() -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in FAKE_AWS}
    os.environ.update(FAKE_AWS)
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def moto_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with moto_server(tmp_path_factory.mktemp("moto"), region=REGION) as moto:
        yield moto.url


def client_for(url: str, read_timeout: float = 5.0) -> Any:
    return make_client(
        region_name=REGION,
        endpoint_url=url,
        connect_timeout=2.0,
        read_timeout=read_timeout,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture
def logs(moto_url: str) -> Iterator[Any]:
    """A client straight to moto, for setting up and checking."""
    client = client_for(moto_url)
    yield client
    client.close()


@pytest.fixture
def group(logs: Any) -> str:
    name = f"/test/logship/{uuid.uuid4().hex[:12]}"
    logs.create_log_group(logGroupName=name)
    return name


@pytest.fixture
def proxy(moto_url: str) -> Iterator[FaultProxy]:
    host, port = moto_url.removeprefix("http://").split(":")
    fault = FaultProxy(host, int(port)).start()
    try:
        yield fault
    finally:
        fault.stop()


def fetch_events(client: Any, group: str) -> list[dict[str, Any]]:
    """Every event in the group (all streams), oldest first."""
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"logGroupName": group, "startTime": 0}
    for _ in range(10_000):
        page = client.filter_log_events(**kwargs)
        events.extend(page.get("events", []))
        token = page.get("nextToken")
        if not token or not page.get("events"):
            break
        kwargs["nextToken"] = token
    return events


def fetch_messages(client: Any, group: str) -> list[dict[str, Any]]:
    return [orjson.loads(event["message"]) for event in fetch_events(client, group)]
