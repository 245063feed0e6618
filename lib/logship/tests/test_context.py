"""Correlation ids: bind / reset / isolation."""

from __future__ import annotations

import asyncio
import re
import threading

import pytest
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


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        pytest.param("req-123.abc_DEF", True, id="plain-token"),
        pytest.param("0123456789abcdef0123456789abcdef", True, id="hex-id"),
        pytest.param("order-2026-12-02", True, id="short-digit-runs"),
        pytest.param("a" * 128, True, id="longest"),
        pytest.param("a" * 129, False, id="too-long"),
        pytest.param("", False, id="empty"),
        pytest.param(None, False, id="absent"),
        pytest.param("has space", False, id="space"),
        pytest.param("bob@example.com", False, id="email"),
        pytest.param("4111111111111111", False, id="card-number"),
        pytest.param("4111111111111112", True, id="digits-failing-luhn"),
        pytest.param("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln", False, id="jwt"),
    ],
)
def test_request_id_from(value: str | None, kept: bool) -> None:
    got = context.request_id_from(value)
    assert (got == value) is kept
    assert re.fullmatch(r"[A-Za-z0-9._-]{1,128}", got)
