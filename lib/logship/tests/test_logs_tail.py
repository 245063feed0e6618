"""scripts/logs_tail.py: formatting, and following a group on the moto server."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from .conftest import FAKE_AWS, wait_until
from .helpers import attached, handler_for

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "logs_tail.py"


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("logs_tail", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it executes
    spec.loader.exec_module(module)
    return module


tail = load()


def event(doc: Any, ts: int = 1_700_000_000_123) -> dict[str, Any]:
    message = doc if isinstance(doc, str) else json.dumps(doc)
    return {"timestamp": ts, "message": message, "eventId": "1", "logStreamName": "s"}


def test_formats_logship_json_on_one_line() -> None:
    doc = {
        "level": "ERROR",
        "service": "bff",
        "request_id": "0123456789abcdef",
        "message": "upstream failed\nretrying",
        "data": {"status": 502, "upstream": "catalog"},
        "exception": {"type": "TimeoutError", "message": "read timed out"},
    }
    line = tail.format_event(event(doc), color=False)
    assert line == (
        "22:13:20.123 ERROR    bff [0123456789abcdef] upstream failed\\nretrying "
        "exc=TimeoutError: read timed out status=502 upstream=catalog"
    )
    colored = tail.format_event(event(doc), color=True)
    assert "\033[31mERROR" in colored and "\n" not in colored


def test_plain_text_and_terminal_escapes_are_neutralised() -> None:
    line = tail.format_event(event("raw \x1b]0;pwned\x07 text\n"), color=False)
    assert "\x1b" not in line and "\\x1b" in line and line.startswith("22:13:20.123")


def test_since() -> None:
    assert tail.parse_since("10m") == 600_000
    assert tail.parse_since("2h") == 7_200_000
    with pytest.raises(Exception, match="duration"):
        tail.parse_since("soon")


def test_seen_is_bounded() -> None:
    seen = tail.Seen(limit=3)
    assert [seen.add(x) for x in "abca"] == [True, True, True, False]
    seen.add("d")
    assert seen.add("a") is True  # evicted, so it counts as new again


def run_env(moto_url: str, group: str) -> dict[str, str]:
    return {
        **os.environ,
        **FAKE_AWS,
        "LOG_CLOUDWATCH_GROUP": group,
        "LOG_CLOUDWATCH_ENDPOINT": moto_url,
        "PYTHONUNBUFFERED": "1",
    }


def test_once_prints_every_event(moto_url: str, group: str, tmp_path: Path) -> None:
    handler = handler_for(moto_url, group, tmp_path)
    with attached(handler) as logger:
        for i in range(30):
            logger.warning("tail me %d", i, extra={"i": i})
        handler.flush(10)
    out = subprocess.run(
        [sys.executable, str(SCRIPT), "--once", "--no-color", "--since", "5m"],
        env=run_env(moto_url, group),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.splitlines()
    assert len(out) == 30
    assert all("WARNING" in line and "svc" in line for line in out)


# Runs the follower with the named signals ignored, as a background job of a non-interactive
# shell starts it (exec keeps SIG_IGN).
IGNORING = (
    "import os, signal, sys\n"
    "for name in sys.argv[1].split(','):\n"
    "    signal.signal(getattr(signal, name), signal.SIG_IGN)\n"
    "os.execv(sys.executable, [sys.executable, *sys.argv[2:]])\n"
)


def follow_then_signal(
    moto_url: str, group: str, tmp_path: Path, signum: signal.Signals, ignored: str = ""
) -> None:
    """Follow, log five events, send ``signum`` once printed: exit 0, no traceback, no repeats."""
    args = [str(SCRIPT), "--no-color", "--interval", "0.2"]
    prefix = [sys.executable, "-c", IGNORING, ignored] if ignored else [sys.executable]
    out_path, err_path = tmp_path / "out.txt", tmp_path / "err.txt"

    def printed() -> int:
        return sum("live" in line for line in out_path.read_text().splitlines())

    with out_path.open("w") as out, err_path.open("w") as err:
        proc = subprocess.Popen(
            [*prefix, *args], env=run_env(moto_url, group), stdout=out, stderr=err
        )
    try:
        handler = handler_for(moto_url, group, tmp_path)
        with attached(handler) as logger:
            for i in range(5):
                logger.info("live %d", i)
            handler.flush(10)
        wait_until(lambda: printed() >= 5 or proc.poll() is not None, 30)
        assert proc.poll() is None, err_path.read_text()
        proc.send_signal(signum)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    err_text = err_path.read_text()
    assert proc.returncode == 0, err_text
    assert "Traceback" not in err_text
    assert printed() == 5


def test_follow_then_ctrl_c(moto_url: str, group: str, tmp_path: Path) -> None:
    follow_then_signal(moto_url, group, tmp_path, signal.SIGINT)


def test_follow_then_sigterm(moto_url: str, group: str, tmp_path: Path) -> None:
    follow_then_signal(moto_url, group, tmp_path, signal.SIGTERM)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=lambda s: s.name)
def test_follow_stops_even_when_started_with_signals_ignored(
    moto_url: str, group: str, tmp_path: Path, signum: signal.Signals
) -> None:
    follow_then_signal(moto_url, group, tmp_path, signum, ignored="SIGINT,SIGTERM")
