"""Reading CloudWatch Logs for the ops API: a lazily made client, and ``filter_log_events``
paged with bounds in pages, events and wall-clock time."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, cast

import orjson
from botocore.exceptions import BotoCoreError, ClientError
from flask import Response
from logship.config import parse_env as parse_log_env

from ..errors import problem_response

if TYPE_CHECKING:
    from mypy_boto3_logs.client import CloudWatchLogsClient

CLIENT_ERRORS_STREAM_PREFIX = "client-errors/"
MAX_PAGES = 20  # filter_log_events pages per query (each up to 10,000 events / 1 MB)
MAX_EVENTS = 20_000  # events read per query; past this the answer says "truncated"
SCAN_SECONDS = 8.0  # wall-clock budget per query, below gunicorn's 30 s worker timeout
EXTENSION_KEY = "bff.ops.logs"


class LogsClient(Protocol):
    """The one CloudWatch Logs call the ops API makes (a boto3 ``logs`` client has it)."""

    def filter_log_events(self, **kwargs: Any) -> Mapping[str, Any]:
        """One page of events."""


class LogsUnavailable(Exception):
    """CloudWatch Logs could not be read; the message says why."""


@dataclass
class LogsSource:
    """Where the ops API reads logs: the group, and a CloudWatch Logs client made on first use
    (after gunicorn's fork, in the worker that uses it)."""

    group: str | None
    make_client: Callable[[], LogsClient]
    _client: LogsClient | None = field(default=None, repr=False)

    def client(self) -> LogsClient:
        """The client, created once."""
        if self._client is None:
            self._client = self.make_client()
        return self._client


def logs_source_from_env(env: Mapping[str, str]) -> LogsSource:
    """The log group and endpoint logship ships to (``LOG_CLOUDWATCH_GROUP``, ``..._ENDPOINT``)."""
    log_settings = parse_log_env(env)

    def make_client() -> LogsClient:
        import boto3
        import botocore.config

        client: CloudWatchLogsClient = boto3.session.Session().client(
            "logs",
            region_name=log_settings.region,
            endpoint_url=log_settings.endpoint_url,
            config=botocore.config.Config(
                connect_timeout=2,
                read_timeout=5,
                retries={"total_max_attempts": 2, "mode": "standard"},
                max_pool_connections=4,
            ),
        )
        return cast(LogsClient, client)

    return LogsSource(group=log_settings.cloudwatch_group, make_client=make_client)


def unavailable(exc: LogsUnavailable) -> Response:
    """503 problem: CloudWatch Logs could not be read."""
    return problem_response(503, "logs-unavailable", str(exc), headers={"Retry-After": "10"})


@dataclass
class Scan:
    """Events read from CloudWatch: parsed records with their stream and timestamp."""

    events: list[tuple[int, str, dict[str, Any]]] = field(default_factory=list)
    scanned: int = 0
    unreadable: int = 0
    truncated: bool = False
    missing_group: bool = False


def scan_events(
    client: LogsClient,
    group: str,
    *,
    stream_prefix: str,
    start_ms: int,
    end_ms: int,
    filter_pattern: str | None = None,
    keep: Callable[[dict[str, Any]], bool] = lambda record: True,
    max_pages: int = MAX_PAGES,
    max_events: int = MAX_EVENTS,
    budget_seconds: float = SCAN_SECONDS,
    clock: Callable[[], float] = time.monotonic,
) -> Scan:
    """Page through ``filter_log_events`` for streams under ``stream_prefix``, bounded in pages,
    events and wall-clock time; JSON records that ``keep`` accepts are returned.

    The stream prefix, the time range and ``keep`` are also applied here, so an endpoint that
    ignores the server-side filters (an emulator) gives the same answer.
    """
    scan = Scan()
    deadline = clock() + budget_seconds
    request_args: dict[str, Any] = {"logGroupName": group, "startTime": start_ms, "endTime": end_ms}
    if stream_prefix:  # CloudWatch refuses an empty prefix; "" means every stream
        request_args["logStreamNamePrefix"] = stream_prefix
    if filter_pattern:
        request_args["filterPattern"] = filter_pattern
    token: str | None = None
    for page_number in range(max_pages):
        if token is not None:
            request_args["nextToken"] = token
        try:
            page = client.filter_log_events(**request_args)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "ResourceNotFoundException":
                scan.missing_group = True
                return scan
            raise LogsUnavailable(f"CloudWatch Logs refused the query: {code or exc}") from None
        except BotoCoreError as exc:
            raise LogsUnavailable(f"CloudWatch Logs cannot be reached: {exc}") from None
        for event in page.get("events") or ():
            if not str(event.get("logStreamName", "")).startswith(stream_prefix):
                continue
            scan.scanned += 1
            try:
                record = orjson.loads(event.get("message", ""))
            except orjson.JSONDecodeError:
                scan.unreadable += 1
                continue
            if not isinstance(record, dict):
                scan.unreadable += 1
                continue
            timestamp = event.get("timestamp")
            if not isinstance(timestamp, int):
                timestamp = 0
            if start_ms <= timestamp <= end_ms and keep(record):
                scan.events.append((timestamp, str(event["logStreamName"]), record))
        token = page.get("nextToken")
        if not token:
            return scan
        if scan.scanned >= max_events or clock() >= deadline or page_number == max_pages - 1:
            scan.truncated = True
            return scan
    return scan


#: Why the incident view has nothing to read (answered 200 with ``configured: false``).
LOG_GROUP_MISSING = (
    "LOG_CLOUDWATCH_GROUP is not set: the BFF ships no logs, so there is nothing to read. "
    "Set it (and LOG_CLOUDWATCH_ENDPOINT for the local emulator)."
)
