"""configure(streams=...): a named logger shipped to its own stream of the same group."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from logship import setup as logship_setup
from logship.setup import ConfigError, configure

from .conftest import REGION


@pytest.fixture
def clean_root() -> Iterator[None]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    yield
    logship_setup._unroute()
    for handler in list(root.handlers):
        if handler not in saved[0]:
            root.removeHandler(handler)
            handler.close()
    for handler in saved[0]:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(saved[1])
    logship_setup._ACTIVE = None


def _env(group: str, moto_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "LOG_CLOUDWATCH_GROUP": group,
        "LOG_CLOUDWATCH_ENDPOINT": moto_url,
        "LOG_SPOOL_DIR": str(tmp_path / "spool"),
        "LOG_FLUSH_INTERVAL": "200ms",
        "AWS_REGION": REGION,
    }


def _by_stream(logs: Any, group: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for stream in logs.describe_log_streams(logGroupName=group)["logStreams"]:
        name = stream["logStreamName"]
        events = logs.get_log_events(logGroupName=group, logStreamName=name, startFromHead=True)
        out[name] = [json.loads(e["message"])["message"] for e in events["events"]]
    return out


def test_named_logger_ships_to_its_own_stream_once(
    clean_root: None, moto_url: str, group: str, logs: Any, tmp_path: Path
) -> None:
    out = io.StringIO()
    setup = configure(
        "svc",
        "test",
        env=_env(group, moto_url, tmp_path),
        stream=out,
        streams={"svc.reports": "reports/{hostname}/{pid}"},
    )
    reports = logging.getLogger("svc.reports")
    assert reports.propagate is False
    logging.getLogger("svc.other").info("main record")
    reports.warning("report record")
    logging.getLogger("svc.reports.child").warning("child record")
    setup.flush(10)
    streams = _by_stream(logs, group)
    [report_stream] = [name for name in streams if name.startswith("reports/")]
    [main_stream] = [name for name in streams if name.startswith("svc/")]
    assert streams[report_stream] == ["report record", "child record"]
    assert streams[main_stream] == ["main record"]
    printed = [json.loads(line)["message"] for line in out.getvalue().splitlines()]
    assert printed == ["main record", "report record", "child record"]  # stdout keeps them all
    stats = setup.stream_stats()["svc.reports"]
    assert stats["sent"] == 2 and stats["queued"] == 2

    # Configured again without streams: the logger propagates to the root handlers again.
    again = configure("svc", "test", env=_env(group, moto_url, tmp_path), stream=out)
    assert reports.propagate is True and not reports.handlers
    assert again.stream_handlers == {}
    again.shutdown(5)


def test_stream_handler_is_closed_by_shutdown(
    clean_root: None, moto_url: str, group: str, logs: Any, tmp_path: Path
) -> None:
    env = {**_env(group, moto_url, tmp_path), "LOG_FLUSH_INTERVAL": "60"}
    configure("svc", "test", env=env, stream=io.StringIO(), streams={"svc.reports": "r/{pid}"})
    logging.getLogger("svc.reports").warning("buffered until shutdown")
    logship_setup.shutdown(10)
    streams = _by_stream(logs, group)
    assert [v for k, v in streams.items() if k.startswith("r/")] == [["buffered until shutdown"]]


def test_streams_without_cloudwatch_just_propagate(clean_root: None) -> None:
    out = io.StringIO()
    setup = configure("svc", "test", env={}, stream=out, streams={"svc.reports": "r/{pid}"})
    logging.getLogger("svc.reports").warning("to stdout")
    assert setup.stream_handlers == {} and logging.getLogger("svc.reports").propagate is True
    assert json.loads(out.getvalue())["message"] == "to stdout"


@pytest.mark.parametrize("streams", [{"svc.reports": "{nope}"}, {"": "x/{pid}"}])
def test_bad_streams_are_config_errors(
    clean_root: None, moto_url: str, group: str, tmp_path: Path, streams: dict[str, str]
) -> None:
    with pytest.raises(ConfigError):
        configure("svc", "test", env=_env(group, moto_url, tmp_path), streams=streams)
