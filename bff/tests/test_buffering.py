from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest
from bff.proxy.buffering import ResponseBuffer


class Source:
    """An upstream body: ``count`` pieces of ``size`` bytes, numbered so order can be checked."""

    def __init__(self, count: int, size: int, fail_after: int | None = None) -> None:
        self.count = count
        self.size = size
        self.fail_after = fail_after
        self.produced = 0
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        try:
            for i in range(self.count):
                if self.fail_after is not None and i == self.fail_after:
                    raise OSError("upstream reset")
                self.produced += 1
                yield (b"%08d" % i) * (self.size // 8)
        finally:
            self.closed = True


Done = tuple[threading.Event, list[BaseException | None], Callable[[BaseException | None], None]]


def _done_event() -> Done:
    """An event set when the pump is done, and the errors it reported."""
    event = threading.Event()
    seen: list[BaseException | None] = []

    def on_done(error: BaseException | None) -> None:
        seen.append(error)
        event.set()

    return event, seen, on_done


@pytest.mark.parametrize(
    ("memory", "max_file"),
    [
        pytest.param(1 << 20, 1 << 30, id="fits-in-memory"),
        pytest.param(4096, 1 << 30, id="spills-to-file"),
        pytest.param(4096, 0, id="no-file-streams"),
    ],
)
def test_pieces_arrive_whole_and_in_order(memory: int, max_file: int) -> None:
    source = Source(200, 1024)
    event, seen, on_done = _done_event()
    buffer = ResponseBuffer(iter(source), memory, max_file, on_done)
    buffer.start()
    got = b"".join(buffer)
    assert got == b"".join((b"%08d" % i) * 128 for i in range(200))
    assert event.wait(5) and seen == [None]
    assert source.closed


def test_the_upstream_is_read_to_the_end_while_the_client_reads_nothing() -> None:
    """The point of the buffer: a stalled client does not hold the upstream."""
    source = Source(400, 65_536)  # 25 MiB
    event, seen, on_done = _done_event()
    buffer = ResponseBuffer(iter(source), 262_144, 1 << 30, on_done)
    buffer.start()
    assert event.wait(20), "the pump waited for the client"
    assert source.produced == 400 and seen == [None]
    assert buffer.spooled == 400 * 65_536
    assert sum(len(piece) for piece in buffer) == 400 * 65_536
    assert buffer.spooled == 0


def test_past_the_file_limit_the_pump_waits_for_the_client() -> None:
    source = Source(100, 1024)
    event, _, on_done = _done_event()
    buffer = ResponseBuffer(iter(source), 2048, 8192, on_done)
    buffer.start()
    time.sleep(0.3)
    assert not event.is_set()
    assert source.produced <= 2 + 8 + 2  # memory + file + the piece in hand
    assert len(b"".join(buffer)) == 100 * 1024
    assert event.wait(5)


def test_an_upstream_error_reaches_the_reader_after_the_good_bytes() -> None:
    source = Source(10, 1024, fail_after=5)
    event, seen, on_done = _done_event()
    buffer = ResponseBuffer(iter(source), 1 << 20, 1 << 30, on_done)
    buffer.start()
    got = bytearray()
    with pytest.raises(OSError, match="upstream reset"):
        for piece in buffer:
            got += piece
    assert len(got) == 5 * 1024
    assert event.wait(5) and isinstance(seen[0], OSError)


def test_close_stops_the_pump_and_drops_the_buffer() -> None:
    source = Source(10_000, 65_536)
    event, _, on_done = _done_event()
    buffer = ResponseBuffer(iter(source), 65_536, 1 << 20, on_done)
    buffer.start()
    time.sleep(0.1)
    buffer.close()
    assert event.wait(5)
    assert source.closed and source.produced < 10_000
    assert buffer.spooled == 0
