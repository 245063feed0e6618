"""Start a command in its own process group, wait until it is ready, and always stop it."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Self

#: How long ``start`` waits for readiness unless told otherwise (generous: the machine is shared).
STARTUP_TIMEOUT_S = 60.0
#: How long ``stop`` waits after SIGTERM before it sends SIGKILL.
STOP_TIMEOUT_S = 15.0
#: How many of the last output lines an error message shows.
TAIL_LINES = 60
POLL_INTERVAL_S = 0.1

#: A readiness check: None when ready, otherwise why not yet (shown if the wait times out).
Ready = Callable[[], str | None]

# Loopback only: never through a proxy from the environment (http_proxy and friends).
_LOOPBACK = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class StartError(RuntimeError):
    """A process exited, or did not become ready in time; the message carries its output."""

    def __init__(self, message: str, *, reason: str, returncode: int | None) -> None:
        """``reason``: why it is not ready; ``returncode``: its exit status if it exited."""
        super().__init__(message)
        self.reason = reason
        self.returncode = returncode


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_ready(
    url: str, statuses: Collection[int] = (200,), timeout: float = 2.0
) -> Callable[[], str | None]:
    """A check that GET ``url`` (loopback, no proxy) answers with one of ``statuses``."""

    def check() -> str | None:
        try:
            with _LOOPBACK.open(url, timeout=timeout) as response:
                status = int(response.status)
        except urllib.error.HTTPError as exc:
            status = exc.code
        except (urllib.error.URLError, OSError) as exc:
            return f"GET {url}: {exc}"
        return None if status in statuses else f"GET {url}: status {status}"

    return check


def tcp_ready(port: int, host: str = "127.0.0.1", timeout: float = 1.0) -> Callable[[], str | None]:
    """A check that ``host:port`` accepts a TCP connection."""

    def check() -> str | None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                return None
        except OSError as exc:
            return f"connect {host}:{port}: {exc}"

    return check


def redis_ready(port: int, timeout: float = 1.0) -> Callable[[], str | None]:
    """A check that a redis server on 127.0.0.1:``port`` answers PING with PONG."""

    def check() -> str | None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
                sock.sendall(b"PING\r\n")
                answer = sock.recv(64)
        except OSError as exc:
            return f"redis PING on port {port}: {exc}"
        return None if answer.startswith(b"+PONG") else f"redis PING answered {answer!r}"

    return check


def stop_group(popen: subprocess.Popen[bytes], sig: int = signal.SIGTERM,
               timeout: float = STOP_TIMEOUT_S) -> int | None:  # fmt: skip
    """Stop a process started with ``start_new_session``: ``sig`` to its group, wait, then
    SIGKILL to the group (also for leftovers of a process that did exit, and also when the wait
    is interrupted). Returns the exit status (None if it could not be reaped)."""
    for stream in (popen.stdin, popen.stdout):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()
    try:
        if popen.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(popen.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                popen.wait(timeout=timeout)
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(popen.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            popen.wait(timeout=timeout)
    return popen.returncode


class Process:
    """A started command: its Popen, where it listens (if it does) and its output file."""

    def __init__(
        self, name: str, popen: subprocess.Popen[bytes], log_path: Path, port: int | None = None
    ) -> None:
        """Wrap a started process; ``start`` is the usual way to get one."""
        self.name = name
        self.popen = popen
        self.log_path = log_path
        self.port = port

    def __repr__(self) -> str:
        """Name, pid and port."""
        return f"<Process {self.name} pid={self.popen.pid} port={self.port}>"

    @property
    def pid(self) -> int:
        """The process id (also its process group id)."""
        return self.popen.pid

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        if self.port is None:
            raise ValueError(f"{self.name} was started without a port")
        return f"http://127.0.0.1:{self.port}"

    @property
    def returncode(self) -> int | None:
        """The exit status, or None while it runs."""
        return self.popen.poll()

    def running(self) -> bool:
        """Whether the process has not exited yet."""
        return self.popen.poll() is None

    def output(self) -> str:
        """Everything the process wrote so far (stdout and stderr)."""
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def tail(self, lines: int = TAIL_LINES) -> str:
        """The last ``lines`` lines of the output, or a note that there is none."""
        text = self.output()
        return "\n".join(text.splitlines()[-lines:]) if text else "(no output)"

    def wait_ready(self, ready: Ready, timeout: float = STARTUP_TIMEOUT_S) -> None:
        """Poll ``ready`` until it returns None; raise StartError with the output's tail if
        the process exits first or ``timeout`` passes (the process is then left running)."""
        deadline = time.monotonic() + timeout
        reason = "not checked yet"
        while True:
            code = self.popen.poll()
            if code is not None:
                message = f"{self.name} exited with {code}:\n{self.tail()}"
                raise StartError(message, reason=f"exited with {code}", returncode=code)
            reason = ready() or ""
            if not reason:
                return
            if time.monotonic() >= deadline:
                message = f"{self.name} not ready in {timeout:g} s ({reason}):\n{self.tail()}"
                raise StartError(message, reason=reason, returncode=None)
            time.sleep(POLL_INTERVAL_S)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT_S) -> int | None:
        """``sig`` (SIGTERM) to the process group, SIGKILL after ``timeout``; the exit status."""
        return stop_group(self.popen, sig, timeout)

    def __enter__(self) -> Self:
        """The process itself."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the process."""
        self.stop()


def start(
    name: str,
    argv: Sequence[str],
    *,
    log_dir: Path,
    port: int | None = None,
    env: Mapping[str, str] | None = None,
    inherit_env: bool = True,
    cwd: Path | None = None,
    ready: Ready | None = None,
    timeout: float = STARTUP_TIMEOUT_S,
    stdin: int | IO[bytes] | None = subprocess.DEVNULL,
    log_name: str | None = None,
) -> Process:
    """Start ``argv`` in a process group of its own and wait until ``ready`` (if given) says so.

    Output (stdout and stderr) goes to ``<log_dir>/<log_name or name>.log``. ``env`` is added to
    this process's environment, or is the whole environment with ``inherit_env=False``;
    ``PYTHONUNBUFFERED=1`` is set unless ``env`` says otherwise. If the process exits or is not
    ready within ``timeout`` seconds it is killed and StartError carries its output's tail.
    """
    base = dict(os.environ) if inherit_env else {}
    full_env = {**base, "PYTHONUNBUFFERED": "1", **(env or {})}
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{log_name or name}.log"
    with log_path.open("ab") as log:
        popen = subprocess.Popen(  # noqa: S603 - the caller's argv, a test or benchmark server
            list(argv),
            cwd=cwd,
            env=full_env,
            stdin=stdin,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    process = Process(name, popen, log_path, port)
    if ready is not None:
        try:
            process.wait_ready(ready, timeout)
        except BaseException:
            process.stop(signal.SIGKILL, timeout=5.0)
            raise
    return process
