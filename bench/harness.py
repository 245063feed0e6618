"""What the benchmark harnesses share: their servers, the machine's CPU load, and provenance.

* A run ends with exit status 2 on a BenchError and 130 on Ctrl-C; SIGTERM unwinds it too.
* Servers run in process groups of their own, with their output in log files, and are all
  stopped on the way out (also on Ctrl-C, SIGTERM or an error). Free ports, starting and
  stopping processes, redis-server and the moto server come from ``testkit`` (lib/testkit, in
  the dev venv the benchmarks run from), as for the test suites.
* The reference servers and the load tool: a static nginx serving 1 KiB of JSON, the moto
  server's URL, and one wrk runner that reads requests/s, latency percentiles and errors.
* CPU accounting from /proc: how busy the machine is with no load from the run, and how much
  of the CPUs processes outside the run took while it measured.
* What the figures depend on: CPU model, package versions, the commit and the BFF sources.

The harnesses are run by path (``python bench/edge/run.py``) and put this directory on
``sys.path`` to import this module.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import importlib.metadata
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import FrameType

import testkit
from testkit import Process, StartError, free_port, http_ready, moto_server, start

__all__ = ["free_port"]  # re-exported: the harnesses import it from here

STARTUP_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
BUSY_WARN_PCT = 15.0


#: A smoke run (``--quick``) checks that a harness works, not the targets (those need full-length
#: runs on a quiet machine): its figures are printed with this in place of a verdict.
NOT_CHECKED = "not checked in a smoke run"


def verdict_text(met: bool | None, quick: bool, missed: str = "NOT MET") -> str:
    """The words for a target's verdict: met, ``missed``, n/a, or NOT_CHECKED in a smoke run."""
    if quick:
        return NOT_CHECKED
    return {True: "met", False: missed, None: "n/a"}[met]


class BenchError(RuntimeError):
    """A benchmark step failed and the run cannot continue."""


def log(msg: str) -> None:
    """Print a progress line to stderr."""
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def on_sigterm(signum: int, frame: FrameType | None) -> None:
    """Turn SIGTERM into SystemExit so cleanup runs."""
    raise SystemExit(128 + signum)


def run_benchmark(benchmark: Callable[[], int]) -> int:
    """Run a benchmark and return its exit status: SIGTERM becomes SystemExit so that its
    cleanup runs, a BenchError is reported with status 2, Ctrl-C with 130."""
    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        return benchmark()
    except BenchError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        return 130


def positive_int(text: str) -> int:
    """Parse a positive integer argument."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be >= 1")
    return value


# --------------------------------------------------------------------------------------------
# processes


class Processes:
    """Starts servers in their own process groups and stops every one of them on close."""

    def __init__(self, logdir: Path) -> None:
        """Remember where logs go."""
        self.logdir = logdir
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(
        self,
        name: str,
        argv: Sequence[str],
        cwd: Path,
        env: Mapping[str, str] | None = None,
        pipes: bool = False,
    ) -> subprocess.Popen[bytes]:
        """Start one process with ``env`` as its whole environment (default: this process's);
        output goes to <logdir>/<name>.log (stdout to a pipe, and stdin from one, if pipes)."""
        log_file = self.log_path(name).open("ab")
        try:
            proc = subprocess.Popen(
                list(argv),
                cwd=cwd,
                env=None if env is None else dict(env),
                stdin=subprocess.PIPE if pipes else subprocess.DEVNULL,
                stdout=subprocess.PIPE if pipes else log_file,
                stderr=log_file,
                start_new_session=True,
            )
        finally:
            log_file.close()
        self.procs.append((name, proc))
        return proc

    def pgids(self) -> frozenset[int]:
        """Return the process groups of the started processes (each leads its own group)."""
        return frozenset(proc.pid for _name, proc in self.procs)

    def log_path(self, name: str) -> Path:
        """Return the log file of a named process."""
        return self.logdir / f"{name}.log"

    def log_tail(self, name: str, lines: int = 30) -> str:
        """Return the last lines of a process's log."""
        path = self.log_path(name)
        if not path.exists():
            return "(no log)"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def close(self) -> None:
        """Stop all started processes, newest first, every one of them even if a signal
        interrupts the stopping of one (that one is then killed at once)."""
        procs = [proc for _name, proc in reversed(self.procs)]
        self.procs.clear()
        stop_all(procs)


def stop_all(procs: Sequence[subprocess.Popen[bytes]]) -> None:
    """Stop each process group in turn; an exception stops none of the later ones from stopping."""
    if not procs:
        return
    try:
        stop_group(procs[0])
    finally:
        stop_all(procs[1:])


def stop_group(proc: subprocess.Popen[bytes]) -> None:
    """Terminate a process group started with start_new_session: SIGTERM, wait, then SIGKILL
    to the group (also when the wait is interrupted, and for leftovers of the group)."""
    testkit.stop_group(proc, timeout=STOP_TIMEOUT_S)


def wait_until_ready(
    procs: Processes,
    name: str,
    proc: subprocess.Popen[bytes],
    not_ready: Callable[[], str | None],
    what: str,
) -> None:
    """Call ``not_ready`` until it returns None; it returns why the server is not ready yet
    otherwise. Fail with the log if the process dies or is not ready in time: the message says
    '<name> not <what> (<why>)'."""
    try:
        Process(name, proc, procs.log_path(name)).wait_ready(not_ready, STARTUP_TIMEOUT_S)
    except StartError as exc:
        if exc.returncode is not None:
            why = f"{name} exited with {exc.returncode}:\n{procs.log_tail(name)}"
            raise BenchError(why) from None
        raise BenchError(f"{name} not {what} ({exc.reason}):\n{procs.log_tail(name)}") from None


# --------------------------------------------------------------------------------------------
# reference servers and load

#: A JSON document of about 1 KiB: what the static upstream serves at /static/1k.json.
STATIC_1K = json.dumps({"items": ["x" * 40] * 40})[:1000].rsplit(",", 1)[0] + "]}"


@contextlib.contextmanager
def static_upstream(prefix: str = "bench-nginx-") -> Iterator[str]:
    """nginx on a free loopback port serving STATIC_1K at /static/1k.json and 200 at /healthz,
    its files readable by nginx's worker user (as root it would answer 403); yields its URL."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        raise BenchError("nginx is needed (Debian package nginx-light; make system-deps)")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        root = Path(tmp)
        (root / "static").mkdir()
        (root / "static" / "1k.json").write_text(STATIC_1K)
        for path in (root, root / "static", root / "static" / "1k.json"):
            path.chmod(0o755 if path.is_dir() else 0o644)
        conf = root / "nginx.conf"
        conf.write_text(
            f"worker_processes 1; daemon off; pid {root}/nginx.pid; error_log {root}/error.log;\n"
            "events { worker_connections 1024; }\n"
            f"http {{ access_log off; server {{ listen 127.0.0.1:{port};\n"
            f"  location /static/ {{ root {root}; }}\n"
            '  location = /healthz { return 200 "ok"; } } }\n'
        )
        argv = [nginx, "-c", str(conf), "-p", str(root)]
        ready = http_ready(f"http://127.0.0.1:{port}/static/1k.json")
        try:
            server = start("nginx", argv, log_dir=root, port=port, cwd=root, ready=ready,
                           timeout=STARTUP_TIMEOUT_S)  # fmt: skip
        except StartError as exc:
            raise BenchError(str(exc)) from None
        with server:
            yield server.url


@contextlib.contextmanager
def moto_url(workdir: Path) -> Iterator[str]:
    """The moto server (CloudWatch Logs emulator) on a free loopback port; yields its URL."""
    try:
        with moto_server(workdir, timeout=STARTUP_TIMEOUT_S) as moto:
            yield moto.url
    except StartError as exc:
        raise BenchError(str(exc)) from None


@dataclasses.dataclass(frozen=True)
class WrkRun:
    """What one wrk run measured."""

    rps: float
    requests: int
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int
    output: str

    @property
    def clean(self) -> bool:
        """Every answer 2xx or 3xx and no socket errors (figures of failures are no figures)."""
        return not self.non_2xx and not self.socket_errors


def wrk_available() -> None:
    """Fail the run unless wrk is installed."""
    if shutil.which("wrk") is None:
        raise BenchError("wrk is needed (Debian package wrk; make system-deps)")


def wrk_post_script(
    workdir: Path, body: bytes, content_type: str = "application/json", name: str = "post"
) -> Path:
    """A wrk Lua script ``<workdir>/<name>.lua`` that POSTs ``body``; returns its path."""
    script = workdir / f"{name}.lua"
    escaped = body.decode().replace("\\", "\\\\").replace('"', '\\"')
    script.write_text(
        f'wrk.method = "POST"\nwrk.body = "{escaped}"\n'
        f'wrk.headers["Content-Type"] = "{content_type}"\n',
        encoding="utf-8",
    )
    return script


def wrk(
    url: str,
    duration: float,
    connections: int,
    *,
    threads: int = 2,
    script: Path | None = None,
    cpus: str | None = None,
) -> WrkRun:
    """One wrk run of ``duration`` seconds (whole, at least 1) against a loopback ``url``,
    pinned to ``cpus`` (a taskset list) if given."""
    argv = [*(["taskset", "-c", cpus] if cpus else []), "wrk", f"-t{threads}", f"-c{connections}",
            f"-d{max(1, round(duration))}s", "--latency"]  # fmt: skip
    if script is not None:
        argv += ["-s", str(script)]
    out = subprocess.run(
        [*argv, url], capture_output=True, text=True, timeout=duration + 60, check=True
    ).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if rps is None:
        raise BenchError(f"cannot read wrk's output:\n{out}")
    total = re.search(r"(\d+) requests in", out)
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)

    def ms(pct: str) -> float:
        found = re.search(rf"{pct}%\s+([\d.]+)(us|ms|s)\b", out)
        if found is None:
            return 0.0
        return float(found.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[found.group(2)]

    return WrkRun(
        rps=float(rps.group(1)),
        requests=int(total.group(1)) if total else 0,
        p50_ms=ms("50"),
        p99_ms=ms("99"),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(n) for n in errors.groups()) if errors else 0,
        output=out,
    )


def export_tree(repo: Path, ref: str, dest: Path) -> Path:
    """Extract bff/ and lib/ as of a git ref into dest (git archive; the checkout is
    untouched) and return dest."""
    dest.mkdir()
    git = shutil.which("git")
    tar = shutil.which("tar")
    if git is None or tar is None:
        raise BenchError(f"running the BFF as of {ref} needs git and tar")
    archive = subprocess.run(
        [git, "-C", str(repo), "archive", "--format=tar", ref, "bff", "lib"],
        capture_output=True,
        check=False,
        timeout=60,
    )
    if archive.returncode != 0:
        raise BenchError(f"git archive {ref}: {archive.stderr.decode(errors='replace')[:300]}")
    subprocess.run([tar, "-x", "-C", str(dest)], input=archive.stdout, check=True, timeout=60)
    if not (dest / "bff" / "gunicorn.conf.py").is_file():
        raise BenchError(f"{ref} has no bff/gunicorn.conf.py")
    return dest


# --------------------------------------------------------------------------------------------
# CPU accounting


@dataclasses.dataclass(frozen=True)
class CpuSample:
    """Cumulative CPU jiffies: all CPUs busy, all CPUs total, and this run's processes."""

    busy: int
    total: int
    ours: int


def cpu_times() -> tuple[int, int]:
    """Return (busy, total) jiffies summed over all CPUs from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields) - idle, sum(fields)


def group_jiffies(pgids: frozenset[int]) -> int:
    """Sum user+system jiffies of live processes in the given process groups."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) in pgids:
            total += int(fields[11]) + int(fields[12])
    return total


def cpu_sample(pgids: frozenset[int]) -> CpuSample | None:
    """Sample system-wide CPU time and the CPU time of this run: the processes in ``pgids``,
    this one, and its reaped children (wrk)."""
    try:
        busy, total = cpu_times()
        servers = group_jiffies(pgids)
    except (OSError, ValueError, IndexError):
        return None
    t = os.times()
    own = (t.user + t.system + t.children_user + t.children_system) * os.sysconf("SC_CLK_TCK")
    return CpuSample(busy=busy, total=total, ours=servers + round(own))


def other_cpu_pct(start: CpuSample | None, end: CpuSample | None) -> float | None:
    """Return the share of all CPUs used by processes outside this run between two samples."""
    if start is None or end is None or end.total <= start.total:
        return None
    other = (end.busy - start.busy) - (end.ours - start.ours)
    return max(0.0, 100.0 * other / (end.total - start.total))


def busy_pct(seconds: float = 1.0) -> float | None:
    """Return the share of all CPUs in use over a short sample, or None off Linux."""
    try:
        busy0, total0 = cpu_times()
        time.sleep(seconds)
        busy1, total1 = cpu_times()
    except (OSError, ValueError, IndexError):
        return None
    return 100.0 * (busy1 - busy0) / max(total1 - total0, 1)


def warn_if_busy(pct: float | None, when: str) -> None:
    """Warn when other processes use a noticeable share of the CPUs."""
    if pct is not None and pct > BUSY_WARN_PCT:
        log(
            f"WARNING: {pct:.0f}% CPU busy {when} with no load from this run; figures will be noisy"
        )


# --------------------------------------------------------------------------------------------
# provenance


def package_version(name: str) -> str:
    """Return an installed Python distribution's version, or 'unavailable'."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "unavailable"


def cpu_model() -> str:
    """Return the CPU model name from /proc/cpuinfo."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def repo_commit(repo: Path) -> str:
    """Return the commit checked out in repo, or 'none' outside git or before the first commit."""
    git = shutil.which("git")
    if git is None:
        return "none"
    res = subprocess.run(
        [git, "-C", str(repo), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
        timeout=10,
    )
    return res.stdout.strip() if res.returncode == 0 else "none"


def bff_digest(root: Path) -> str:
    """Hash the BFF's gunicorn config and sources under root, so results can be tied to a BFF
    version; 'absent' when root has no BFF."""
    conf = root / "bff" / "gunicorn.conf.py"
    if not conf.exists():
        return "absent"
    h = hashlib.sha256(conf.read_bytes())
    for path in sorted((root / "bff" / "src").rglob("*.py")):
        h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]
