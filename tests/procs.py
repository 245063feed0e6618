"""Start real services on free loopback ports for the integration tests, and always stop them."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Service:
    """A running child process and where it listens."""

    name: str
    proc: subprocess.Popen[bytes]
    port: int
    log_path: Path
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """Base URL."""
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        """Everything the process wrote so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def crashes(self) -> list[str]:
        """Lines that report a crash: ERROR/CRITICAL JSON records, or raw tracebacks."""
        found = []
        for line in self.log().splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                if "Traceback" in line:
                    found.append(line)
                continue
            if isinstance(record, dict) and record.get("level") in ("ERROR", "CRITICAL"):
                found.append(line)
        return found

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        """Signal the process group, wait, and kill it if it does not exit in time."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        return self.proc.returncode


def start(
    name: str,
    argv: list[str],
    port: int,
    log_dir: Path,
    env: dict[str, str] | None = None,
    health: str = "/healthz",
    timeout: float = 60.0,
    cwd: Path = ROOT,
) -> Service:
    """Launch ``argv`` in its own process group and wait until ``health`` answers 200."""
    log_path = log_dir / f"{name}-{port}.log"
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    service = Service(name, proc, port, log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}:\n{service.log()}")
        try:
            with urllib.request.urlopen(f"{service.url}{health}", timeout=2) as resp:
                if resp.status == 200:
                    return service
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    service.stop(signal.SIGKILL)
    raise RuntimeError(f"{name} did not become healthy in {timeout} s:\n{service.log()}")


def start_moto(log_dir: Path) -> Service:
    """The local CloudWatch Logs (and S3) emulator, as `make dev` runs it."""
    port = free_port()
    argv = [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)]
    return start("moto", argv, port, log_dir, health="/moto-api/")


def logs_client(moto: Service) -> Any:
    """A boto3 CloudWatch Logs client of the emulator ``moto``."""
    import boto3  # noqa: PLC0415 - only the tests that read logs need it

    return boto3.client(
        "logs",
        endpoint_url=moto.url,
        region_name="eu-west-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def start_django(log_dir: Path, db_path: Path, env: dict[str, str] | None = None) -> Service:
    """The Django catalog service, exactly as `make dev` runs it."""
    port = free_port()
    argv = [
        sys.executable,
        "upstreams/django_api/run.py",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    return start("django", argv, port, log_dir, {"CATALOG_DB_PATH": str(db_path), **(env or {})})


def start_fastapi(log_dir: Path, catalog_url: str, env: dict[str, str] | None = None) -> Service:
    """The FastAPI orders service, exactly as `make dev` runs it."""
    port = free_port()
    argv = [
        sys.executable,
        "upstreams/fastapi_api/run.py",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    return start("fastapi", argv, port, log_dir, {"CATALOG_API_URL": catalog_url, **(env or {})})


def start_bff(log_dir: Path, env: dict[str, str], name: str = "bff") -> Service:
    """The BFF under its production gunicorn configuration."""
    port = free_port()
    argv = [str(BIN / "gunicorn"), "-c", "bff/gunicorn.conf.py", "bff:create_app()"]
    return start(name, argv, port, log_dir, {"BFF_BIND": f"127.0.0.1:{port}", **env})
