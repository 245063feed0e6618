"""Real gunicorn, each worker class: events queued at SIGTERM all reach CloudWatch (or the
spool, when CloudWatch is throttling) within the shutdown deadline."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
from testkit import http_ready, start

from .conftest import FAKE_AWS, fetch_messages, free_port, wait_until
from .faultproxy import FaultProxy
from .helpers import attached, handler_for

APP = """
import logging
from urllib.parse import parse_qs

log = logging.getLogger("sigterm.app")


def app(environ, start_response):
    if environ["PATH_INFO"] == "/log":
        query = parse_qs(environ.get("QUERY_STRING", ""))
        run = query["run"][0]
        for i in range(int(query["n"][0])):
            log.info("event %d", i, extra={"run": run, "seq": i})
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]
"""

CONFIG = """
import os

from logship import gunicorn as logship_gunicorn

bind = "127.0.0.1:" + os.environ["TEST_PORT"]
workers = 1
worker_class = os.environ["TEST_WORKER_CLASS"]
threads = 4
timeout = 30
graceful_timeout = 30
control_socket_disable = True
logconfig_dict = logship_gunicorn.logconfig_dict(service="sigterm", environment="test")
post_worker_init = logship_gunicorn.post_worker_init
worker_exit = logship_gunicorn.worker_exit
"""

EVENTS = 300
SHUTDOWN_TIMEOUT = 8


def start_gunicorn(
    tmp_path: Path, worker_class: str, endpoint: str, group: str
) -> tuple[subprocess.Popen[bytes], int]:
    (tmp_path / "app.py").write_text(textwrap.dedent(APP))
    (tmp_path / "gunicorn.conf.py").write_text(textwrap.dedent(CONFIG))
    port = free_port()
    env = {
        **os.environ,
        **FAKE_AWS,
        "PYTHONUNBUFFERED": "1",
        "TEST_PORT": str(port),
        "TEST_WORKER_CLASS": worker_class,
        "LOG_CLOUDWATCH_GROUP": group,
        "LOG_CLOUDWATCH_ENDPOINT": endpoint,
        "LOG_FLUSH_INTERVAL": "600",  # nothing is sent before SIGTERM
        "LOG_SPOOL_DIR": str(tmp_path / "spool"),
        "LOG_SHUTDOWN_TIMEOUT": str(SHUTDOWN_TIMEOUT),
        "LOG_STATS_INTERVAL": "0",
    }
    server = start(
        "gunicorn",
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "app:app"],
        log_dir=tmp_path,  # gunicorn.log
        port=port,
        env=env,
        inherit_env=False,
        cwd=tmp_path,
        ready=http_ready(f"http://127.0.0.1:{port}/"),
    )
    proc = server.popen
    return proc, port


def get(port: int, path: str) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
        return int(response.status)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(10)


def run_and_terminate(
    tmp_path: Path, worker_class: str, endpoint: str, group: str
) -> tuple[str, float]:
    proc, port = start_gunicorn(tmp_path, worker_class, endpoint, group)
    run = uuid.uuid4().hex
    try:
        assert get(port, f"/log?n={EVENTS}&run={run}") == 200
        start = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(SHUTDOWN_TIMEOUT + 25)
        return run, time.monotonic() - start
    finally:
        stop(proc)


def our_events(logs: Any, group: str, run: str) -> list[int]:
    return sorted(
        m["data"]["seq"] for m in fetch_messages(logs, group) if m.get("data", {}).get("run") == run
    )


@pytest.mark.parametrize("worker_class", ["sync", "gthread", "gevent"])
def test_sigterm_delivers_everything_queued(
    moto_url: str, group: str, logs: Any, tmp_path: Path, worker_class: str
) -> None:
    run, elapsed = run_and_terminate(tmp_path, worker_class, moto_url, group)
    output = (tmp_path / "gunicorn.log").read_text()
    assert our_events(logs, group, run) == list(range(EVENTS)), output
    assert elapsed < SHUTDOWN_TIMEOUT + 10
    assert "Traceback" not in output, output
    # gunicorn's own log lines are JSON on stdout (logconfig_dict) and shipped from the worker.
    docs = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert any(d["logger"] == "gunicorn.error" and "Booting worker" in d["message"] for d in docs)
    shipped = {m["logger"] for m in fetch_messages(logs, group)}
    assert "gunicorn.error" in shipped


@pytest.mark.parametrize("worker_class", ["sync", "gthread", "gevent"])
def test_sigterm_while_throttled_spools_then_replays(
    moto_url: str, group: str, logs: Any, tmp_path: Path, proxy: FaultProxy, worker_class: str
) -> None:
    proxy.mode = "throttle"
    run, elapsed = run_and_terminate(tmp_path, worker_class, proxy.url, group)
    output = (tmp_path / "gunicorn.log").read_text()
    assert elapsed < SHUTDOWN_TIMEOUT + 10, output
    assert our_events(logs, group, run) == []
    assert list((tmp_path / "spool" / "ready").iterdir()), output
    # The next process on the same spool directory replays once CloudWatch answers again.
    proxy.mode = "pass"
    handler = handler_for(proxy.url, group, tmp_path)
    with attached(handler):
        assert wait_until(lambda: len(our_events(logs, group, run)) >= EVENTS, 30, 0.5)
    assert our_events(logs, group, run) == list(range(EVENTS))
