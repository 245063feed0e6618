"""Sampling profiles of a server's workers under load (py-spy), and where shipping's CPU goes.

``bench/logs/run.py --bff --profile DIR`` records every worker of each run with py-spy (raw
"collapsed stack" files, GIL-holding samples only, so a sample is CPU the worker's Python
spent), then compares the "on" runs with the "off" runs per request: the functions whose
inclusive samples per 1,000 requests grew most are where the CPU that shipping adds goes.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

#: Samples per second per worker (py-spy's default is 100).
RATE = 250


def proc_stats() -> Iterator[tuple[int, list[str]]]:
    """Every live process's pid and the fields of its /proc/{pid}/stat after "(comm)":
    state, ppid, pgrp, session, ... (utime and stime at 11 and 12)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path("/proc", entry, "stat").read_text()
        except OSError:
            continue
        yield int(entry), stat.rsplit(")", 1)[1].split()


def children(pid: int) -> list[int]:
    """The live child processes of ``pid`` (gunicorn's workers)."""
    return sorted(child for child, fields in proc_stats() if int(fields[1]) == pid)


@contextlib.contextmanager
def record(pid: int, out: Path | None) -> Iterator[None]:
    """py-spy on every worker of ``pid`` while the block runs, into ``out``-{worker}.txt
    (nothing when ``out`` is None)."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if out is None:
        yield
        return
    procs = [
        subprocess.Popen(  # noqa: S603 - our own tool on our own child processes
            [spy, "record", "--pid", str(worker), "--rate", str(RATE), "--gil", "--nonblocking",
             "--format", "raw", "--output", f"{out}-{worker}.txt"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for worker in children(pid)
    ]  # fmt: skip
    try:
        yield
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _frame(frame: str) -> str:
    """``func (path/to/file.py:12)`` -> ``func (file.py)``: one row per function."""
    name, _, where = frame.partition(" (")
    file = where.rsplit(":", 1)[0].rsplit("/", 1)[-1]
    return f"{name} ({file})" if file else name


def load(paths: list[Path]) -> tuple[Counter[str], Counter[str], int]:
    """Inclusive and self samples per function over ``paths``, and the total samples."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for path in paths:
        for line in path.read_text(errors="replace").splitlines():
            stack, _, count_text = line.rpartition(" ")
            if not stack or not count_text.isdigit():
                continue
            count = int(count_text)
            frames = [_frame(f) for f in stack.split(";") if f and not f.startswith("process ")]
            if not frames:
                continue
            total += count
            for name in set(frames):
                inclusive[name] += count
            own[frames[-1]] += count
    return inclusive, own, total


def compare(
    on: list[Path], on_requests: float, off: list[Path], off_requests: float, top: int = 25
) -> str:
    """The functions whose inclusive samples per 1,000 requests grew most from off to on."""
    on_inc, on_self, on_total = load(on)
    off_inc, off_self, off_total = load(off)
    if not on_requests or not off_requests or not on_total or not off_total:
        return "no samples"

    def per_k(counter: Counter[str], name: str, requests: float) -> float:
        return counter[name] * 1000 / requests

    lines = [
        f"samples per 1,000 requests: on {on_total * 1000 / on_requests:.1f}, "
        f"off {off_total * 1000 / off_requests:.1f} ({RATE} Hz, GIL held)",
        f"{'function':70} {'incl on':>8} {'incl off':>8} {'delta':>8} {'self on':>8}",
    ]
    rows = sorted(
        set(on_inc) | set(off_inc),
        key=lambda n: per_k(on_inc, n, on_requests) - per_k(off_inc, n, off_requests),
        reverse=True,
    )
    for name in rows[:top]:
        a = per_k(on_inc, name, on_requests)
        b = per_k(off_inc, name, off_requests)
        own = per_k(on_self, name, on_requests)
        lines.append(f"{name[:70]:70} {a:8.1f} {b:8.1f} {a - b:8.1f} {own:8.1f}")
    return "\n".join(lines)
