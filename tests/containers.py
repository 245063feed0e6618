"""Podman, and a private dockerd for docker-compose, as tests/test_images.py uses them.

Everything lives under ``FRONT_DOOR_CONTAINERS`` (default ``/var/tmp/front-door-containers``):
podman's own configuration and storage (``CONTAINERS_CONF``, ``CONTAINERS_STORAGE_CONF``; the
host's podman, docker and their images are never touched), the local base images that
``scripts/container-bases.sh`` builds once, and a per-run dockerd data root removed at the end.
Every container, network and image a run creates carries the run's id, and is removed by it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .procs import ROOT

CONTAINERS_DIR = Path(os.environ.get("FRONT_DOOR_CONTAINERS", "/var/tmp/front-door-containers"))
LABEL = "front-door-test"
BASES = {
    "python": "localhost/front-door/python:bookworm",
    "redis": "localhost/front-door/redis:bookworm",
}
DOCKER = "/usr/bin/docker"  # Debian's docker.io client, the same version as its dockerd


def node_base() -> str:
    for line in (ROOT / "Dockerfile.web").read_text().splitlines():
        if line.startswith("ARG NODE_IMAGE=node:"):
            return f"localhost/front-door/node:{line.split(':', 1)[1].split('-', 1)[0]}"
    raise AssertionError("Dockerfile.web has no NODE_IMAGE default")


def cannot_run_containers() -> str | None:
    """Why this host cannot run containers at all, or None."""
    if os.geteuid() != 0:
        return "not root: the image tests use root podman with runc"
    for tool in ("podman", "runc", "debootstrap", "dockerd", "docker-compose"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (make system-deps installs it)"
    if not Path("/proc/self/ns/net").exists():
        return "no network namespaces"
    return None


def _run(
    argv: Sequence[str],
    env: dict[str, str],
    timeout: float,
    check: bool = True,
    stdin: Any = None,
) -> subprocess.CompletedProcess[str]:
    try:
        result = subprocess.run(
            list(argv),
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            stdin=stdin if stdin is not None else subprocess.DEVNULL,
            cwd=ROOT,
        )
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"{' '.join(argv)} did not finish in {timeout} s") from exc
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(argv)} exited {result.returncode}:\n{result.stdout[-4000:]}"
            f"\n{result.stderr[-4000:]}"
        )
    return result


@dataclass
class Podman:
    """Root podman with this test's private configuration and storage."""

    run_id: str = field(default_factory=lambda: f"{os.getpid()}-{uuid.uuid4().hex[:6]}")
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.env = {
            **os.environ,
            "CONTAINERS_CONF": str(CONTAINERS_DIR / "containers.conf"),
            "CONTAINERS_STORAGE_CONF": str(CONTAINERS_DIR / "storage.conf"),
            "CONTAINERS_REGISTRIES_CONF": str(CONTAINERS_DIR / "registries.conf"),
        }

    def __call__(
        self, *args: str, timeout: float = 120, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        return _run(["podman", *args], self.env, timeout, check)

    def tag(self, name: str) -> str:
        return f"localhost/front-door-test/{name}:{self.run_id}"

    def build(
        self,
        dockerfile: str,
        tag: str | None,
        build_args: dict[str, str],
        *extra: str,
        timeout: float = 1800,
    ) -> subprocess.CompletedProcess[str]:
        # Docker format: the OCI default silently drops HEALTHCHECK (and STOPSIGNAL is kept).
        argv = ["build", "--format", "docker", "--pull=never", "--network", "host"]
        argv += ["--label", f"{LABEL}={self.run_id}", "-f", dockerfile]
        for key, value in build_args.items():
            argv += ["--build-arg", f"{key}={value}"]
        if tag:
            argv += ["-t", tag]
        return self(*argv, *extra, ".", timeout=timeout)

    def start(
        self,
        image: str,
        name: str,
        env: dict[str, str] | None = None,
        ports: Sequence[int] = (),
        network: str | None = None,
        extra: Sequence[str] = (),
        command: Sequence[str] = (),
    ) -> str:
        argv = ["run", "-d", "--name", f"{name}-{self.run_id}"]
        argv += ["--label", f"{LABEL}={self.run_id}", "--label", f"{LABEL}-pid={os.getpid()}"]
        for key, value in (env or {}).items():
            argv += ["-e", f"{key}={value}"]
        for port in ports:
            argv += ["-p", f"127.0.0.1::{port}"]
        if network:
            argv += ["--network", network]
        self(*argv, *extra, image, *command)
        return f"{name}-{self.run_id}"

    def inspect(self, container: str) -> dict[str, Any]:
        data = json.loads(self("inspect", container).stdout)
        assert isinstance(data, list) and data
        return dict(data[0])

    def host_port(self, container: str, port: int) -> int:
        out = self("port", container, f"{port}/tcp").stdout.strip().splitlines()[0]
        return int(out.rpartition(":")[2])

    def ip(self, container: str) -> str:
        networks = self.inspect(container)["NetworkSettings"]["Networks"]
        return str(next(iter(networks.values()))["IPAddress"])

    def pid1_uid(self, container: str) -> int:
        status = self("exec", container, "cat", "/proc/1/status").stdout
        uid_line = next(line for line in status.splitlines() if line.startswith("Uid:"))
        uids = {int(u) for u in uid_line.split()[1:]}
        assert len(uids) == 1, uid_line
        return uids.pop()

    def wait_healthy(self, container: str, timeout: float = 90) -> float:
        """Drive the image's HEALTHCHECK (no systemd: podman never runs it by itself)."""
        started = time.monotonic()
        deadline = started + timeout
        while time.monotonic() < deadline:
            state = self.inspect(container)["State"]
            assert state["Running"], (
                f"{container} exited {state['ExitCode']}:\n{self.logs(container)}"
            )
            self("healthcheck", "run", container, check=False, timeout=30)
            health = self.inspect(container)["State"].get("Health") or {}
            if health.get("Status") == "healthy":
                return time.monotonic() - started
            time.sleep(1)
        raise AssertionError(f"{container} not healthy after {timeout} s:\n{self.logs(container)}")

    def logs(self, container: str) -> str:
        result = self("logs", container, check=False)
        return result.stdout + result.stderr

    def stop(self, container: str, grace: int = 30) -> tuple[int, float]:
        """``podman stop`` (the image's STOPSIGNAL, then SIGKILL after ``grace``): code, seconds."""
        started = time.monotonic()
        self("stop", "-t", str(grace), container, timeout=grace + 60)
        elapsed = time.monotonic() - started
        code = int(self.inspect(container)["State"]["ExitCode"])
        return code, elapsed

    def cleanup(self) -> None:
        """Remove this run's containers, networks and images, and dangling build stages."""
        mine = f"label={LABEL}={self.run_id}"
        ids = self("ps", "-aq", "--filter", mine, check=False).stdout.split()
        if ids:
            self("rm", "-f", "-t", "0", *ids, check=False)
        for net in self("network", "ls", "-q", "--filter", mine, check=False).stdout.split():
            self("network", "rm", "-f", net, check=False)
        if os.environ.get("FRONT_DOOR_KEEP_IMAGES") == "1":
            return  # keep the build cache (a local speed-up; the default frees the disk)
        images = self("images", "-q", "--filter", mine, check=False).stdout.split()
        if images:
            self("rmi", "-f", *sorted(set(images)), check=False, timeout=300)
        self("image", "prune", "-f", check=False, timeout=300)

    def remove_stale(self) -> None:
        """Containers and images left by an earlier run whose test process is gone."""
        listed = self("ps", "-a", "--format", "json", "--filter", f"label={LABEL}", check=False)
        for entry in json.loads(listed.stdout or "[]"):
            pid = (entry.get("Labels") or {}).get(f"{LABEL}-pid", "")
            if pid.isdigit() and not Path(f"/proc/{pid}").exists():
                self("rm", "-f", "-t", "0", entry["Id"], check=False)
        if os.environ.get("FRONT_DOOR_KEEP_IMAGES") == "1":
            return
        listed = self("images", "--format", "{{.Repository}}:{{.Tag}}", check=False)
        for ref in listed.stdout.split():
            pid = ref.rpartition(":")[2].partition("-")[0]
            if ref.startswith("localhost/front-door-test/") and pid.isdigit():
                if not Path(f"/proc/{pid}").exists():
                    self("rmi", "-f", ref, check=False, timeout=300)


@dataclass
class Dockerd:
    """Debian's dockerd with its own data root, socket and no default bridge, for
    docker-compose 1.29 (the one that honours ``condition: service_healthy`` here)."""

    root: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def socket(self) -> Path:
        return self.root / "docker.sock"

    @property
    def env(self) -> dict[str, str]:
        env = {**os.environ, "DOCKER_HOST": f"unix://{self.socket}"}
        env.pop("DOCKER_CONTEXT", None)
        env["DOCKER_CONFIG"] = str(self.root / "client")
        return env

    def start(self, timeout: float = 60) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "client").mkdir(exist_ok=True)
        config = self.root / "daemon.json"
        config.write_text("{}\n")
        argv = [
            "dockerd",
            "--config-file",
            str(config),
            "--data-root",
            str(self.root / "data"),
            "--exec-root",
            str(self.root / "exec"),
            "--pidfile",
            str(self.root / "dockerd.pid"),
            "--host",
            f"unix://{self.socket}",
            "--bridge=none",
            "--iptables=false",
            "--ip-masq=false",
            "--exec-opt",
            "native.cgroupdriver=cgroupfs",
            "--storage-driver",
            "overlay2",
        ]
        with (self.root / "dockerd.log").open("wb") as log:
            self.proc = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"dockerd exited {self.proc.returncode}:\n{self.log()}")
            if self.docker("info", check=False, timeout=10).returncode == 0:
                return
            time.sleep(0.5)
        raise AssertionError(f"dockerd did not answer in {timeout} s:\n{self.log()}")

    def log(self) -> str:
        path = self.root / "dockerd.log"
        return path.read_text(errors="replace")[-6000:] if path.exists() else ""

    def docker(
        self, *args: str, check: bool = True, timeout: float = 120, stdin: Any = None
    ) -> subprocess.CompletedProcess[str]:
        return _run([DOCKER, *args], self.env, timeout, check, stdin)

    def stop(self) -> None:
        """Stop every container, then dockerd (its managed containerd with it); remove the root."""
        if self.proc is not None and self.proc.poll() is None:
            ids = self.docker("ps", "-aq", check=False, timeout=30).stdout.split()
            if ids:
                self.docker("rm", "-f", *ids, check=False, timeout=120)
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        # dockerd unmounts its layers on exit; anything still mounted below the root is left
        # for the next run rather than removed through a live mount.
        mounts = Path("/proc/self/mounts").read_text()
        if str(self.root) not in mounts:
            shutil.rmtree(self.root, ignore_errors=True)
