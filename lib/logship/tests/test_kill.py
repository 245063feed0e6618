"""Nothing lost when a process is killed: SIGKILL right after the last ``emit`` returned, with
CloudWatch up or unreachable, and gunicorn workers or the master killed under load; the next
process on the same spool directory delivers what the dead one left."""

from __future__ import annotations

import collections
import http.client
import os
import signal
import subprocess
import sys
import textwrap
import threading
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

CHILD = """
import logging, os, signal, sys
from logship.cloudwatch import CloudWatchHandler, make_client

url, group, spool, run, count, flush, max_events = sys.argv[1:8]
client = make_client(region_name="us-east-1", endpoint_url=url, connect_timeout=1,
                     read_timeout=2)
handler = CloudWatchHandler(group, service="kill", boto3_client=client, spool_dir=spool,
                            flush_interval=float(flush), stats_interval=0, max_attempts=2,
                            backoff_base=0.02, backoff_cap=0.05,
                            buffer_max_events=int(max_events))
log = logging.getLogger("kill")
log.propagate = False
log.setLevel(logging.INFO)
log.addHandler(handler)
for i in range(int(count)):
    log.info("record %d", i, extra={"run": run, "seq": i})
os.kill(os.getpid(), signal.SIGKILL)  # right after the last emit returned
"""


def run_child(
    url: str, group: str, spool: Path, run: str, count: int, flush: float, max_events: int
) -> None:
    argv = [url, group, str(spool), run, str(count), str(flush), str(max_events)]
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, *argv],
        env={**os.environ, **FAKE_AWS},
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]


def seqs(logs: Any, group: str, run: str) -> list[int]:
    return sorted(
        m["data"]["seq"] for m in fetch_messages(logs, group) if m.get("data", {}).get("run") == run
    )


def duplicates(found: list[int]) -> int:
    return sum(count - 1 for count in collections.Counter(found).values())


@pytest.mark.parametrize(
    ("count", "flush", "max_events", "max_duplicates"),
    [
        # Nothing is sent before the kill (below the buffer's send trigger): no duplicates.
        pytest.param(3_000, 600.0, 20_000, 0, id="nothing-sent-before-the-kill"),
        # Killed while sending: the one duplicate window is the PutLogEvents request in flight
        # (the server may take it after the client died; the checkpoint had not moved); a
        # request holds at most one batch, at most the whole buffer (2,000 events here).
        pytest.param(6_000, 0.02, 2_000, 2_000, id="killed-while-sending"),
    ],
)
def test_sigkill_after_last_emit_loses_nothing(
    moto_url: str,
    group: str,
    logs: Any,
    tmp_path: Path,
    count: int,
    flush: float,
    max_events: int,
    max_duplicates: int,
) -> None:
    run = uuid.uuid4().hex
    spool = tmp_path / "spool"
    run_child(moto_url, group, spool, run, count, flush, max_events)
    handler = handler_for(moto_url, group, tmp_path)  # the next process on the same spool
    with attached(handler):
        assert wait_until(lambda: len(set(seqs(logs, group, run))) == count, 30, 0.25)
        recovered = handler.stats()["journal_recovered"]
    found = seqs(logs, group, run)
    assert sorted(set(found)) == list(range(count))
    assert duplicates(found) <= max_duplicates, duplicates(found)
    assert recovered >= 1
    assert not list((spool / "journal").glob("*.jsonl"))


def test_sigkill_during_outage_then_recovery(
    proxy: FaultProxy, group: str, logs: Any, tmp_path: Path
) -> None:
    run = uuid.uuid4().hex
    spool = tmp_path / "spool"
    count = 4_000
    proxy.mode = "reset"  # CloudWatch unreachable: part spooled, part buffered, then killed
    run_child(proxy.url, group, spool, run, count, 0.02, 2_000)
    assert seqs(logs, group, run) == []
    proxy.mode = "pass"
    handler = handler_for(proxy.url, group, tmp_path)
    with attached(handler):
        assert wait_until(lambda: len(seqs(logs, group, run)) >= count, 30, 0.25)
        time.sleep(0.5)
    found = seqs(logs, group, run)
    assert sorted(set(found)) == list(range(count))
    # Nothing was accepted during the outage; the duplicate window is a batch written to the
    # spool (fsync) just before the kill, its journal checkpoint not yet written: one batch,
    # at most the whole buffer (2,000 events here).
    assert duplicates(found) <= 2_000, duplicates(found)


# -- gunicorn ------------------------------------------------------------------------------------

APP = """
import logging, os

log = logging.getLogger("kill.app")


def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/pid":
        body = str(os.getpid()).encode()
    else:
        run, seq = environ.get("QUERY_STRING", "").split("&")
        for part in range(3):
            log.info("answered", extra={"run": run, "seq": int(seq), "part": part})
        body = b"ok"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
"""

CONFIG = """
import os

from logship import gunicorn as logship_gunicorn

bind = "127.0.0.1:" + os.environ["TEST_PORT"]
workers = 2
worker_class = "gevent"
timeout = 30
graceful_timeout = 20
control_socket_disable = True
logconfig_dict = logship_gunicorn.logconfig_dict(service="kill", environment="test")
post_worker_init = logship_gunicorn.post_worker_init
worker_exit = logship_gunicorn.worker_exit
"""


def start_gunicorn(
    tmp_path: Path, endpoint: str, group: str
) -> tuple[subprocess.Popen[bytes], int]:
    (tmp_path / "app.py").write_text(textwrap.dedent(APP))
    (tmp_path / "gunicorn.conf.py").write_text(textwrap.dedent(CONFIG))
    port = free_port()
    env = {
        **os.environ,
        **FAKE_AWS,
        "TEST_PORT": str(port),
        "LOG_CLOUDWATCH_GROUP": group,
        "LOG_CLOUDWATCH_ENDPOINT": endpoint,
        "LOG_FLUSH_INTERVAL": "0.5",
        "LOG_SPOOL_DIR": str(tmp_path / "spool"),
        "LOG_SHUTDOWN_TIMEOUT": "8",
        "LOG_STATS_INTERVAL": "0",
    }
    server = start(
        "gunicorn",
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "app:app"],
        log_dir=tmp_path,  # gunicorn.log, appended to by each start
        port=port,
        env=env,
        inherit_env=False,
        cwd=tmp_path,
        ready=http_ready(f"http://127.0.0.1:{port}/pid"),
    )
    proc = server.popen
    return proc, port


class Load:
    """Keep-alive-free GETs from a few threads; remembers which requests were answered.

    ``rate`` caps the requests per second of all threads together (None: as fast as they go)."""

    def __init__(self, port: int, run: str, threads: int = 4, rate: float | None = None) -> None:
        self.port = port
        self.run = run
        self._gap = 1.0 / rate if rate else 0.0
        self._due = time.monotonic()
        self.answered: list[int] = []
        self._next = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._loop, daemon=True) for _ in range(threads)]

    def _loop(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                seq = self._next
                self._next += 1
                due = self._due = max(self._due + self._gap, time.monotonic())
            if self._gap:
                time.sleep(max(0.0, due - time.monotonic()))
            url = f"http://127.0.0.1:{self.port}/log?{self.run}&{seq}"
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    if response.status == 200 and response.read() == b"ok":
                        with self._lock:
                            self.answered.append(seq)
            except (OSError, http.client.HTTPException):  # the server is being killed
                time.sleep(0.01)

    @property
    def next_seq(self) -> int:
        """How many requests were started."""
        with self._lock:
            return self._next

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(10)


def worker_pids(master: int) -> list[int]:
    out = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(master)], capture_output=True, text=True, check=False
    )
    return [int(pid) for pid in out.stdout.split()]


def stop_group(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def check_delivered(logs: Any, group: str, run: str, answered: list[int]) -> None:
    def records() -> collections.Counter[tuple[int, int]]:
        return collections.Counter(
            (m["data"]["seq"], m["data"]["part"])
            for m in fetch_messages(logs, group)
            if m.get("data", {}).get("run") == run
        )

    expected = {(seq, part) for seq in answered for part in range(3)}
    assert wait_until(lambda: expected <= set(records()), 30, 0.5), (
        f"missing {len(expected - set(records()))} of {len(expected)} answered records"
    )
    found = records()
    # Requests under way when the worker died may have logged without being answered.
    assert len(set(found) - expected) <= 3 * 16
    dups = sum(count - 1 for count in found.values())
    assert dups <= 1_000  # one in-flight batch at most


def test_gunicorn_worker_sigkill_under_load(
    moto_url: str, group: str, logs: Any, tmp_path: Path
) -> None:
    run = uuid.uuid4().hex
    proc, port = start_gunicorn(tmp_path, moto_url, group)
    try:
        with Load(port, run) as load:
            time.sleep(1.5)
            victim = worker_pids(proc.pid)[0]
            os.kill(victim, signal.SIGKILL)  # gunicorn starts a new worker; it recovers
            time.sleep(1.5)
        assert len(load.answered) > 50
        stop_group(proc)
        # What the shutdown or the replacement worker left in the spool (a deadline reached)
        # goes with the next process on the directory, as in production.
        with attached(handler_for(moto_url, group, tmp_path)):
            check_delivered(logs, group, run, load.answered)
    finally:
        stop_group(proc)


@pytest.mark.parametrize("whole_group", [False, True], ids=["master-only", "master-and-workers"])
def test_gunicorn_master_sigkill_under_load(
    moto_url: str, group: str, logs: Any, tmp_path: Path, whole_group: bool
) -> None:
    run = uuid.uuid4().hex
    proc, port = start_gunicorn(tmp_path, moto_url, group)
    try:
        with Load(port, run) as load:
            time.sleep(2.0)
            if whole_group:
                os.killpg(proc.pid, signal.SIGKILL)
            else:
                workers = worker_pids(proc.pid)
                proc.send_signal(signal.SIGKILL)  # orphans the workers; they exit on their own
                assert wait_until(
                    lambda: not any(os.path.exists(f"/proc/{pid}") for pid in workers), 30
                )
            proc.wait(10)
        assert len(load.answered) > 50
        restarted, _ = start_gunicorn(tmp_path, moto_url, group)  # same spool: recovers
        try:
            check_delivered(logs, group, run, load.answered)
        finally:
            stop_group(restarted)
    finally:
        stop_group(proc)
