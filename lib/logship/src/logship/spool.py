"""A capped on-disk spool for batches CloudWatch did not take, shared safely by processes.

Layout under the spool directory::

    ready/    complete batch files, ``{group}-{first_ts}-{owner}-{n}-L{max_level}.jsonl``
    claimed/  files being replayed, renamed to ``{name}~{owner}`` (the rename is the claim)
    tmp/      files being written (moved to ready/ with an atomic rename after fsync)
    owners/   ``{owner}.lock``, flock-ed by each live process for its lifetime
    .lock     flock-ed while checking capacity and writing or evicting

Each file is JSON lines: a header ``{"v": 1, "group", "stream", "count", "levels"}`` then one
``{"t": timestamp_ms, "l": level, "m": message}`` per event. One file is one valid batch.
A claimed file whose owner's lock is free (the owner died) goes back to ready/.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import secrets
import socket
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import orjson

from .batching import Event

__all__ = ["ClaimedFile", "Spool", "SpoolWriteResult"]

_VERSION: Final = 1
_SAFE: Final = re.compile(r"[^A-Za-z0-9_.]")
_NAME: Final = re.compile(
    r"^(?P<group>[0-9a-f]{12})-(?P<ts>\d{13,})-(?P<owner>[A-Za-z0-9_.]+)-(?P<n>\d+)"
    r"-L(?P<level>\d{2,3})\.jsonl$"
)


def _group_key(group: str) -> str:
    return hashlib.sha256(group.encode("utf-8", "surrogatepass")).hexdigest()[:12]


@dataclass
class ClaimedFile:
    """A spool file this process claimed for replay."""

    path: Path
    ready_name: str
    group: str
    stream: str
    events: list[Event]
    corrupt: int = 0  # lines that did not parse (skipped)


@dataclass
class SpoolWriteResult:
    """What :meth:`Spool.write` did: events written, and events given up by level."""

    written: int = 0
    dropped: dict[int, int] = field(default_factory=dict)

    def drop(self, level: int, count: int = 1) -> None:
        """Count dropped events."""
        self.dropped[level] = self.dropped.get(level, 0) + count


class Spool:
    """The spool for one log group in one process (see module docs)."""

    def __init__(self, directory: str | os.PathLike[str], max_bytes: int, group: str) -> None:
        if max_bytes <= 0:
            raise ValueError("spool max_bytes must be positive")
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.group = group
        self.group_key = _group_key(group)
        host = _SAFE.sub("_", socket.gethostname())[:48] or "host"
        self.owner = f"{host}.{os.getpid()}.{secrets.token_hex(4)}"
        self._counter = 0
        #: Files set aside as unreadable (``corrupt/``) by this process.
        self.corrupt_files = 0
        for sub in ("ready", "claimed", "tmp", "owners"):
            (self.directory / sub).mkdir(parents=True, exist_ok=True, mode=0o700)
        self._owner_fd: int | None = self._lock_owner()

    def _lock_owner(self) -> int:
        """Create and flock this process's owner file. Another process's clean-up may take the
        new file for a dead owner's (it can lock it before we do) and delete it: then the lock
        we hold is on a deleted file, so try again with a new one."""
        path = self.directory / "owners" / f"{self.owner}.lock"
        for _ in range(100):
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                if os.stat(path).st_ino == os.fstat(fd).st_ino:
                    return fd
            except OSError:
                pass
            os.close(fd)
        raise OSError(f"could not lock {path}")

    # -- life cycle ----------------------------------------------------------------------------

    def close(self) -> None:
        """Release the owner lock (claimed files left behind become recoverable)."""
        fd, self._owner_fd = self._owner_fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                (self.directory / "owners" / f"{self.owner}.lock").unlink()
            with contextlib.suppress(OSError):
                os.close(fd)

    def forget_after_fork(self) -> None:
        """In a forked child: drop the inherited descriptor without touching the parent's lock."""
        fd, self._owner_fd = self._owner_fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        fd = os.open(self.directory / ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    # -- accounting ----------------------------------------------------------------------------

    def used_bytes(self) -> int:
        """Bytes held by all files in the spool (every group and process)."""
        total = 0
        for sub in ("ready", "claimed", "tmp"):
            total += sum(size for _, size in self._entries(sub))
        return total

    def _entries(self, sub: str) -> list[tuple[str, int]]:
        out: list[tuple[str, int]] = []
        try:
            with os.scandir(self.directory / sub) as scan:
                for entry in scan:
                    with contextlib.suppress(OSError):
                        out.append((entry.name, entry.stat().st_size))
        except OSError:
            pass
        return out

    def pending(self) -> int:
        """Ready files of this group."""
        return sum(1 for name, _ in self._entries("ready") if name.startswith(self.group_key))

    # -- writing -------------------------------------------------------------------------------

    def write(self, events: Sequence[Event], stream: str) -> SpoolWriteResult:
        """Persist one batch (already within CloudWatch limits) atomically.

        When the spool is full, ready files holding only lower levels than this batch are
        evicted first (lowest level, oldest first); then the batch's own lowest-level events
        are given up until the rest fits. Dropped events are reported by level.
        """
        result = SpoolWriteResult()
        if not events:
            return result
        kept = list(events)
        data = self._encode(kept, stream)
        with self._locked():
            used = self.used_bytes()
            if used + len(data) > self.max_bytes:
                top = max(event.level for event in kept)
                used -= self._evict_below(top, used + len(data) - self.max_bytes, result)
            if used + len(data) > self.max_bytes:
                kept = self._shed(kept, stream, self.max_bytes - used, result)
                data = self._encode(kept, stream) if kept else b""
            if kept:
                self._write_file(kept, data)
                result.written = len(kept)
        return result

    def _encode(self, events: Sequence[Event], stream: str) -> bytes:
        lines = [self._header(events, stream)]
        lines.extend(self._line(event) for event in events)
        return b"\n".join(lines) + b"\n"

    def _header(self, events: Sequence[Event], stream: str) -> bytes:
        levels: dict[str, int] = {}
        for event in events:
            key = str(event.level)
            levels[key] = levels.get(key, 0) + 1
        header = {
            "v": _VERSION,
            "group": self.group,
            "stream": stream,
            "count": len(events),
            "levels": levels,
        }
        return orjson.dumps(header)

    @staticmethod
    def _line(event: Event) -> bytes:
        return orjson.dumps({"t": event.timestamp, "l": event.level, "m": event.message})

    def _shed(
        self, events: list[Event], stream: str, room: int, result: SpoolWriteResult
    ) -> list[Event]:
        """Give up the lowest-level (then newest) events of a batch until it fits ``room``."""
        sizes = [len(self._line(event)) + 1 for event in events]
        total = len(self._header(events, stream)) + 1 + sum(sizes)
        order = sorted(range(len(events)), key=lambda i: (events[i].level, -events[i].seq))
        dropped: set[int] = set()
        for index in order:
            if total <= room:
                break
            dropped.add(index)
            total -= sizes[index]
            result.drop(events[index].level)
        return [event for i, event in enumerate(events) if i not in dropped]

    def _evict_below(self, level: int, need: int, result: SpoolWriteResult) -> int:
        """Delete ready files whose highest level is below ``level``; returns bytes freed."""
        candidates: list[tuple[int, str, str, int]] = []
        for name, size in self._entries("ready"):
            match = _NAME.match(name)
            if match and int(match.group("level")) < level:
                candidates.append((int(match.group("level")), match.group("ts"), name, size))
        candidates.sort()
        freed = 0
        for _, _, name, size in candidates:
            if freed >= need:
                break
            victim = self.directory / "claimed" / f"{name}~{self.owner}"
            try:
                os.rename(self.directory / "ready" / name, victim)
            except OSError:
                continue  # claimed by a replayer meanwhile
            header = self._read_header(victim) or {}
            levels = header.get("levels")
            for key, count in (levels if isinstance(levels, dict) else {}).items():
                with contextlib.suppress(ValueError, TypeError):
                    result.drop(int(key), int(count))
            with contextlib.suppress(OSError):
                victim.unlink()
            freed += size
        return freed

    def _write_file(self, events: Sequence[Event], data: bytes) -> None:
        self._counter += 1
        first = min(event.timestamp for event in events)
        top = max(event.level for event in events)
        name = (
            f"{self.group_key}-{max(0, first):013d}-{self.owner}-{self._counter:06d}"
            f"-L{min(max(top, 0), 999):02d}.jsonl"
        )
        tmp = self.directory / "tmp" / f"{name}~{self.owner}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        os.close(fd)
        os.replace(tmp, self.directory / "ready" / name)
        self._fsync_dir(self.directory / "ready")

    @staticmethod
    def _fsync_dir(path: Path) -> None:
        with contextlib.suppress(OSError):
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    # -- replay --------------------------------------------------------------------------------

    def claim(self) -> ClaimedFile | None:
        """Claim the oldest ready file of this group (None when there is none)."""
        names = sorted(
            name for name, _ in self._entries("ready") if name.startswith(self.group_key)
        )
        for name in names:
            claimed = self.directory / "claimed" / f"{name}~{self.owner}"
            try:
                os.rename(self.directory / "ready" / name, claimed)
            except OSError:
                continue  # another process got it first
            loaded = self._load(claimed, name)
            if loaded is not None:
                return loaded
        return None

    def _read_header(self, path: Path) -> dict[str, object] | None:
        try:
            with path.open("rb") as handle:
                header = orjson.loads(handle.readline())
        except (OSError, orjson.JSONDecodeError):
            return None
        return header if isinstance(header, dict) else None

    def _load(self, path: Path, ready_name: str) -> ClaimedFile | None:
        """Read a claimed file. Lines that do not parse (a file cut short, bytes overwritten)
        are skipped and counted in the result's ``corrupt``; a file whose header does not
        parse (zero-filled, empty, garbage) is moved to ``corrupt/`` and counted in
        :attr:`corrupt_files`."""
        try:
            lines = path.read_bytes().splitlines()
            header = orjson.loads(lines[0])
            group = str(header["group"])
            stream = str(header["stream"])
        except (OSError, IndexError, KeyError, TypeError, ValueError, orjson.JSONDecodeError):
            self.corrupt_files += 1
            with contextlib.suppress(OSError):
                (self.directory / "corrupt").mkdir(exist_ok=True, mode=0o700)
                os.replace(path, self.directory / "corrupt" / ready_name)
            return None
        events = []
        corrupt = 0
        for seq, line in enumerate(lines[1:]):
            try:
                item = orjson.loads(line)
                message = item["m"]
                if not isinstance(message, str):
                    raise TypeError("message is not a string")
                events.append(
                    Event(int(item["t"]), int(item["l"]), message, len(message.encode()), seq)
                )
            except (KeyError, TypeError, ValueError, UnicodeError, orjson.JSONDecodeError):
                corrupt += 1
        expected = header.get("count") if isinstance(header, dict) else None
        if isinstance(expected, int) and expected > len(lines) - 1:
            corrupt += expected - (len(lines) - 1)  # cut short at a line boundary
        return ClaimedFile(path, ready_name, group, stream, events, corrupt)

    def complete(self, claimed: ClaimedFile) -> None:
        """The claimed batch was delivered: remove it."""
        with contextlib.suppress(OSError):
            claimed.path.unlink()

    def release(self, claimed: ClaimedFile) -> None:
        """Delivery failed: put the file back for a later replay."""
        with contextlib.suppress(OSError):
            os.rename(claimed.path, self.directory / "ready" / claimed.ready_name)

    def recover(self, tmp_age_seconds: float = 3600.0) -> int:
        """Return files claimed by dead processes to ready/; clear their partial writes.

        Returns how many files were recovered.
        """
        recovered = 0
        live: dict[str, bool] = {self.owner: True}
        for name, _ in self._entries("claimed"):
            ready_name, sep, owner = name.rpartition("~")
            if not sep:
                continue
            if owner == self.owner or not self._alive(owner, live):
                with contextlib.suppress(OSError):
                    os.rename(
                        self.directory / "claimed" / name, self.directory / "ready" / ready_name
                    )
                    recovered += 1
        now = time.time()
        for name, _ in self._entries("tmp"):
            owner = name.rpartition("~")[2]
            path = self.directory / "tmp" / name
            stale = False
            with contextlib.suppress(OSError):
                stale = now - path.stat().st_mtime > tmp_age_seconds
            if owner != self.owner and (not self._alive(owner, live) or stale):
                with contextlib.suppress(OSError):
                    path.unlink()
        for name, _ in self._entries("owners"):
            owner = name.removesuffix(".lock")
            if owner != self.owner:
                self._alive(owner, live, remove_dead=True)
        return recovered

    def owner_alive(self, owner: str, cache: dict[str, bool] | None = None) -> bool:
        """Whether ``owner``'s lock is held (its process is alive); this process counts as
        alive. ``cache`` remembers answers within one pass."""
        if owner == self.owner:
            return True
        return self._alive(owner, {} if cache is None else cache)

    def _alive(self, owner: str, cache: dict[str, bool], remove_dead: bool = False) -> bool:
        if owner in cache and not remove_dead:
            return cache[owner]
        path = self.directory / "owners" / f"{owner}.lock"
        try:
            fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        except OSError:
            cache[owner] = False
            return False
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                cache[owner] = True
                return True
            # We got the lock: the owner is gone.
            if remove_dead:
                with contextlib.suppress(OSError):
                    path.unlink()
            cache[owner] = False
            return False
        finally:
            os.close(fd)
