"""`make dev`'s launcher: every part is wired to the others and to the local log emulator."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from .procs import ROOT, free_port


@pytest.fixture(scope="module")
def dev() -> ModuleType:
    spec = importlib.util.spec_from_file_location("dev_launcher", ROOT / "scripts" / "dev.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


def test_every_python_service_ships_logs_to_the_emulator(dev: ModuleType) -> None:
    parts = {p.name: p for p in dev.stack()}
    assert list(parts) == ["logs", "redis", "django", "fastapi", "bff", "web"]
    emulator = f"http://127.0.0.1:{parts['logs'].port}"
    for name, service in (("django", "catalog"), ("fastapi", "orders"), ("bff", "bff")):
        env = parts[name].env
        assert env["LOG_CLOUDWATCH_ENDPOINT"] == emulator, name
        assert env["LOG_CLOUDWATCH_GROUP"] and env["LOG_CLOUDWATCH_CREATE_GROUP"] == "1", name
        assert env["LOG_SERVICE"] == service
        assert env["AWS_REGION"]


def test_parts_point_at_each_other(dev: ModuleType) -> None:
    parts = {p.name: p for p in dev.stack()}
    bff = parts["bff"].env
    assert bff["BFF_UPSTREAM_CATALOG_URL"].endswith(f":{parts['django'].port}")
    assert bff["BFF_UPSTREAM_ORDERS_URL"].endswith(f":{parts['fastapi'].port}")
    assert parts["fastapi"].env["CATALOG_API_URL"].endswith(f":{parts['django'].port}")
    assert parts["web"].env["BFF_URL"] == f"http://127.0.0.1:{parts['bff'].port}"
    assert bff["BFF_RATELIMIT_STORAGE_URI"] == f"redis://127.0.0.1:{parts['redis'].port}/0"


def test_redis_comes_up_and_answers_ping(dev: ModuleType, tmp_path: Path) -> None:
    part = next(p for p in dev.stack() if p.name == "redis")
    port = free_port()
    argv = list(part.argv)
    argv[argv.index("--port") + 1] = str(port)
    part.port = port
    part.proc = subprocess.Popen(argv, cwd=tmp_path, stdout=subprocess.DEVNULL)  # noqa: S603
    try:
        assert dev.wait_healthy(part, 30)
    finally:
        part.proc.terminate()
        part.proc.wait(10)
    assert not dev.redis_answers(port)


_ON_TERM = """
import signal, sys, time
def term(*_):
    with open(sys.argv[1], "a") as fh:
        fh.write(f"{sys.argv[2]} term {time.monotonic()}\\n")
    time.sleep(float(sys.argv[3]))  # a service flushing its last log records
    with open(sys.argv[1], "a") as fh:
        fh.write(f"{sys.argv[2]} exit {time.monotonic()}\\n")
    sys.exit(0)
signal.signal(signal.SIGTERM, term)
print("ready", flush=True)
while True:
    time.sleep(0.05)
"""


def test_stop_waits_for_the_services_before_stopping_the_log_emulator(
    dev: ModuleType, tmp_path: Path
) -> None:
    """Otherwise the services' last records (their shutdown flush) find no emulator."""
    journal = tmp_path / "journal"
    parts = []
    for name, flush_seconds in (("logs", "0"), ("django", "0.3"), ("bff", "0.6")):
        proc = subprocess.Popen(
            [sys.executable, "-c", _ON_TERM, str(journal), name, flush_seconds],
            stdout=subprocess.PIPE,
            start_new_session=True,
        )
        assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
        parts.append(dev.Part(name, [], 0, "/", {}, proc=proc))

    dev.stop_all(parts, grace=10)

    events = {
        (who, what): float(at)
        for who, what, at in (line.split() for line in journal.read_text().splitlines())
    }
    assert events[("logs", "term")] > events[("bff", "exit")]
    assert events[("logs", "term")] > events[("django", "exit")]
    for part in parts:
        part.proc.stdout.close()
        assert part.proc.returncode == 0, part.name


def test_the_web_records_are_forwarded_to_the_emulator(dev: ModuleType) -> None:
    parts = {p.name: p for p in dev.stack()}
    web = parts["web"]
    assert web.forward and not any(p.forward for p in parts.values() if p.name != "web")
    assert web.env["LOG_SERVICE"] == "web"
    assert web.env["LOG_CLOUDWATCH_ENDPOINT"] == f"http://127.0.0.1:{parts['logs'].port}"
    assert web.env["LOG_CLOUDWATCH_GROUP"] == parts["bff"].env["LOG_CLOUDWATCH_GROUP"]


_RECORD = {
    "timestamp": "2026-12-07T01:02:03.456Z",
    "level": "WARNING",
    "logger": "web.bff",
    "message": "BFF call failed:\n  GET /api/catalog/items 502 " + "x" * 2000,
    "service": "web",
    "environment": "development",
    "request_id": "rid-1",
    "trace_id": None,
    "location": {"file": "a.ts", "line": 1, "function": "f"},
    "exception": {"type": "TypeError", "message": "fetch failed", "stack": "TypeError: x\n  at f"},
}


def test_records_show_as_one_short_line_with_the_stack_below(dev: ModuleType) -> None:
    shown = dev.render("web", json.dumps(_RECORD))
    first, *stack = shown.splitlines()
    assert first.startswith("01:02:03.456 web WARNING web.bff BFF call failed: GET /api/catalog")
    assert first.endswith("[rid-1]")
    assert len(first) < 300
    assert [line.strip() for line in stack] == ["TypeError: x", "at f"]
    assert dev.render("web", json.dumps(_RECORD), raw=True) == json.dumps(_RECORD)


@pytest.mark.parametrize(
    ("part", "line", "shown"),
    [
        pytest.param(
            "logs", '127.0.0.1 - - [07/Dec/2026 01:02:03] "POST / HTTP/1.1" 200 -', False, id="emu"
        ),
        pytest.param(
            "logs",
            '127.0.0.1 - - [07/Dec/2026 01:02:03] "POST / HTTP/1.1" 500 -',
            True,
            id="emu-5xx",
        ),
        pytest.param(
            "logs",
            '127.0.0.1 - - [07/Dec/2026 01:02:03] "\x1b[31m\x1b[1mPOST / HTTP/1.1\x1b[0m" 400 -',
            False,
            id="emu-coloured",
        ),
        pytest.param(
            "bff",
            json.dumps({**_RECORD, "logger": "logship.stats", "message": "logship stats"}),
            False,
            id="stats",
        ),
        pytest.param("web", "plain text from next dev", True, id="text"),
        pytest.param("web", "{not json", True, id="broken-json"),
    ],
)
def test_noise_is_left_out_and_text_kept(
    dev: ModuleType, part: str, line: str, shown: bool
) -> None:
    assert (dev.render(part, line) is not None) is shown
