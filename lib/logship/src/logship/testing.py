"""A real CloudWatch Logs emulator (moto server) for the end-to-end logging tests."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import httpx
from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_logs.client import CloudWatchLogsClient

MOTO_SERVER = Path(sys.executable).parent / "moto_server"
REGION = "eu-west-1"
MOTO_START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0
# Fake credentials and no shared AWS configuration: the services and the checks below talk
# to the emulator only.
FAKE_AWS = {
    "AWS_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "x",
    "AWS_SECRET_ACCESS_KEY": "x",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}

Record = dict[str, Any]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process, then SIGKILL its process group if it does not exit in time."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_TIMEOUT_S)


@contextlib.contextmanager
def moto_server(workdir: Path) -> Iterator[str]:
    """Start ``moto_server`` on a free loopback port; yields its URL, always stops it."""
    port = free_port()
    log_path = workdir / "moto.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - fixed argv, loopback only
            [str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(port)],
            cwd=workdir,
            env={**os.environ, **FAKE_AWS},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + MOTO_START_TIMEOUT_S
        with httpx.Client(trust_env=False, timeout=2.0) as client:
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"moto server exited:\n{log_path.read_text()}")
                with contextlib.suppress(httpx.TransportError):
                    if client.get(f"{url}/moto-api/").status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"moto server did not start:\n{log_path.read_text()}")
                time.sleep(0.1)
        yield url
    finally:
        stop_process(process)


def logging_env(
    moto_url: str, group: str, spool_dir: Path, *, flush_interval: str
) -> dict[str, str]:
    """The environment of a service that ships its logs to ``group`` on the emulator.

    Inherited ``LOG_*`` and ``AWS_*`` variables are dropped so the test is hermetic.
    """
    env = {key: value for key, value in os.environ.items() if not key.startswith(("LOG_", "AWS_"))}
    env.update(FAKE_AWS)
    env.update(
        {
            "LOG_CLOUDWATCH_GROUP": group,
            "LOG_CLOUDWATCH_ENDPOINT": moto_url,
            "LOG_CLOUDWATCH_CREATE_GROUP": "1",
            "LOG_FLUSH_INTERVAL": flush_interval,
            "LOG_SPOOL_DIR": str(spool_dir),
        }
    )
    return env


def logs_client(moto_url: str) -> CloudWatchLogsClient:
    return boto3.client(
        "logs",
        endpoint_url=moto_url,
        region_name=REGION,
        aws_access_key_id=FAKE_AWS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_AWS["AWS_SECRET_ACCESS_KEY"],
    )


def fetch_records(client: CloudWatchLogsClient, group: str) -> list[Record]:
    """Every event of ``group`` (all streams), parsed as JSON; [] while the group is missing."""
    records: list[Record] = []
    token: str | None = None
    for _ in range(1000):
        try:
            if token is None:
                page = client.filter_log_events(logGroupName=group, startTime=0)
            else:
                page = client.filter_log_events(logGroupName=group, startTime=0, nextToken=token)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return []
            raise
        events = page.get("events", [])
        records.extend(json.loads(event["message"]) for event in events if "message" in event)
        token = page.get("nextToken")
        if not token or not events:
            break
    return records


def wait_for_records(
    client: CloudWatchLogsClient,
    group: str,
    predicate: Callable[[Record], bool],
    *,
    count: int = 1,
    timeout: float = 15.0,
) -> list[Record]:
    """Poll ``group`` until ``count`` records match ``predicate`` (or ``timeout`` passes);
    returns the matching records."""
    deadline = time.monotonic() + timeout
    while True:
        matches = [record for record in fetch_records(client, group) if predicate(record)]
        if len(matches) >= count or time.monotonic() > deadline:
            return matches
        time.sleep(0.25)
