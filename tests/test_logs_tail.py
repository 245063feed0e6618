"""`make logs` (scripts/logs_tail.py): whole request ids, --request-id and --level, against the
real CloudWatch emulator."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid

import pytest

from scripts import logs_tail

from .procs import ROOT, Service, logs_client

LONG_ID = "3f2a9c0e-7b1d-4e8a-9c55-0d1e2f3a4b5c"


@pytest.mark.parametrize(
    ("raw", "level"),
    [("warning", "WARNING"), ("WARN", "WARNING"), (" error ", "ERROR"), ("fatal", "CRITICAL")],
)
def test_level_names(raw: str, level: str) -> None:
    assert logs_tail.parse_level(raw) == level


@pytest.mark.parametrize("raw", ["LOUD", "", "30"])
def test_unknown_levels_are_refused(raw: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        logs_tail.parse_level(raw)


@pytest.mark.parametrize("raw", ['a" || $.x = "y', "", "x" * 129, "id with space"])
def test_request_ids_that_would_break_the_pattern_are_refused(raw: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        logs_tail.parse_request_id(raw)


def test_filter_pattern() -> None:
    selection = logs_tail.Selection(LONG_ID, "ERROR")
    assert selection.pattern() == (
        f'{{ ($.request_id = "{LONG_ID}") && ($.level = "ERROR" || $.level = "CRITICAL") }}'
    )
    assert logs_tail.Selection().pattern() is None
    assert logs_tail.Selection(None, "DEBUG").pattern() is None


def test_whole_request_id_is_printed() -> None:
    event = {
        "timestamp": 1_700_000_000_000,
        "message": json.dumps({"level": "INFO", "service": "bff", "request_id": LONG_ID}),
    }
    assert f"[{LONG_ID}]" in logs_tail.format_event(event, color=False)


def _record(level: str, request_id: str | None, message: str) -> str:
    return json.dumps(
        {"level": level, "service": "catalog", "request_id": request_id, "message": message}
    )


def _tail(moto: Service, group: str, *args: str) -> list[str]:
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "NO_COLOR": "1",
    }
    argv = [sys.executable, "scripts/logs_tail.py", "--group", group, "--endpoint-url", moto.url]
    done = subprocess.run(  # noqa: S603 - fixed argv, loopback emulator
        [*argv, "--region", "eu-west-1", "--once", "--no-color", "--since", "10m", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.splitlines()


def test_request_id_and_level_filters_on_the_emulator(moto: Service) -> None:
    logs = logs_client(moto)
    group = f"/test/logs-tail-{uuid.uuid4().hex[:8]}"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="catalog/h/1")
    other = "0" * 36
    records = [
        _record("INFO", LONG_ID, "GET /items 200"),
        _record("WARNING", LONG_ID, "slow upstream"),
        _record("ERROR", other, "boom"),
        _record("DEBUG", LONG_ID, "cache miss"),
        "plain text line",
        json.dumps({"level": "INFO", "logger": "bff.metrics", "message": "metrics"}),
        json.dumps({"level": "INFO", "logger": "logship.stats", "message": "logship stats"}),
    ]
    now = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName=group,
        logStreamName="catalog/h/1",
        logEvents=[{"timestamp": now - 5000 + i, "message": m} for i, m in enumerate(records)],
    )
    everything = _tail(moto, group)
    assert len(everything) == 5  # metric documents and shipping statistics left out
    assert len(_tail(moto, group, "--all")) == 7
    assert sum(f"[{LONG_ID}]" in line for line in everything) == 3
    one_request = _tail(moto, group, "--request-id", LONG_ID)
    assert [line.split(f"[{LONG_ID}] ")[1] for line in one_request] == [
        "GET /items 200",
        "slow upstream",
        "cache miss",
    ]
    warnings = _tail(moto, group, "--level", "warning")
    assert [line.split("] ")[1] for line in warnings] == ["slow upstream", "boom"]
    both = _tail(moto, group, "--request-id", LONG_ID, "--level", "WARNING")
    assert len(both) == 1 and both[0].endswith("slow upstream")
