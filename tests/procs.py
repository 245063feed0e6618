"""Start real services on free loopback ports for the integration tests, and always stop them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from logship import testing
from testkit import Process, free_port, http_ready
from testkit import start as start_process
from testkit.sample_services import start_sample

if TYPE_CHECKING:
    from mypy_boto3_logs.client import CloudWatchLogsClient

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

__all__ = ["free_port"]  # re-exported from testkit: the tests import it from here


class Service(Process):
    """A running child process and where it listens (a testkit.Process), with the checks the
    integration tests make on its output."""

    def __init__(
        self, name: str, popen: subprocess.Popen[bytes], log_path: Path, port: int | None = None
    ) -> None:
        """Wrap a started process; ``start`` is the usual way to get one."""
        super().__init__(name, popen, log_path, port)
        self.extra: dict[str, str] = {}

    @classmethod
    def of(cls, process: Process) -> Service:
        """The same process, as a Service."""
        return cls(process.name, process.popen, process.log_path, process.port)

    @property
    def proc(self) -> subprocess.Popen[bytes]:
        """The Popen object."""
        return self.popen

    def log(self) -> str:
        """Everything the process wrote so far."""
        return self.output()

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
    process = start_process(
        name,
        argv,
        log_dir=log_dir,
        log_name=f"{name}-{port}",
        port=port,
        env=env,
        cwd=cwd,
        ready=http_ready(f"http://127.0.0.1:{port}{health}"),
        timeout=timeout,
    )
    return Service.of(process)


def logs_client(moto: Service) -> CloudWatchLogsClient:
    """A boto3 CloudWatch Logs client of the emulator ``moto``."""
    return testing.logs_client(moto.url)


def start_django(log_dir: Path, db_path: Path, env: dict[str, str] | None = None) -> Service:
    """The Django catalog service through its run.py, exactly as `make dev` runs it."""
    env = {"CATALOG_DB_PATH": str(db_path), **(env or {})}
    return Service.of(start_sample("catalog", log_dir, env, name="django"))


def start_fastapi(log_dir: Path, catalog_url: str, env: dict[str, str] | None = None) -> Service:
    """The FastAPI orders service through its run.py, exactly as `make dev` runs it."""
    env = {"CATALOG_API_URL": catalog_url, **(env or {})}
    return Service.of(start_sample("orders", log_dir, env, name="fastapi"))


def start_bff(log_dir: Path, env: dict[str, str], name: str = "bff") -> Service:
    """The BFF under its production gunicorn configuration."""
    port = free_port()
    argv = [str(BIN / "gunicorn"), "-c", "bff/gunicorn.conf.py", "bff:create_app()"]
    return start(name, argv, port, log_dir, {"BFF_BIND": f"127.0.0.1:{port}", **env})
