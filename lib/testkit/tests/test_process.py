"""Process: start, readiness, output on failure, stop with SIGTERM then SIGKILL."""

from __future__ import annotations

import signal
import socket
import sys
import time
from pathlib import Path

import pytest
from testkit import StartError, free_port, http_ready, start, tcp_ready

PY = sys.executable


def test_free_port_is_bindable() -> None:
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_start_waits_for_http_and_stops_with_sigterm(tmp_path: Path) -> None:
    port = free_port()
    argv = [PY, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
    url = f"http://127.0.0.1:{port}/"
    with start("web", argv, log_dir=tmp_path, port=port, cwd=tmp_path,
               ready=http_ready(url)) as proc:  # fmt: skip
        assert proc.running()
        assert proc.url == f"http://127.0.0.1:{port}"
        assert http_ready(url)() is None
    assert proc.returncode == -signal.SIGTERM
    assert tcp_ready(port)() is not None


def test_env_is_added_and_output_is_kept(tmp_path: Path) -> None:
    code = "import os; print(os.environ['TESTKIT_VALUE'], os.environ.get('HOME') is not None)"
    proc = start("echo", [PY, "-c", code], log_dir=tmp_path, env={"TESTKIT_VALUE": "seen"})
    assert proc.popen.wait(30) == 0
    assert proc.output().splitlines() == ["seen True"]
    bare = start("bare", [PY, "-c", code], log_dir=tmp_path,
                 env={"TESTKIT_VALUE": "alone"}, inherit_env=False)  # fmt: skip
    assert bare.popen.wait(30) == 0
    assert bare.output().splitlines() == ["alone False"]


def test_exit_before_ready_shows_the_output(tmp_path: Path) -> None:
    code = "import sys; print('cannot bind: address in use'); sys.exit(3)"
    with pytest.raises(StartError, match=r"(?s)exited with 3.*cannot bind: address in use"):
        start("broken", [PY, "-c", code], log_dir=tmp_path, ready=tcp_ready(free_port()))


def test_timeout_is_bounded_shows_why_and_kills(tmp_path: Path) -> None:
    code = "import time; print('still starting', flush=True); time.sleep(60)"
    began = time.monotonic()
    with pytest.raises(StartError, match=r"(?s)not ready in 0.5 s \(connect .*still starting"):
        start("slow", [PY, "-c", code], log_dir=tmp_path, ready=tcp_ready(free_port()),
              timeout=0.5)  # fmt: skip
    assert time.monotonic() - began < 10


def test_stop_kills_what_ignores_sigterm(tmp_path: Path) -> None:
    code = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('ready', flush=True); time.sleep(60)"
    )
    proc = start("stubborn", [PY, "-c", code], log_dir=tmp_path,
                 ready=lambda: None if "ready" in (tmp_path / "stubborn.log").read_text()
                 else "no line yet")  # fmt: skip
    began = time.monotonic()
    assert proc.stop(timeout=0.5) == -signal.SIGKILL
    assert time.monotonic() - began < 10


def test_stop_reaches_the_whole_group(tmp_path: Path) -> None:
    child = "import time; time.sleep(60)"
    code = (
        "import subprocess, sys, time; "
        f"p = subprocess.Popen([sys.executable, '-c', {child!r}]); "
        "print(p.pid, flush=True); time.sleep(60)"
    )
    log = tmp_path / "parent.log"
    proc = start("parent", [PY, "-c", code], log_dir=tmp_path,
                 ready=lambda: None if log.read_text().strip() else "no pid yet")  # fmt: skip
    child_pid = int(log.read_text().split()[0])
    proc.stop()
    deadline = time.monotonic() + 10
    while Path(f"/proc/{child_pid}").exists() and time.monotonic() < deadline:
        state = Path(f"/proc/{child_pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
        if state == "Z":  # exited, waiting for init to reap it
            break
        time.sleep(0.05)
    else:
        assert not Path(f"/proc/{child_pid}").exists()


def test_http_ready_reports_the_status(tmp_path: Path) -> None:
    port = free_port()
    argv = [PY, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
    with start("web", argv, log_dir=tmp_path, port=port, cwd=tmp_path,
               ready=tcp_ready(port)) as proc:  # fmt: skip
        assert http_ready(proc.url + "/missing")() == f"GET {proc.url}/missing: status 404"
        assert http_ready(proc.url + "/missing", statuses=(404,))() is None
