"""Bad input and faults, end to end against the moto server (through the fault proxy, which
keeps every PutLogEvents body): an event over 1 MB, non-UTF-8 messages, data that cannot be
serialised, clocks far in the past or future, spool and journal directories full or
read-only (at start and mid-run, on a size-limited tmpfs), corrupt spool files and journal
segments.

Each case plants its fault between good records and then reads the log group back: every
good record arrived exactly once, the bad one arrived in a valid adjusted form or is counted
with its reason in ``handler.stats()``, exactly one notice of the fault's kind is on stderr,
and every request logship sent keeps CloudWatch's rules (which moto does not enforce).
"""

from __future__ import annotations

import collections
import contextlib
import errno
import json
import logging
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from logship.batching import Event
from logship.journal import Journal
from logship.limits import (
    EVENT_OVERHEAD_BYTES,
    MAX_BATCH_BYTES,
    MAX_BATCH_EVENTS,
    MAX_BATCH_SPAN_MS,
    MAX_EVENT_AGE_MS,
    MAX_EVENT_FUTURE_MS,
    MAX_MESSAGE_BYTES_HARD,
)
from logship.spool import Spool

from .conftest import fetch_events, wait_until
from .faultproxy import FaultProxy
from .helpers import attached, handler_for, log_at
from .test_kill import Load, check_delivered, start_gunicorn, stop_group

DAY = 86_400.0
GOOD = 20  # good records before the fault and as many after it
PLANTED = 12  # records of a planted spool file or dead process's journal
SPOOL_SUBDIRS = ("ready", "claimed", "tmp", "owners", "journal", "journal/claimed")


# -- mounts ----------------------------------------------------------------------------------------


def _mount(*args: str) -> None:
    proc = subprocess.run(["mount", *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        pytest.skip(f"mount {' '.join(args)} failed (needs root, CAP_SYS_ADMIN): {proc.stderr}")


def _umount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


@contextlib.contextmanager
def tmpfs(path: Path, size: str, read_only: bool = False) -> Iterator[Path]:
    """A size-limited tmpfs at ``path`` (read-only: empty, as a filesystem mounted read-only)."""
    if os.geteuid() != 0:
        pytest.skip("a size-limited or read-only tmpfs is mounted for this test: needs root")
    path.mkdir(parents=True, exist_ok=True)
    _mount("-t", "tmpfs", "-o", f"size={size},mode=0700{',ro' if read_only else ''}", "tmpfs",
           str(path))  # fmt: skip
    try:
        yield path
    finally:
        _umount(path)


def make_read_only(path: Path, stack: contextlib.ExitStack) -> None:
    """Turn ``path`` read-only under a running process: a read-only tmpfs with the spool's
    directories is bound over it (files the process holds open stay where they were; every
    new file, rename or directory lock gets EROFS, as after a remount)."""
    staging = path.parent / f"{path.name}.ro"
    staging.mkdir()
    _mount("-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", str(staging))
    try:
        for sub in SPOOL_SUBDIRS:
            (staging / sub).mkdir(mode=0o700)
        _mount("-o", "remount,ro", str(staging))
        _mount("--bind", str(staging), str(path))
    finally:
        _umount(staging)
    stack.callback(_umount, path)


def fill(path: Path) -> None:
    """Fill the filesystem holding ``path`` until it refuses a write (ENOSPC)."""
    chunk = b"\0" * 65536
    with (path / "filler").open("wb", buffering=0) as out:
        while True:
            try:
                out.write(chunk)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
                break
    with contextlib.suppress(OSError), (path / "filler-tail").open("wb", buffering=0) as out:
        while out.write(b"\0"):
            pass


# -- the table -------------------------------------------------------------------------------------


@dataclass
class Ctx:
    """What a case's steps see."""

    tmp_path: Path
    group: str
    run: str
    proxy: FaultProxy
    stack: contextlib.ExitStack
    logger: logging.Logger | None = None
    handler: Any = None
    #: planted records (spool files, dead journals) that must arrive, by their ``planted`` id
    planted: set[int] = field(default_factory=set)
    #: records whose content is checked by the case's ``check``: by ``bad`` id
    bad: list[str] = field(default_factory=list)
    logged_at: tuple[float, float] = (0.0, 0.0)

    @property
    def spool(self) -> Path:
        return self.tmp_path / "spool"

    def log(self, message: object, bad: str, **extra: Any) -> None:
        assert self.logger is not None
        self.bad.append(bad)
        self.logger.warning(message, extra={"run": self.run, "bad": bad, **extra})

    def outage(self, counter: str) -> None:
        """Fail PutLogEvents until the handler has counted ``counter``, then recover."""
        self.proxy.mode = "reset"
        assert self.handler is not None
        # The sender's own retries fail, then its spool write (no flush here: a flush that
        # times out takes the batch in flight over, the documented duplicate window).
        ok = wait_until(lambda: self.handler.stats()[counter] > 0, 60, 0.1)
        self.proxy.mode = "pass"
        assert ok, self.handler.stats()


Step = Callable[[Ctx], None]
Check = Callable[[Ctx, dict[str, Any], dict[str, dict[str, Any]]], None]


@dataclass
class Case:
    """One fault: ``prepare`` before the handler starts, ``act`` between the good records,
    ``check`` on the stats and the bad records as delivered (by ``bad`` id)."""

    notice: str
    check: Check
    act: Step | None = None
    prepare: Step | None = None
    options: dict[str, Any] = field(default_factory=dict)
    also: frozenset[str] = frozenset()  # other notices the fault's recovery may cause


def _noop(ctx: Ctx) -> None:
    return


# -- bad records ---------------------------------------------------------------------------------


def _big_message(ctx: Ctx) -> None:
    ctx.log("m" * 1_200_000, "message")


def _big_data(ctx: Ctx) -> None:
    ctx.log("big data", "data", blob="d" * 1_500_000, small="kept")


def _check_cut(limit: int) -> Check:
    def check(ctx: Ctx, stats: dict[str, Any], bad: dict[str, dict[str, Any]]) -> None:
        assert stats["truncated"] == len(ctx.bad)
        for record in bad.values():
            assert record["truncated"] is True
            assert record["_event_bytes"] <= limit
            assert record["data"]["run"] == ctx.run
        if "data" in bad:
            assert bad["data"]["data"]["small"] == "kept"

    return check


def _bytes_message(ctx: Ctx) -> None:
    ctx.log(b"raw \xff\xfe bytes", "bytes")


def _check_bytes(ctx: Ctx, stats: dict[str, Any], bad: dict[str, dict[str, Any]]) -> None:
    assert stats["repaired"] == {"bytes_message": 1}
    assert bad["bytes"]["message"] == "b'raw \\xff\\xfe bytes'"


def _surrogates(ctx: Ctx) -> None:
    ctx.log("lone \udc80 surrogate", "surrogate", field="also \ud800 here")


def _check_surrogates(ctx: Ctx, stats: dict[str, Any], bad: dict[str, dict[str, Any]]) -> None:
    assert stats["repaired"] == {"invalid_text": 1}
    assert bad["surrogate"]["message"] == "lone \ufffd surrogate"
    assert bad["surrogate"]["data"]["field"] == "also \ufffd here"


class Opaque:
    """No JSON form; its repr is logged."""

    def __repr__(self) -> str:
        return "Opaque(7)"


class Hostile:
    """Its repr raises."""

    def __repr__(self) -> str:
        raise RuntimeError("no repr")

    def __str__(self) -> str:
        raise RuntimeError("no str")


def _unserialisable(ctx: Ctx) -> None:
    ctx.log("opaque", "opaque", thing=Opaque(), nested={"inner": [Opaque()]})


def _check_unserialisable(ctx: Ctx, stats: dict[str, Any], bad: dict[str, dict[str, Any]]) -> None:
    assert stats["repaired"] == {"unserialisable": 2}
    assert bad["opaque"]["data"]["thing"] == "Opaque(7)"
    assert bad["opaque"]["data"]["nested"] == {"inner": ["Opaque(7)"]}


def _hostile(ctx: Ctx) -> None:
    ctx.log("hostile %s", "hostile", thing=Hostile())


def _check_hostile(ctx: Ctx, stats: dict[str, Any], bad: dict[str, dict[str, Any]]) -> None:
    assert stats["repaired"]["repr_failed"] == 1
    assert bad["hostile"]["data"]["thing"] == "<unrepresentable Hostile>"


# -- clocks ---------------------------------------------------------------------------------------


def _clock(offset: float) -> Step:
    def act(ctx: Ctx) -> None:
        assert ctx.logger is not None
        ctx.bad.append("clock")
        start = time.time()
        log_at(ctx.logger, start + offset, "clock", logging.WARNING, run=ctx.run, bad="clock")
        ctx.logged_at = (start, time.time())

    return act


def _check_clock(key: str, offset: float) -> Check:
    def check(ctx: Ctx, stats: dict[str, Any], bad: dict[str, dict[str, Any]]) -> None:
        assert stats["clock_adjusted"] == {"too_old": 0, "too_new": 0} | {key: 1}
        record = bad["clock"]
        start, end = ctx.logged_at
        assert start * 1000 - 1 <= record["_event_timestamp"] <= end * 1000 + 1  # logging time
        own = time.strftime("%Y-%m-%dT%H:%M", time.gmtime(start + offset))
        assert record["timestamp"].startswith(own)  # the JSON keeps its own timestamp

    return check


def _aged_spool_file(ctx: Ctx) -> None:
    """A spool file left by an earlier process, its events aged past 14 days meanwhile."""
    spool = Spool(ctx.spool, 10_000_000, ctx.group)
    now = int(time.time() * 1000)
    events = [
        Event(now - 15 * 86_400_000 + i, logging.INFO, _planted(ctx, i), 64, i) for i in range(3)
    ]
    events += [Event(now - 60_000 + i, logging.INFO, _planted(ctx, i), 64, i) for i in (3, 4)]
    spool.write(events, "left-behind")
    spool.close()
    ctx.planted |= {3, 4}


def _check_aged(ctx: Ctx, stats: dict[str, Any], bad: dict[str, dict[str, Any]]) -> None:
    assert stats["rejected"]["too_old"] == 3
    assert stats["replayed"] == 2


# -- corrupt spool files and journal segments ------------------------------------------------


def _planted(ctx: Ctx, number: int) -> str:
    return orjson.dumps(
        {"message": f"planted {number}", "logger": "planted", "data": {"run": ctx.run,
         "planted": number}}
    ).decode()  # fmt: skip


def _corrupt(kind: str, path: Path, header_end: int) -> int:
    """Damage a file after its header line; returns the offset of the damage."""
    data = bytearray(path.read_bytes())
    lines = data[header_end:].split(b"\n")
    middle = header_end + sum(len(line) + 1 for line in lines[: PLANTED // 2]) + 10
    if kind == "truncated":
        path.write_bytes(bytes(data[:middle]))
    elif kind == "garbage":  # invalid UTF-8 inside one line, no newline touched
        data[middle : middle + 8] = bytes(range(0xF8, 0x100))
        path.write_bytes(bytes(data))
    else:  # zero-filled: the whole file, as a lost write leaves it
        path.write_bytes(b"\0" * len(data))
    return middle


def _corrupt_spool_file(kind: str) -> Step:
    def prepare(ctx: Ctx) -> None:
        spool = Spool(ctx.spool, 10_000_000, ctx.group)
        now = int(time.time() * 1000)
        spool.write(
            [Event(now + i, logging.INFO, _planted(ctx, i), 64, i) for i in range(PLANTED)],
            "left-behind",
        )
        spool.close()
        (path,) = (ctx.spool / "ready").iterdir()
        header_end = path.read_bytes().index(b"\n") + 1
        _corrupt(kind, path, header_end)
        if kind == "truncated":
            ctx.planted |= set(range(PLANTED // 2))
        elif kind == "garbage":
            ctx.planted |= set(range(PLANTED)) - {PLANTED // 2}

    return prepare


def _check_spool_corrupt(kind: str) -> Check:
    def check(ctx: Ctx, stats: dict[str, Any], bad: dict[str, dict[str, Any]]) -> None:
        if kind == "zeros":
            assert stats["spool_corrupt"] == 1  # the file, set aside
            assert len(list((ctx.spool / "corrupt").iterdir())) == 1
        else:  # every line either delivered or counted
            assert stats["spool_corrupt"] + len(ctx.planted) == PLANTED
        assert stats["replayed"] == len(ctx.planted)
        assert not list((ctx.spool / "ready").iterdir())

    return check


def _corrupt_journal(kind: str) -> Step:
    def prepare(ctx: Ctx) -> None:
        group = ctx.group
        dead = Spool(ctx.spool, 10_000_000, group)
        journal = Journal(ctx.spool, dead.group_key, group, dead.owner, "dead-stream")
        now = int(time.time() * 1000)
        for seq in range(1, PLANTED + 1):
            journal.append(seq, now + seq, logging.INFO, _planted(ctx, seq - 1))
        journal.forget_after_fork()  # as SIGKILL leaves them: the owner's lock is free
        dead.forget_after_fork()
        (segment,) = (ctx.spool / "journal").glob("*.jsonl")
        data = segment.read_bytes().rstrip(b"\0")
        segment.write_bytes(data)  # what is left of the reserve does not matter here
        header_end = data.index(b"\n") + 1
        _corrupt(kind, segment, header_end)
        if kind == "truncated":
            ctx.planted |= set(range(PLANTED // 2))
        elif kind == "garbage":
            ctx.planted |= set(range(PLANTED)) - {PLANTED // 2}

    return prepare


def _check_journal_corrupt(ctx: Ctx, stats: dict[str, Any], bad: dict[str, Any]) -> None:
    assert stats["journal_corrupt"] == 1  # the torn line, the damaged line, or the segment
    assert stats["journal_recovered"] == len(ctx.planted)
    assert stats["replayed"] == len(ctx.planted)


# -- spool and journal directories ---------------------------------------------------------------


def _spool_read_only_at_start(ctx: Ctx) -> None:
    ctx.stack.enter_context(tmpfs(ctx.spool, "1m", read_only=True))


def _spool_full_at_start(ctx: Ctx) -> None:
    fill(ctx.stack.enter_context(tmpfs(ctx.spool, "64k")))


def _journal_read_only_at_start(ctx: Ctx) -> None:
    ctx.stack.enter_context(tmpfs(ctx.spool / "journal", "1m", read_only=True))


def _journal_full_at_start(ctx: Ctx) -> None:
    fill(ctx.stack.enter_context(tmpfs(ctx.spool / "journal", "64k")))


def _check_memory_only(ctx: Ctx, stats: dict[str, Any], bad: dict[str, Any]) -> None:
    assert stats["journal"] is False
    assert stats["unjournaled"] == stats["queued"] == 2 * GOOD


def _spool_tmpfs(ctx: Ctx) -> None:
    ctx.stack.enter_context(tmpfs(ctx.spool, "8m"))


def _journal_tmpfs(ctx: Ctx) -> None:
    ctx.stack.enter_context(tmpfs(ctx.spool / "journal", "6m"))


def _spool_full_mid_run(ctx: Ctx) -> None:
    fill(ctx.spool)
    ctx.outage("spool_failed")


def _spool_read_only_mid_run(ctx: Ctx) -> None:
    make_read_only(ctx.spool, ctx.stack)
    ctx.outage("spool_failed")


def _check_kept_in_memory(ctx: Ctx, stats: dict[str, Any], bad: dict[str, Any]) -> None:
    assert stats["spool_failed"] > 0
    assert stats["spooled"] == 0 and stats["dropped_total"] == 0


def _big_records(ctx: Ctx) -> None:
    """Past one journal segment (4 MiB): the next segment cannot be created."""
    for number in range(300):
        ctx.log("big", f"big-{number}", pad="p" * 16_000)


def _journal_full_mid_run(ctx: Ctx) -> None:
    fill(ctx.spool / "journal")
    _big_records(ctx)


def _journal_read_only_mid_run(ctx: Ctx) -> None:
    make_read_only(ctx.spool / "journal", ctx.stack)
    _big_records(ctx)


def _check_unjournaled(ctx: Ctx, stats: dict[str, Any], bad: dict[str, Any]) -> None:
    assert 0 < stats["unjournaled"] < stats["queued"]
    assert len(bad) == 300 and all(record["data"]["pad"] for record in bad.values())


CASES: dict[str, Case] = {
    "event-over-1MB-message": Case("truncated", _check_cut(256 * 1024), act=_big_message),
    "event-over-1MB-data": Case("truncated", _check_cut(256 * 1024), act=_big_data),
    "event-over-1MB-at-the-hard-cap": Case(
        "truncated",
        _check_cut(MAX_MESSAGE_BYTES_HARD),
        act=_big_data,
        options={"max_message_bytes": MAX_MESSAGE_BYTES_HARD},
    ),
    "message-bytes": Case("repaired", _check_bytes, act=_bytes_message),
    "message-lone-surrogates": Case("repaired", _check_surrogates, act=_surrogates),
    "extra-unserialisable": Case("repaired", _check_unserialisable, act=_unserialisable),
    "extra-repr-raises": Case("repaired", _check_hostile, act=_hostile),
    "clock-30-days-past": Case("clock", _check_clock("too_old", -30 * DAY), act=_clock(-30 * DAY)),
    "clock-past-retention": Case(
        "clock",
        _check_clock("too_old", -2 * DAY),
        act=_clock(-2 * DAY),
        options={"retention_days": 1},
    ),
    "clock-3-hours-ahead": Case("clock", _check_clock("too_new", 3 * 3600), act=_clock(3 * 3600)),
    "clock-aged-in-the-spool": Case("rejected-clock", _check_aged, prepare=_aged_spool_file),
    "spool-file-truncated": Case(
        "spool-corrupt", _check_spool_corrupt("truncated"), prepare=_corrupt_spool_file("truncated")
    ),
    "spool-file-garbage": Case(
        "spool-corrupt", _check_spool_corrupt("garbage"), prepare=_corrupt_spool_file("garbage")
    ),
    "spool-file-zero-filled": Case(
        "spool-corrupt", _check_spool_corrupt("zeros"), prepare=_corrupt_spool_file("zeros")
    ),
    "journal-segment-truncated": Case(
        "journal-recovery", _check_journal_corrupt, prepare=_corrupt_journal("truncated")
    ),
    "journal-segment-garbage": Case(
        "journal-recovery", _check_journal_corrupt, prepare=_corrupt_journal("garbage")
    ),
    "journal-segment-zero-filled": Case(
        "journal-recovery", _check_journal_corrupt, prepare=_corrupt_journal("zeros")
    ),
    "spool-read-only-at-start": Case(
        "spool", _check_memory_only, prepare=_spool_read_only_at_start
    ),
    "spool-full-at-start": Case("journal", _check_memory_only, prepare=_spool_full_at_start),
    "journal-read-only-at-start": Case(
        "journal", _check_memory_only, prepare=_journal_read_only_at_start
    ),
    "journal-full-at-start": Case("journal", _check_memory_only, prepare=_journal_full_at_start),
    "spool-full-mid-run": Case(
        "spool-write",
        _check_kept_in_memory,
        prepare=_spool_tmpfs,
        act=_spool_full_mid_run,
        also=frozenset({"unhealthy"}),
    ),
    "spool-read-only-mid-run": Case(
        "spool-write",
        _check_kept_in_memory,
        prepare=_spool_tmpfs,
        act=_spool_read_only_mid_run,
        also=frozenset({"unhealthy"}),
    ),
    "journal-full-mid-run": Case(
        "journal-write", _check_unjournaled, prepare=_journal_tmpfs, act=_journal_full_mid_run
    ),
    "journal-read-only-mid-run": Case(
        "journal-write", _check_unjournaled, prepare=_journal_tmpfs, act=_journal_read_only_mid_run
    ),
}


def notices_of(err: str, service: str) -> list[dict[str, Any]]:
    """logship's notices on stderr for one service."""
    found = []
    for line in err.splitlines():
        with contextlib.suppress(json.JSONDecodeError):
            record = json.loads(line)
            if record.get("logger") == "logship" and record.get("service") == service:
                found.append(record)
    return found


def check_requests(proxy: FaultProxy, sent_after: float) -> int:
    """Every PutLogEvents body logship sent keeps CloudWatch's rules; returns the events."""
    total = 0
    now = time.time() * 1000
    for mode, body in proxy.put_bodies:
        if mode != "pass":
            continue
        events = json.loads(body)["logEvents"]
        assert 1 <= len(events) <= MAX_BATCH_EVENTS
        size = sum(len(e["message"].encode()) + EVENT_OVERHEAD_BYTES for e in events)
        assert size <= MAX_BATCH_BYTES
        stamps = [e["timestamp"] for e in events]
        assert stamps == sorted(stamps), "in time order"
        assert stamps[-1] - stamps[0] <= MAX_BATCH_SPAN_MS, "within 24 hours"
        assert stamps[0] >= sent_after * 1000 - MAX_EVENT_AGE_MS, "not older than 14 days"
        assert stamps[-1] <= now + MAX_EVENT_FUTURE_MS, "not over 2 hours ahead"
        total += len(events)
    return total


@pytest.mark.parametrize("name", list(CASES))
def test_fault(
    name: str,
    moto_url: str,
    group: str,
    logs: Any,
    tmp_path: Path,
    proxy: FaultProxy,
    capfd: pytest.CaptureFixture[str],
) -> None:
    case = CASES[name]
    run = uuid.uuid4().hex
    service = f"bad-{run[:8]}"
    proxy.keep_bodies = True
    with contextlib.ExitStack() as stack:
        ctx = Ctx(tmp_path, group, run, proxy, stack)
        (case.prepare or _noop)(ctx)
        started = time.time()
        handler = handler_for(
            proxy.url, group, tmp_path, service=service, max_attempts=2, **case.options
        )
        ctx.handler = handler
        with attached(handler) as logger:
            ctx.logger = logger
            for seq in range(GOOD):
                logger.info("good %d", seq, extra={"run": run, "seq": seq})
            (case.act or _noop)(ctx)
            for seq in range(GOOD, 2 * GOOD):
                logger.info("good %d", seq, extra={"run": run, "seq": seq})

            def arrived() -> bool:
                handler.flush(5)
                mine = [m for m in messages() if m.get("data", {}).get("run") == run]
                return len(mine) >= 2 * GOOD + len(ctx.bad) + len(ctx.planted)

            def messages() -> list[dict[str, Any]]:
                out = []
                for event in fetch_events(logs, group):
                    record = orjson.loads(event["message"])
                    record["_event_timestamp"] = event["timestamp"]
                    record["_event_bytes"] = len(event["message"].encode())
                    out.append(record)
                return out

            assert wait_until(arrived, 60, 0.5), handler.stats()
            time.sleep(1.0)  # a duplicate still in flight would show now
            stats = handler.stats()
        found = [m for m in messages() if m.get("data", {}).get("run") == run]

    good = collections.Counter(m["data"]["seq"] for m in found if "seq" in m["data"])
    assert good == collections.Counter(range(2 * GOOD)), "every good record exactly once"
    planted = collections.Counter(m["data"]["planted"] for m in found if "planted" in m["data"])
    assert planted == collections.Counter(ctx.planted), "planted records exactly once"
    bad = {m["data"]["bad"]: m for m in found if "bad" in m["data"]}
    assert sorted(bad) == sorted(ctx.bad) and len(found) == len(good) + len(planted) + len(bad)
    case.check(ctx, stats, bad)
    assert check_requests(proxy, started) >= len(found)

    kinds = collections.Counter(
        n["data"]["notice"] for n in notices_of(capfd.readouterr().err, service)
    )
    assert kinds[case.notice] == 1, kinds
    assert set(kinds) <= {case.notice} | case.also, kinds


def test_gunicorn_keeps_answering_while_the_spool_is_read_only(
    moto_url: str, group: str, logs: Any, tmp_path: Path, proxy: FaultProxy
) -> None:
    """A gevent gunicorn app under load: its spool directory turns read-only, then CloudWatch
    fails for a few seconds (batches would go to the spool): every request is answered, and
    every answered request's records arrive once CloudWatch is back.

    The load is paced (600 requests, 1,800 records a second) so that what the workers hold
    through the outage stays under their memory bound (LOG_BUFFER_MAX_EVENTS, 20,000 per
    process): past it, records are dropped and counted by design, which is another case."""
    run = uuid.uuid4().hex
    with contextlib.ExitStack() as stack:
        stack.enter_context(tmpfs(tmp_path / "spool", "32m"))
        proc, port = start_gunicorn(tmp_path, proxy.url, group)
        stack.callback(stop_group, proc)
        with Load(port, run, rate=600) as load:
            time.sleep(1.0)
            make_read_only(tmp_path / "spool", stack)
            time.sleep(1.0)
            proxy.mode = "reset"
            time.sleep(5.0)  # past the workers' retries: their batches cannot be spooled
            proxy.mode = "pass"
            time.sleep(1.5)
        attempted = load.next_seq
        stop_group(proc)  # SIGTERM: the workers deliver what they hold
        assert len(load.answered) > 100
        assert len(load.answered) >= attempted - 4, "every request answered (4 were in flight)"
        check_delivered(logs, group, run, load.answered)
    output = (tmp_path / "gunicorn.log").read_text()
    notices = [json.loads(line) for line in output.splitlines() if '"logger":"logship"' in line]
    kinds = collections.Counter(n["data"]["notice"] for n in notices)
    assert 1 <= kinds["spool-write"] <= 2, kinds  # once per worker at most
    assert set(kinds) <= {"spool-write", "unhealthy"}, kinds
