"""The on-disk spool: atomic files, claims, recovery after a crash, cap and drop order."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from pathlib import Path

from logship.batching import Event
from logship.spool import Spool


def events(n: int, level: int = logging.INFO, size: int = 10, start: int = 0) -> list[Event]:
    return [
        Event(1_700_000_000_000 + i, level, f"m{start + i:06d}" + "x" * size, 7 + size, start + i)
        for i in range(n)
    ]


def test_write_claim_complete(tmp_path: Path) -> None:
    spool = Spool(tmp_path, 10**6, "group-a")
    try:
        result = spool.write(events(3), "stream-1")
        assert result.written == 3 and not result.dropped
        assert spool.pending() == 1
        assert not list((tmp_path / "tmp").iterdir())
        claimed = spool.claim()
        assert claimed is not None
        assert (claimed.group, claimed.stream) == ("group-a", "stream-1")
        assert [e.message[:7] for e in claimed.events] == ["m000000", "m000001", "m000002"]
        assert spool.claim() is None
        spool.complete(claimed)
        assert spool.pending() == 0 and spool.used_bytes() == 0
    finally:
        spool.close()


def test_release_puts_it_back(tmp_path: Path) -> None:
    spool = Spool(tmp_path, 10**6, "g")
    try:
        spool.write(events(2), "s")
        claimed = spool.claim()
        assert claimed is not None
        spool.release(claimed)
        assert spool.pending() == 1
    finally:
        spool.close()


def test_groups_are_separate(tmp_path: Path) -> None:
    one, two = Spool(tmp_path, 10**6, "one"), Spool(tmp_path, 10**6, "two")
    try:
        one.write(events(1), "s")
        assert two.claim() is None
        assert one.claim() is not None
    finally:
        one.close()
        two.close()


def file_size(tmp_path: Path, batch: list[Event]) -> int:
    probe = Spool(tmp_path / "probe", 10**9, "g")
    try:
        probe.write(batch, "s")
        return probe.used_bytes()
    finally:
        probe.close()


def test_cap_evicts_lower_levels_first_and_counts(tmp_path: Path) -> None:
    one = file_size(tmp_path, events(10, logging.DEBUG, 50))
    cap = int(one * 2.5)
    spool = Spool(tmp_path / "spool", cap, "g")
    try:
        assert spool.write(events(10, logging.DEBUG, 50), "s").written == 10
        assert spool.write(events(10, logging.INFO, 50, start=10), "s").written == 10
        result = spool.write(events(10, logging.ERROR, 50, start=20), "s")
        assert result.written == 10
        assert result.dropped == {logging.DEBUG: 10}  # the DEBUG-only file went first
        assert spool.used_bytes() <= cap
        result = spool.write(events(10, logging.WARNING, 50, start=30), "s")
        assert result.dropped == {logging.INFO: 10}
        result = spool.write(events(30, logging.DEBUG, 50, start=40), "s")
        # Nothing lower than DEBUG to evict: the batch's own events are shed to fit.
        assert result.written + result.dropped[logging.DEBUG] == 30
        assert result.written < 30
        assert spool.used_bytes() <= cap
    finally:
        spool.close()


def test_full_spool_sheds_lowest_levels_of_the_batch(tmp_path: Path) -> None:
    mixed = events(5, logging.DEBUG, 100) + events(5, logging.ERROR, 100, start=5)
    cap = int(file_size(tmp_path, mixed) * 0.7)
    spool = Spool(tmp_path / "spool", cap, "g")
    try:
        result = spool.write(mixed, "s")
        assert result.dropped.get(logging.ERROR, 0) == 0
        assert result.written + result.dropped[logging.DEBUG] == 10
        claimed = spool.claim()
        assert claimed is not None
        assert sum(e.level == logging.ERROR for e in claimed.events) == 5
    finally:
        spool.close()


CLAIM_AND_DIE = """
import os, sys
from logship.spool import Spool
spool = Spool(sys.argv[1], 10**6, "g")
claimed = spool.claim()
print(claimed.ready_name if claimed else "none", flush=True)
os._exit(1)  # crash while holding the claim
"""


def test_claim_of_a_dead_process_is_recovered(tmp_path: Path) -> None:
    spool = Spool(tmp_path, 10**6, "g")
    try:
        spool.write(events(4), "s")
        out = subprocess.run(
            [sys.executable, "-c", CLAIM_AND_DIE, str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert out.stdout.strip().endswith(".jsonl")
        assert spool.pending() == 0
        assert spool.recover() == 1
        claimed = spool.claim()
        assert claimed is not None and len(claimed.events) == 4
    finally:
        spool.close()


def test_claim_of_a_live_process_is_left_alone(tmp_path: Path) -> None:
    holder = Spool(tmp_path, 10**6, "g")
    other = Spool(tmp_path, 10**6, "g")
    try:
        holder.write(events(1), "s")
        assert holder.claim() is not None
        assert other.recover() == 0
        assert other.claim() is None
    finally:
        holder.close()
        other.close()


CLAIM_ALL = """
import sys
from logship.spool import Spool
spool = Spool(sys.argv[1], 10**9, "g")
while True:
    claimed = spool.claim()
    if claimed is None:
        break
    print(claimed.ready_name, flush=True)
    spool.complete(claimed)
spool.close()
"""


def test_concurrent_processes_claim_each_file_once(tmp_path: Path) -> None:
    writer = Spool(tmp_path, 10**9, "g")
    try:
        for i in range(200):
            writer.write(events(2, start=i * 2), "s")
    finally:
        writer.close()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CLAIM_ALL, str(tmp_path)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    names: list[str] = []
    for proc in procs:
        out, _ = proc.communicate(timeout=120)
        names.extend(out.split())
    assert len(names) == 200 and len(set(names)) == 200


def test_partial_tmp_files_of_dead_writers_are_removed(tmp_path: Path) -> None:
    spool = Spool(tmp_path, 10**6, "g")
    try:
        stale = tmp_path / "tmp" / "abc.jsonl~deadhost.1.00000000"
        stale.write_text("partial")
        spool.recover()
        assert not stale.exists()
    finally:
        spool.close()


def test_corrupt_file_is_quarantined(tmp_path: Path) -> None:
    spool = Spool(tmp_path, 10**6, "g")
    try:
        (tmp_path / "ready" / f"{spool.group_key}-0000000000000-x.1.a-000001-L20.jsonl").write_text(
            "{"
        )
        assert spool.claim() is None
        assert len(list((tmp_path / "corrupt").iterdir())) == 1
    finally:
        spool.close()


def test_files_are_json_lines(tmp_path: Path) -> None:
    spool = Spool(tmp_path, 10**6, "g")
    try:
        spool.write(events(2), "s")
        (path,) = list((tmp_path / "ready").iterdir())
        lines = path.read_text().splitlines()
        assert len(lines) == 3
        assert '"stream":"s"' in lines[0]
        assert textwrap.dedent(lines[1]).startswith('{"t":')
    finally:
        spool.close()
