"""The production web build and a Playwright chromium, shared by the browser tests.

The build runs once per test session (and is skipped when nothing under ``web/`` changed since the
last one), under a file lock because developers may build the same directory at the same time. The
tests run a copy of the standalone server laid out the way the container image does, so a later
build cannot change a server under test.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from .procs import ROOT, Service, free_port, start

WEB = ROOT / "web"
NODE_ENV = {"NEXT_TELEMETRY_DISABLED": "1"}
#: What Debian's chromium needs to run headless in a container (see the design notes).
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
_BUILD_INPUTS = ("src", "public", "scripts", "next.config.ts", "package.json", "package-lock.json")


@dataclass(frozen=True)
class WebBuild:
    """A copy of one production build: the standalone server, its static files and source maps."""

    root: Path
    release: str

    @property
    def server(self) -> Path:
        return self.root / "server.js"

    @property
    def sourcemaps(self) -> Path:
        return self.root / "sourcemaps"


@dataclass
class Site:
    """The production web server over its own BFF, with the upstreams and the log emulator."""

    web: Service
    bff: Service
    build: WebBuild
    log_group: str
    moto_url: str
    ops_token: str
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.web.url


@contextmanager
def build_lock() -> Iterator[None]:
    """Serialise builds of ``web/`` across processes."""
    with open(Path(tempfile.gettempdir()) / "web-build.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _newest_input() -> float:
    newest = 0.0
    for name in _BUILD_INPUTS:
        path = WEB / name
        if path.is_file():
            newest = max(newest, path.stat().st_mtime)
        elif path.is_dir():
            for child in path.rglob("*"):
                if child.is_file():
                    newest = max(newest, child.stat().st_mtime)
    return newest


def build_web(dest: Path) -> WebBuild:
    """`npm run build` unless the last build is newer than its inputs; copy it to ``dest``."""
    with build_lock():
        build_id = WEB / ".next" / "BUILD_ID"
        fresh = (
            build_id.exists()
            and (WEB / ".next" / "standalone" / "server.js").exists()
            and build_id.stat().st_mtime > _newest_input()
            and not os.environ.get("WEB_REBUILD")
        )
        if not fresh:
            subprocess.run(
                ["npm", "run", "--silent", "build"],
                cwd=WEB,
                check=True,
                env={**os.environ, **NODE_ENV},
                stdout=subprocess.DEVNULL,
            )
        shutil.copytree(WEB / ".next" / "standalone", dest, symlinks=True)
        shutil.copytree(WEB / ".next" / "static", dest / ".next" / "static")
        if (WEB / "public").exists():
            shutil.copytree(WEB / "public", dest / "public", dirs_exist_ok=True)
        maps = WEB / ".next" / "sourcemaps"
        if maps.exists():
            shutil.copytree(maps, dest / "sourcemaps")
        release = build_id.read_text().strip()
    return WebBuild(dest, release)


def start_web(
    log_dir: Path,
    build: WebBuild,
    bff_url: str,
    name: str,
    env: dict[str, str] | None = None,
    *,
    forward_logs: bool = False,
) -> Service:
    """The standalone production server (what the image runs) pointed at ``bff_url``.

    With ``forward_logs`` its stdout goes through scripts/log_forwarder.py, as under `make dev`
    (``env`` then needs the ``LOG_CLOUDWATCH_*`` variables); the service log keeps every line.
    """
    port = free_port()
    full_env = {
        **NODE_ENV,
        "BFF_URL": bff_url,
        "PORT": str(port),
        "HOSTNAME": "127.0.0.1",
        **(env or {}),
    }
    argv = ["node", "--import", str(build.root / "log-preload.mjs"), str(build.server)]
    if forward_logs:
        forwarder = [sys.executable, str(ROOT / "scripts" / "log_forwarder.py"), "--service", "web"]
        argv = [*forwarder, "--", *argv]
    return start(name, argv, port, log_dir, full_env, health="/", timeout=60)
