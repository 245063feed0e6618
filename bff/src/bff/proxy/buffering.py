"""Response buffering: the upstream is read at its own speed, whatever the client's.

A client that stops reading must not hold an upstream connection (and, behind it, one of the
upstream's worker threads) until a write timeout fires. As nginx does with ``proxy_buffering``,
a proxied body is pumped from the upstream into memory (up to ``memory_bytes``) and then into an
unlinked temporary file (up to ``max_file_bytes``), while the client takes it at its own pace.
Past both limits the pump waits for the client, which is the plain streaming behaviour.
"""

from __future__ import annotations

import tempfile
import threading
from collections import deque
from collections.abc import Callable, Iterator
from typing import IO

CHUNK = 65_536


class ResponseBuffer:
    """Pumps ``pieces`` in a thread of its own (a greenlet under gevent) and hands them out in
    order; an error in the pump is raised to the reader where it happened."""

    __slots__ = (
        "_pieces",
        "_memory",
        "_max_file",
        "_on_done",
        "_cond",
        "_mem",
        "_mem_bytes",
        "_file",
        "_read_pos",
        "_write_pos",
        "_cancelled",
        "_done",
        "_error",
    )

    def __init__(
        self,
        pieces: Iterator[bytes],
        memory_bytes: int,
        max_file_bytes: int,
        on_done: Callable[[BaseException | None], None],
    ) -> None:
        self._pieces = pieces
        self._memory = memory_bytes
        self._max_file = max_file_bytes
        self._on_done = on_done
        self._cond = threading.Condition()
        self._mem: deque[bytes] = deque()
        self._mem_bytes = 0
        self._file: IO[bytes] | None = None
        self._read_pos = 0
        self._write_pos = 0
        self._cancelled = False
        self._done = False
        self._error: BaseException | None = None

    def start(self) -> ResponseBuffer:
        """Start pumping."""
        threading.Thread(target=self._pump, name="bff-response-buffer", daemon=True).start()
        return self

    @property
    def spooled(self) -> int:
        """Bytes waiting for the client (memory and file)."""
        return self._mem_bytes + self._write_pos - self._read_pos

    def _pump(self) -> None:
        error: BaseException | None = None
        cond = self._cond
        try:
            for piece in self._pieces:
                with cond:
                    while not self._cancelled and not self._room_for(len(piece)):
                        cond.wait()
                    if self._cancelled:
                        break
                    if self._write_pos == self._read_pos and (
                        self._mem_bytes + len(piece) <= self._memory or not self._max_file
                    ):
                        self._mem.append(piece)
                        self._mem_bytes += len(piece)
                    else:
                        if self._file is None:
                            self._file = tempfile.TemporaryFile(prefix="bff-response-")  # noqa: SIM115
                        self._file.seek(self._write_pos)
                        self._file.write(piece)
                        self._write_pos += len(piece)
                    cond.notify_all()
        except BaseException as exc:  # noqa: BLE001 - handed to the reader
            error = exc
        finally:
            close = getattr(self._pieces, "close", None)
            if close is not None:
                close()
            with cond:
                self._error = error
                self._done = True
                cond.notify_all()
            self._on_done(error)

    def _room_for(self, size: int) -> bool:
        in_file = self._write_pos - self._read_pos
        if in_file == 0 and self._mem_bytes + size <= self._memory:
            return True
        if not self._max_file:
            return self._mem_bytes == 0  # no file: hold one piece at most past the memory budget
        return in_file + size <= self._max_file

    def __iter__(self) -> Iterator[bytes]:
        cond = self._cond
        while True:
            with cond:
                while not self._mem and self._write_pos == self._read_pos and not self._done:
                    cond.wait()
                if self._mem:
                    piece = self._mem.popleft()
                    self._mem_bytes -= len(piece)
                elif self._write_pos != self._read_pos and self._file is not None:
                    self._file.seek(self._read_pos)
                    piece = self._file.read(min(CHUNK, self._write_pos - self._read_pos))
                    self._read_pos += len(piece)
                    if self._read_pos == self._write_pos:
                        self._file.seek(0)
                        self._file.truncate()
                        self._read_pos = self._write_pos = 0
                else:
                    self._drop_file()
                    if self._error is not None:
                        raise self._error
                    return
                cond.notify_all()
            yield piece

    def _drop_file(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self._read_pos = self._write_pos = 0

    def close(self) -> None:
        """Stop pumping (the client is gone) and drop what was buffered."""
        with self._cond:
            self._cancelled = True
            self._mem.clear()
            self._mem_bytes = 0
            self._drop_file()
            self._cond.notify_all()
