"""Correlation ids: bind / reset / isolation."""

from __future__ import annotations

import asyncio
import threading

from logship import context


def test_bind_as_context_manager_restores() -> None:
    assert context.current() == context.LogContext()
    with context.bind(request_id="r1", trace_id="t1") as bound:
        assert bound == context.LogContext("r1", "t1")
        with context.bind(request_id="r2"):
            assert context.current() == context.LogContext("r2", "t1")
        assert context.current().request_id == "r1"
    assert context.current() == context.LogContext()


def test_reset_is_idempotent_and_tolerates_other_context() -> None:
    binding = context.bind(request_id="x")
    binding.reset()
    binding.reset()
    assert context.current().request_id is None

    holder: list[context.Binding] = []
    thread = threading.Thread(target=lambda: holder.append(context.bind(request_id="y")))
    thread.start()
    thread.join()
    holder[0].reset()  # created in another thread's context: must not raise
    assert context.current().request_id is None


def test_threads_are_isolated() -> None:
    seen: dict[str, str | None] = {}

    def worker(name: str) -> None:
        with context.bind(request_id=name):
            seen[name] = context.current().request_id

    threads = [threading.Thread(target=worker, args=(f"t{i}",)) for i in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == {f"t{i}": f"t{i}" for i in range(5)}


def test_asyncio_tasks_are_isolated() -> None:
    async def one(name: str) -> str | None:
        with context.bind(request_id=name):
            await asyncio.sleep(0.01)
            return context.current().request_id

    async def main() -> list[str | None]:
        return await asyncio.gather(*(one(f"a{i}") for i in range(5)))

    assert asyncio.run(main()) == [f"a{i}" for i in range(5)]


def test_values_are_bounded_and_stringified() -> None:
    with context.bind(request_id="x" * 1000, trace_id=123):  # type: ignore[arg-type]
        assert len(context.current().request_id or "") == 256
        assert context.current().trace_id == "123"


def test_traceparent() -> None:
    good = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    assert context.trace_id_from_traceparent(good) == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert context.trace_id_from_traceparent(good.upper()) == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert context.trace_id_from_traceparent("00-" + "0" * 32 + "-00f067aa0ba902b7-01") is None
    assert context.trace_id_from_traceparent("garbage") is None
    assert context.trace_id_from_traceparent(None) is None
