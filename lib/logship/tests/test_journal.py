"""The per-process journal: append, checkpoint, rotation, recovery of a dead owner's tail,
torn and corrupt lines, and the handler's accounting when the journal cannot be written."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import orjson
import pytest
from logship.batching import Event, plan_batches
from logship.journal import Journal, read_segment, recover_dead
from logship.spool import Spool

from .conftest import fetch_events, wait_until
from .helpers import attached, handler_for

GROUP = "/test/journal"


def journal_for(spool: Spool, **kwargs: Any) -> Journal:
    return Journal(spool.directory, spool.group_key, GROUP, spool.owner, "stream-a", **kwargs)


def recover(spool: Spool) -> tuple[Any, list[Event]]:
    """Recover dead owners' journals into ``spool``; returns the result and the spooled
    events (read back from the ready files)."""
    result = recover_dead(
        spool.directory,
        spool.group_key,
        spool.owner,
        lambda owner: spool.owner_alive(owner, {}),
        lambda batch, stream: spool.write(batch, stream).dropped,
        plan_batches,
    )
    events: list[Event] = []
    while (claimed := spool.claim()) is not None:
        assert claimed.stream == "stream-a"
        events.extend(claimed.events)
        spool.complete(claimed)
    return result, events


def die(spool: Spool, journal: Journal) -> None:
    """What SIGKILL does to a process's descriptors: they close, the owner lock is free."""
    journal.forget_after_fork()
    spool.forget_after_fork()


@pytest.mark.parametrize(
    ("messages", "checkpoint", "expected"),
    [
        pytest.param(["a", "b", "c"], 0, ["a", "b", "c"], id="nothing-delivered"),
        pytest.param(["a", "b", "c"], 2, ["c"], id="tail-after-checkpoint"),
        pytest.param(["a", "b", "c"], 3, [], id="all-delivered"),
        pytest.param(['{"k": "line\\nbreak"}', "two\nlines", "é ✓ 𝄞"], 0, None, id="newlines"),
    ],
)
def test_dead_owner_tail_is_recovered(
    tmp_path: Path, messages: list[str], checkpoint: int, expected: list[str] | None
) -> None:
    dead_spool = Spool(tmp_path, 10_000_000, GROUP)
    journal = journal_for(dead_spool)
    for seq, text in enumerate(messages, start=1):
        journal.append(seq, 1_700_000_000_000 + seq, logging.INFO, text)
    journal.checkpoint(checkpoint)
    die(dead_spool, journal)

    spool = Spool(tmp_path, 10_000_000, GROUP)
    result, events = recover(spool)
    want = messages[checkpoint:] if expected is None else expected
    assert [event.message for event in events] == want
    assert result.events == len(want) and result.corrupt == 0
    assert os.listdir(tmp_path / "journal" / "claimed") == []
    assert [n for n in os.listdir(tmp_path / "journal") if n != "claimed"] == []
    assert recover(spool)[1] == []  # exactly once: nothing is handed over twice


def test_ranges_resolved_out_of_order_are_not_handed_over_again(tmp_path: Path) -> None:
    dead_spool = Spool(tmp_path, 10_000_000, GROUP)
    journal = journal_for(dead_spool)
    for seq in range(1, 101):
        journal.append(seq, 1_700_000_000_000 + seq, logging.INFO, f"e{seq}")
    # 1..20 in flight (unresolved); 21..60 spilled to the spool, then 81..90; then 1..10 done
    journal.resolve(range(21, 61))
    journal.checkpoint(0)
    journal.resolve([85, 81, 82, 83, 84, 86, 87, 88, 89, 90])
    journal.checkpoint(0)
    journal.resolve(range(1, 11))
    journal.checkpoint(10)
    die(dead_spool, journal)
    _, events = recover(Spool(tmp_path, 10_000_000, GROUP))
    want = [*range(11, 21), *range(61, 81), *range(91, 101)]
    assert [event.message for event in events] == [f"e{seq}" for seq in want]


def test_live_owner_is_left_alone(tmp_path: Path) -> None:
    live = Spool(tmp_path, 10_000_000, GROUP)
    journal = journal_for(live)
    journal.append(1, 1_700_000_000_000, logging.INFO, "mine")
    other = Spool(tmp_path, 10_000_000, GROUP)
    result, events = recover(other)
    assert result.owners == 0 and events == []
    other_group = Spool(tmp_path, 10_000_000, "/another/group")
    die(live, journal)
    result = recover_dead(
        tmp_path,
        other_group.group_key,
        other_group.owner,
        lambda owner: other_group.owner_alive(owner, {}),
        lambda batch, stream: {},
        plan_batches,
    )
    assert result.owners == 0  # another group's journal is not ours to recover
    assert [e.message for e in recover(other)[1]] == ["mine"]


@pytest.mark.parametrize(
    ("damage", "corrupt", "kept"),
    [
        pytest.param(b'41 1700000000041 20 R{"trunc', 1, 40, id="torn-last-line"),
        pytest.param(b"42 17000", 1, 40, id="torn-last-line-unparsable"),
        pytest.param(b"garbage line\n", 1, 40, id="garbage-line"),
        pytest.param(b'43 1700000000043 20 J"unterminated\n', 1, 40, id="bad-json-payload"),
        pytest.param(b"44 1700000000044 20 X?\n", 1, 40, id="unknown-kind"),
    ],
)
def test_corrupt_and_truncated_lines_are_tolerated_and_counted(
    tmp_path: Path, damage: bytes, corrupt: int, kept: int
) -> None:
    dead_spool = Spool(tmp_path, 10_000_000, GROUP)
    journal = journal_for(dead_spool)
    for seq in range(1, 41):
        journal.append(seq, 1_700_000_000_000 + seq, logging.INFO, f"event {seq}")
    segment = next((tmp_path / "journal").glob("*.jsonl"))
    with segment.open("ab") as handle:
        handle.write(damage)
    die(dead_spool, journal)
    result, events = recover(Spool(tmp_path, 10_000_000, GROUP))
    assert result.corrupt == corrupt
    assert len(events) == kept
    assert [e.message for e in events[:40]] == [f"event {seq}" for seq in range(1, 41)]


def test_rotation_deletes_delivered_segments_and_recovery_spans_segments(tmp_path: Path) -> None:
    spool = Spool(tmp_path, 10_000_000, GROUP)
    journal = journal_for(spool, segment_bytes=2_000)
    text = "x" * 90
    for seq in range(1, 201):
        journal.append(seq, 1_700_000_000_000 + seq, logging.INFO, text)
    segments = sorted((tmp_path / "journal").glob("*.jsonl"))
    assert len(segments) > 5
    journal.checkpoint(150)
    left = sorted((tmp_path / "journal").glob("*.jsonl"))
    assert len(left) < len(segments) / 2
    assert journal.bytes == sum(path.stat().st_size for path in left)
    first = read_segment(left[0], 0)
    assert first is not None and first.events[0].seq <= 151  # nothing undelivered was deleted
    die(spool, journal)
    _, events = recover(Spool(tmp_path, 10_000_000, GROUP))
    stamps = [event.timestamp - 1_700_000_000_000 for event in events]
    assert stamps == list(range(151, 201))  # the spool renumbers; timestamps carry the seq


def test_close_deletes_a_fully_resolved_journal_and_keeps_an_unresolved_one(
    tmp_path: Path,
) -> None:
    spool = Spool(tmp_path, 10_000_000, GROUP)
    done = journal_for(spool)
    done.append(1, 1_700_000_000_000, logging.INFO, "a")
    done.checkpoint(1)
    done.close(resolved_all=True)
    assert [n for n in os.listdir(tmp_path / "journal") if n != "claimed"] == []
    kept = journal_for(spool)
    kept.append(1, 1_700_000_000_000, logging.INFO, "b")
    kept.close(resolved_all=False)
    spool.close()
    assert [e.message for e in recover(Spool(tmp_path, 10_000_000, GROUP))[1]] == ["b"]


def test_byte_bound_refuses_appends(tmp_path: Path) -> None:
    journal = journal_for(Spool(tmp_path, 10_000_000, GROUP), max_bytes=1_000)
    for seq in range(1, 6):
        journal.append(seq, 1_700_000_000_000, logging.INFO, "y" * 100)
    with pytest.raises(OSError, match="bound"):
        for seq in range(6, 20):
            journal.append(seq, 1_700_000_000_000, logging.INFO, "y" * 100)
    assert journal.bytes <= 1_000


def test_dead_recoverer_claim_goes_back(tmp_path: Path) -> None:
    dead_spool = Spool(tmp_path, 10_000_000, GROUP)
    journal = journal_for(dead_spool)
    for seq in range(1, 4):
        journal.append(seq, 1_700_000_000_000 + seq, logging.INFO, f"r{seq}")
    die(dead_spool, journal)
    recoverer = Spool(tmp_path, 10_000_000, GROUP)
    ckpt = next((tmp_path / "journal").glob("*.ckpt"))
    (tmp_path / "journal" / "claimed").mkdir()
    os.rename(ckpt, tmp_path / "journal" / "claimed" / f"{ckpt.name}~{recoverer.owner}")
    recoverer.forget_after_fork()  # the recoverer dies mid-way
    _, events = recover(Spool(tmp_path, 10_000_000, GROUP))
    assert [e.message for e in events] == ["r1", "r2", "r3"]


def test_handler_journals_before_emit_returns_and_checkpoints_after_delivery(
    moto_url: str, group: str, logs: Any, tmp_path: Path
) -> None:
    handler = handler_for(moto_url, group, tmp_path, flush_interval=600)
    with attached(handler) as logger:
        for i in range(50):
            logger.info("journaled %d", i)
        segment = next((tmp_path / "spool" / "journal").glob("*.jsonl"))
        lines = segment.read_bytes().rstrip(b"\0").splitlines()  # minus the reserve
        assert len(lines) == 51  # header + one line per record, before anything was sent
        assert orjson.loads(lines[-1].split(b" ", 3)[3][1:])["message"] == "journaled 49"
        handler.flush(5)
        ckpt = next((tmp_path / "spool" / "journal").glob("*.ckpt"))
        assert int(ckpt.read_bytes()) == 50
    assert len(fetch_events(logs, group)) == 50
    assert [n for n in os.listdir(tmp_path / "spool" / "journal") if n != "claimed"] == []


def test_handler_counts_records_it_cannot_journal_and_says_so_once(
    moto_url: str,
    group: str,
    logs: Any,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    handler = handler_for(moto_url, group, tmp_path)
    journal = handler._journal
    assert journal is not None

    def disk_full(fd: int, offset: int, length: int) -> None:
        raise OSError(28, "No space left on device")

    # the open segment is full and no new one can be reserved, as on a full disk
    journal._close_segment(truncate=False)
    monkeypatch.setattr("logship.journal.os.posix_fallocate", disk_full)
    with attached(handler) as logger:
        for i in range(20):
            logger.info("not journaled %d", i)
        stats = handler.stats()
        assert stats["unjournaled"] == 20
        assert wait_until(lambda: len(fetch_events(logs, group)) == 20, 10)
    notices = [line for line in capfd.readouterr().err.splitlines() if "journal-write" in line]
    assert len(notices) == 1
    assert orjson.loads(notices[0])["data"]["notice"] == "journal-write"
