"""The real backing services the suites run on loopback: redis-server and the moto server."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

from .process import STARTUP_TIMEOUT_S, Process, free_port, http_ready, redis_ready, start

#: Where ``moto_server`` is installed with ``moto[server]``: beside this interpreter.
MOTO_SERVER = Path(sys.executable).parent / "moto_server"
DEFAULT_REGION = "eu-west-1"


@dataclass(frozen=True)
class RedisServer:
    """A running redis-server: its process and URL (database 0)."""

    process: Process
    port: int

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>/0``."""
        return self.url_for(0)

    def url_for(self, db: int) -> str:
        """The URL of database ``db``."""
        return f"redis://127.0.0.1:{self.port}/{db}"


class ClientKwargs(TypedDict):
    """What ``boto3.client`` needs to reach the emulator."""

    endpoint_url: str
    region_name: str
    aws_access_key_id: str
    aws_secret_access_key: str


@dataclass(frozen=True)
class MotoServer:
    """A running moto server (CloudWatch Logs, S3 and the rest of AWS, emulated)."""

    process: Process
    port: int
    region: str

    @property
    def url(self) -> str:
        """The endpoint URL to hand to boto3 (``endpoint_url``)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        """What boto3 needs to talk to the emulator only: fake credentials, the region, and no
        shared AWS configuration or instance metadata (the endpoint is ``url``)."""
        return fake_aws_env(self.region)

    def client_kwargs(self) -> ClientKwargs:
        """Keyword arguments for ``boto3.client(service, **kwargs)`` against the emulator."""
        env = self.env
        return ClientKwargs(
            endpoint_url=self.url,
            region_name=self.region,
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        )


def fake_aws_env(region: str = DEFAULT_REGION) -> dict[str, str]:
    """Fake credentials and ``region``, with no shared AWS configuration or metadata lookups."""
    return {
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }


def redis_binary() -> str:
    """Debian's redis-server (package redis-server)."""
    found = shutil.which("redis-server")
    if found:
        return found
    for candidate in ("/usr/bin/redis-server", "/usr/sbin/redis-server"):
        if Path(candidate).exists():
            return candidate
    raise FileNotFoundError("redis-server is not installed (Debian package redis-server)")


@contextlib.contextmanager
def redis_server(
    workdir: Path, *, name: str = "redis", timeout: float = STARTUP_TIMEOUT_S
) -> Iterator[RedisServer]:
    """Debian's redis-server on a free 127.0.0.1 port, nothing saved to disk (its working
    directory is ``workdir``, its output ``workdir/<name>.log``); stopped on the way out."""
    port = free_port()
    argv = [redis_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", str(workdir)]  # fmt: skip
    process = start(
        name,
        argv,
        log_dir=workdir,
        port=port,
        cwd=workdir,
        ready=redis_ready(port),
        timeout=timeout,
    )
    with process:
        yield RedisServer(process, port)


@contextlib.contextmanager
def moto_server(
    workdir: Path,
    *,
    region: str = DEFAULT_REGION,
    name: str = "moto",
    env: Mapping[str, str] | None = None,
    timeout: float = STARTUP_TIMEOUT_S,
) -> Iterator[MotoServer]:
    """The moto server on a free 127.0.0.1 port (its output in ``workdir/<name>.log``), ready
    when ``/moto-api/`` answers; stopped on the way out. ``env`` adds to the server's
    environment (moto's own settings, e.g. ``MOTO_ECS_SERVICE_RUNNING``)."""
    if not MOTO_SERVER.exists():
        raise FileNotFoundError(f"{MOTO_SERVER} is missing: install moto[server] (make install)")
    port = free_port()
    argv = [str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(port)]
    process = start(
        name,
        argv,
        log_dir=workdir,
        port=port,
        cwd=workdir,
        env={**fake_aws_env(region), **(env or {})},
        ready=http_ready(f"http://127.0.0.1:{port}/moto-api/"),
        timeout=timeout,
    )
    with process:
        yield MotoServer(process, port, region)
