"""What the end-to-end logging tests check logship with: the environment that makes a service
ship to a CloudWatch Logs endpoint (the emulator in tests), and reading the records back.

Starting the emulator itself, free ports and stopping processes are generic test support and
live in the development package ``testkit`` (``testkit.moto_server``): logship does not depend
on it, at run time or here."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_logs.client import CloudWatchLogsClient

REGION = "eu-west-1"
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
