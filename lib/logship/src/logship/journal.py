"""A per-process append-only journal of accepted events, so a killed process loses nothing.

Layout under the spool directory (next to the spool's ``owners/{owner}.lock``)::

    journal/{group}-{owner}-{n}.jsonl   segments: a header line, then one line per event
    journal/{group}-{owner}.ckpt        checkpoint: every event with seq <= it is resolved
    journal/claimed/{group}-{owner}.ckpt~{claimer}   a dead owner's checkpoint, being recovered

``{group}`` is the spool's 12-hex group key. A segment's header is
``{"v": 1, "group", "stream", "owner", "segment"}``; each event line is
``{seq} {timestamp_ms} {level} R{message}`` (message text as is) or ``... J{json string}``
(the message JSON-encoded, when it contains a newline or a NUL). A segment is a file of
``segment_bytes`` reserved up front (``posix_fallocate``, so a full disk shows at creation, never
as a fault while writing) and mapped shared into memory: a line is copied into the mapping under
the process's shared lock before ``emit`` returns, a memory copy rather than a system call per event
(as Fluent Bit's memory-mapped chunks). No fsync: the page cache, which a shared mapping
writes into, survives the death of the process (not of the host). The unwritten rest of a
segment reads as NUL bytes, which readers skip.

The checkpoint is a fixed-width decimal written with one ``os.pwrite`` after each batch is
resolved (accepted by PutLogEvents, written to the spool, rejected for good or dropped and
counted). Segments wholly at or below the checkpoint are deleted; a segment is closed and a
new one started once it holds ``segment_bytes``.

Recovery (:func:`recover_dead`): a checkpoint whose owner's lock is free (the process is gone)
is claimed by renaming it into ``claimed/``; the owner's events above the checkpoint are
written to the spool as batch files (the spool then replays them to the dead process's
stream), the claimed checkpoint advancing after each file; then the segments and the
checkpoint are deleted. A recoverer that dies itself leaves a claimed checkpoint whose
claimer's lock is free: it goes back and is recovered again from where it got to.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import orjson

from .batching import Event

__all__ = ["Journal", "RecoveryResult", "read_segment", "recover_dead"]

_VERSION: Final = 1
CHECKPOINT_WIDTH: Final = 20
DEFAULT_SEGMENT_BYTES: Final = 4 * 1024 * 1024
#: Resolved ranges kept above the checkpoint (the checkpoint stays within one page).
MAX_RANGES: Final = 100
_SEGMENT: Final = re.compile(
    r"^(?P<key>[0-9a-f]{12})-(?P<owner>[A-Za-z0-9_.]+)-(?P<n>\d{6,})\.jsonl$"
)
_CKPT: Final = re.compile(r"^(?P<key>[0-9a-f]{12})-(?P<owner>[A-Za-z0-9_.]+)\.ckpt$")


class Journal:
    """The journal of one handler in one process (not thread-safe: the handler serialises
    :meth:`append`, :meth:`checkpoint` and :meth:`close` under its lock).

    :param directory: the spool directory (``journal/`` is created under it).
    :param group_key: the spool's group key (file name prefix).
    :param group: the log group (in each segment's header).
    :param owner: the spool's owner name (its lock marks this process alive).
    :param stream: the stream the events belong to.
    :param segment_bytes: size at which a segment is closed and a new one started.
    :param max_bytes: bound on this journal's bytes on disk; appends beyond it are refused
        (the caller counts them; the event is still shipped from memory).
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        group_key: str,
        group: str,
        owner: str,
        stream: str,
        segment_bytes: int = DEFAULT_SEGMENT_BYTES,
        max_bytes: int = 100 * 1024 * 1024,
    ) -> None:
        self.directory = Path(directory) / "journal"
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.prefix = f"{group_key}-{owner}"
        self.group = group
        self.owner = owner
        self.stream = stream
        self.segment_bytes = segment_bytes
        self.max_bytes = max_bytes
        self.checkpointed = 0
        self._done: list[list[int]] = []  # resolved [first, last] ranges above the checkpoint
        self._ckpt_len = 0
        self.last_seq = 0
        self._segment = 0
        self._fd = -1
        self._map: mmap.mmap | None = None
        self._capacity = 0
        self._size = 0
        self._closed_bytes = 0
        self._closed: list[tuple[int, int, int]] = []  # (segment number, last seq, bytes)
        self._ckpt_path = self.directory / f"{self.prefix}.ckpt"
        self._ckpt_fd = os.open(
            self._ckpt_path, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600
        )
        try:
            os.pwrite(self._ckpt_fd, b"0".rjust(CHECKPOINT_WIDTH) + b"\n", 0)
            self._open_segment()
        except OSError:
            os.close(self._ckpt_fd)
            with contextlib.suppress(OSError):
                self._ckpt_path.unlink()
            raise

    @property
    def bytes(self) -> int:
        """Bytes of this journal's segments on disk (the open segment's reserved size)."""
        return self._closed_bytes + self._capacity

    def _segment_path(self, number: int) -> Path:
        return self.directory / f"{self.prefix}-{number:06d}.jsonl"

    def _open_segment(self, at_least: int = 0) -> None:
        self._segment += 1
        path = self._segment_path(self._segment)
        header = orjson.dumps(
            {
                "v": _VERSION,
                "group": self.group,
                "stream": self.stream,
                "owner": self.owner,
                "segment": self._segment,
            }
        )
        room = self.max_bytes - self._closed_bytes  # the reserve never passes the bound
        capacity = max(min(self.segment_bytes, room), len(header) + 1 + at_least)
        if capacity > room:
            raise OSError(28, "journal over its byte bound")
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            os.posix_fallocate(fd, 0, capacity)
            mapping = mmap.mmap(fd, capacity)
        except (OSError, ValueError) as exc:
            os.close(fd)
            with contextlib.suppress(OSError):
                path.unlink()
            raise OSError(28, f"cannot reserve a journal segment: {exc}") from exc
        mapping[: len(header) + 1] = header + b"\n"
        self._fd = fd
        self._map = mapping
        self._capacity = capacity
        self._size = len(header) + 1

    def append(self, seq: int, timestamp: int, level: int, text: str) -> None:
        """Copy one event line into the mapped segment. Raises OSError when it cannot be
        journaled (nothing of it is left in the journal): the byte bound, or no room on disk
        for a new segment."""
        if "\n" in text or "\0" in text:
            line = f"{seq} {timestamp} {level} J".encode() + orjson.dumps(text) + b"\n"
        else:
            line = f"{seq} {timestamp} {level} R{text}\n".encode("utf-8", "surrogatepass")
        size = self._size
        end = size + len(line)
        mapping = self._map
        if mapping is None or end > self._capacity:
            self._rotate(len(line))
            mapping = self._map
            size = self._size
            end = size + len(line)
            assert mapping is not None  # noqa: S101 - _rotate opened one or raised
        mapping[size:end] = line
        self._size = end
        self.last_seq = seq

    def _close_segment(self, truncate: bool) -> None:
        """Unmap and close the open segment; ``truncate`` gives back its unused reserve."""
        mapping, self._map = self._map, None
        fd, self._fd = self._fd, -1
        if mapping is not None:
            with contextlib.suppress(OSError, ValueError):
                mapping.close()
        if fd >= 0:
            if truncate:
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, self._size)
            with contextlib.suppress(OSError):
                os.close(fd)

    def _rotate(self, at_least: int = 0) -> None:
        if self._map is not None:
            self._close_segment(truncate=True)
            self._closed.append((self._segment, self.last_seq, self._size))
            self._closed_bytes += self._size
        self._size = 0
        self._capacity = 0
        self._open_segment(at_least)

    def resolve(self, seqs: Sequence[int]) -> None:
        """Mark events resolved out of order (above the checkpoint: a batch spooled while an
        older one is still in flight), so a recovery does not hand them over again."""
        if not seqs:
            return
        done = self._done
        low, high = min(seqs), max(seqs)
        if high - low + 1 == len(seqs):  # the usual batch: one run (checked in C)
            if high <= self.checkpointed:
                return
            if not done or done[-1][1] + 1 < low:
                if not done or done[-1][0] < low:
                    done.append([max(low, self.checkpointed + 1), high])
                    return
        for seq in sorted(seqs):
            if seq <= self.checkpointed:
                continue
            if done and done[-1][0] <= seq <= done[-1][1] + 1:
                done[-1][1] = max(done[-1][1], seq)
            else:
                done.append([seq, seq])
                if len(done) > 1 and done[-2][0] > seq:
                    done.sort()
                    merged: list[list[int]] = []
                    for first, last in done:
                        if merged and first <= merged[-1][1] + 1:
                            merged[-1][1] = max(merged[-1][1], last)
                        else:
                            merged.append([first, last])
                    done[:] = merged
        if len(done) > MAX_RANGES:  # forget the newest: a duplicate at worst, never a loss
            del done[MAX_RANGES:]

    def checkpoint(self, seq: int) -> None:
        """Every event with sequence <= ``seq`` is resolved (and those in :meth:`resolve`
        ranges): record it with one ``pwrite`` and delete the segments that hold nothing newer.
        Errors are raised (the caller counts and reports them)."""
        done = self._done
        while done and done[0][0] <= seq + 1:
            seq = max(seq, done.pop(0)[1])
        if seq <= self.checkpointed and not done:
            return
        text = str(max(seq, self.checkpointed)).encode().rjust(CHECKPOINT_WIDTH)
        if done:
            text += b" " + b" ".join(b"%d-%d" % (first, last) for first, last in done)
        data = text.ljust(self._ckpt_len) + b"\n"  # blanks over a longer previous text
        os.pwrite(self._ckpt_fd, data, 0)
        self._ckpt_len = len(text)
        if seq > self.checkpointed:
            self.checkpointed = seq
        while self._closed and self._closed[0][1] <= self.checkpointed:
            number, _, size = self._closed.pop(0)
            self._closed_bytes -= size
            with contextlib.suppress(OSError):
                self._segment_path(number).unlink()

    def close(self, resolved_all: bool) -> None:
        """Close the segment; when everything is resolved, delete the journal's files
        (otherwise they stay, trimmed to what was written, for the next process to recover)."""
        self._close_segment(truncate=not resolved_all)
        if resolved_all:
            for number, _, _ in self._closed:
                with contextlib.suppress(OSError):
                    self._segment_path(number).unlink()
            with contextlib.suppress(OSError):
                self._segment_path(self._segment).unlink()
            with contextlib.suppress(OSError):
                self._ckpt_path.unlink()
        ckpt, self._ckpt_fd = self._ckpt_fd, -1
        if ckpt >= 0:
            with contextlib.suppress(OSError):
                os.close(ckpt)

    def forget_after_fork(self) -> None:
        """In a forked child: drop the inherited mapping and descriptors, touch no file."""
        mapping, self._map = self._map, None
        if mapping is not None:
            with contextlib.suppress(OSError, ValueError):
                mapping.close()  # this process's view only: the parent's mapping stays
        for fd in (self._fd, self._ckpt_fd):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._fd = self._ckpt_fd = -1


# -- recovery ------------------------------------------------------------------------------------


@dataclass
class SegmentContents:
    """Events read from one segment."""

    group: str
    stream: str
    events: list[Event]
    corrupt: int = 0


@dataclass
class RecoveryResult:
    """What :func:`recover_dead` did: owners recovered, events handed over, lines unreadable."""

    owners: int = 0
    events: int = 0
    corrupt: int = 0
    dropped: dict[int, int] = field(default_factory=dict)


def read_segment(
    path: Path, after: int, done: Sequence[tuple[int, int]] = ()
) -> SegmentContents | None:
    """Events of a segment with sequence > ``after``; unreadable lines (a torn last line, say)
    are skipped and counted. None when the header itself is unreadable."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if b"\0" in data:  # the unwritten reserve of a mapped segment (lines never hold a NUL)
        data = data.replace(b"\0", b"")
    lines = data.split(b"\n")
    try:
        header = orjson.loads(lines[0])
        group = str(header["group"])
        stream = str(header["stream"])
    except (IndexError, KeyError, TypeError, orjson.JSONDecodeError):
        return None
    contents = SegmentContents(group, stream, [])
    if lines[-1]:  # no newline at the end: a torn write (never delivered half)
        contents.corrupt += 1
    for line in lines[1:-1]:
        if not line:
            continue
        try:
            seq_raw, ts_raw, level_raw, payload = line.split(b" ", 3)
            seq = int(seq_raw)
            if seq <= after or any(first <= seq <= last for first, last in done):
                continue
            kind, body = payload[:1], payload[1:]
            if kind == b"R":
                message = body.decode("utf-8", "surrogatepass")
            elif kind == b"J":
                message = orjson.loads(body)
                if not isinstance(message, str):
                    raise ValueError("not a string")
            else:
                raise ValueError("unknown payload kind")
            contents.events.append(
                Event(int(ts_raw), int(level_raw), message, len(message.encode()), seq)
            )
        except (ValueError, UnicodeError, orjson.JSONDecodeError):
            contents.corrupt += 1
    return contents


def _read_checkpoint(path: Path) -> tuple[int, list[tuple[int, int]]]:
    """The checkpoint and the resolved ranges above it (0 and none when unreadable: a
    duplicate at worst)."""
    try:
        fields = path.read_bytes().split()
        ranges = []
        for item in fields[1:]:
            first, _, last = item.partition(b"-")
            ranges.append((int(first), int(last)))
        return (int(fields[0]) if fields else 0), ranges
    except (OSError, ValueError):
        return 0, []


def recover_dead(
    spool_directory: Path,
    group_key: str,
    me: str,
    alive: Callable[[str], bool],
    write: Callable[[Sequence[Event], str], dict[int, int]],
    plan: Callable[[Sequence[Event]], tuple[list[list[Event]], list[Event]]],
) -> RecoveryResult:
    """Hand the undelivered events of every dead owner's journal (of this group) to ``write``
    (which must persist one batch durably and return the events it gave up, by level).

    ``alive(owner)`` tells whether an owner's lock is held; ``plan`` splits events into valid
    batches (and events too large for any). The claimed checkpoint advances after each
    batch, so a recoverer that dies leaves at most one batch to be handed over twice.
    """
    result = RecoveryResult()
    directory = spool_directory / "journal"
    claimed_dir = directory / "claimed"
    try:
        names = os.listdir(directory)
    except OSError:
        return result
    with contextlib.suppress(OSError):
        claimed_dir.mkdir(exist_ok=True, mode=0o700)
    # Claimed checkpoints of dead claimers go back first.
    with contextlib.suppress(OSError):
        for name in os.listdir(claimed_dir):
            ckpt_name, sep, claimer = name.rpartition("~")
            if sep and claimer != me and not alive(claimer):
                with contextlib.suppress(OSError):
                    os.rename(claimed_dir / name, directory / ckpt_name)
                    names.append(ckpt_name)
    for name in sorted(set(names)):
        match = _CKPT.match(name)
        if not match or match.group("key") != group_key:
            continue
        owner = match.group("owner")
        if owner == me or alive(owner):
            continue
        claimed = claimed_dir / f"{name}~{me}"
        try:
            os.rename(directory / name, claimed)  # the claim
        except OSError:
            continue  # another process got it first
        result.owners += 1
        try:
            _recover_owner(directory, group_key, owner, claimed, write, plan, result)
        except BaseException:
            with contextlib.suppress(OSError):  # release the claim: recovered again later
                os.rename(claimed, directory / name)
            raise
    return result


def _recover_owner(
    directory: Path,
    group_key: str,
    owner: str,
    claimed: Path,
    write: Callable[[Sequence[Event], str], dict[int, int]],
    plan: Callable[[Sequence[Event]], tuple[list[list[Event]], list[Event]]],
    result: RecoveryResult,
) -> None:
    prefix = f"{group_key}-{owner}-"
    segments = sorted(
        n for n in os.listdir(directory) if n.startswith(prefix) and _SEGMENT.match(n)
    )
    done, ranges = _read_checkpoint(claimed)
    for segment in segments:
        contents = read_segment(directory / segment, done, ranges)
        if contents is None:
            result.corrupt += 1
            continue
        result.corrupt += contents.corrupt
        if not contents.events:
            continue
        batches, oversized = plan(contents.events)
        for event in oversized:
            result.dropped[event.level] = result.dropped.get(event.level, 0) + 1
        # Batches are in time order, not sequence order: the checkpoint may only pass a
        # sequence number once everything up to it is handed over.
        last = max(event.seq for event in contents.events)
        floors = [last] * (len(batches) + 1)
        for index in range(len(batches) - 1, -1, -1):
            floors[index] = min(floors[index + 1], min(e.seq for e in batches[index]) - 1)
        for index, batch in enumerate(batches):
            for level, count in write(batch, contents.stream).items():
                result.dropped[level] = result.dropped.get(level, 0) + count
            result.events += len(batch)
            if floors[index + 1] > done:
                done = floors[index + 1]
                text = str(done).encode().rjust(CHECKPOINT_WIDTH)
                text += b"".join(b" %d-%d" % (a, b) for a, b in ranges if b > done)
                with contextlib.suppress(OSError):
                    claimed.write_bytes(text + b"\n")
    for segment in segments:
        with contextlib.suppress(OSError):
            (directory / segment).unlink()
    with contextlib.suppress(OSError):
        claimed.unlink()
