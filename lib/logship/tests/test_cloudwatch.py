"""The CloudWatch handler against a real moto server."""

from __future__ import annotations

import io
import json
import logging
import os
import platform
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from logship.cloudwatch import CloudWatchHandler
from logship.formatter import JsonFormatter
from logship.limits import EVENT_OVERHEAD_BYTES, MAX_BATCH_BYTES, MAX_BATCH_EVENTS
from logship.setup import ConfigError, configure

from .conftest import FAKE_AWS, REGION, fetch_events, fetch_messages, free_port, wait_until
from .faultproxy import FaultProxy
from .helpers import attached, handler_for, log_at

DAY = 86_400


def test_delivers_one_json_event_per_record(
    moto_url: str, group: str, logs: Any, tmp_path: Path
) -> None:
    handler = handler_for(moto_url, group, tmp_path)
    with attached(handler) as logger:
        for i in range(100):
            logger.info("event %d", i, extra={"i": i})
        handler.flush(10)
        stats = handler.stats()
    assert stats["queued"] == stats["sent"] == 100
    assert stats["dropped_total"] == 0 and stats["spooled"] == 0
    events = fetch_events(logs, group)
    assert len(events) == 100
    assert {e["logStreamName"] for e in events} == {f"svc/{platform.node()}/{os.getpid()}"}
    docs = [orjson.loads(e["message"]) for e in events]
    assert sorted(d["data"]["i"] for d in docs) == list(range(100))
    assert all(d["service"] == "svc" and d["environment"] == "test" for d in docs)


def test_requests_respect_put_log_events_limits(
    moto_url: str, group: str, logs: Any, tmp_path: Path, proxy: FaultProxy
) -> None:
    proxy.keep_bodies = True
    handler = handler_for(
        proxy.url,
        group,
        tmp_path,
        buffer_max_bytes=64 * 1024 * 1024,
        buffer_max_events=50_000,
        flush_interval=30,
    )
    now = time.time()
    expected = 0
    with attached(handler) as logger:
        for i in range(12_000):  # more than one request's 10,000 events
            logger.info("small %d", i)
        expected += 12_000
        for i in range(12):  # ~2.4 MB of messages: several requests by bytes
            logger.info("big %d %s", i, "y" * 200_000)
        expected += 12
        for hour in range(0, 40, 2):  # a 40-hour spread: requests must split at 24 hours
            log_at(logger, now - hour * 3600, f"hour {hour}")
        expected += 20
        handler.flush(60)
        stats = handler.stats()
    assert stats["sent"] == expected, stats
    bodies = [json.loads(body) for mode, body in proxy.put_bodies if mode == "pass"]
    assert len(bodies) >= 5
    for body in bodies:
        events = body["logEvents"]
        assert 1 <= len(events) <= MAX_BATCH_EVENTS
        size = sum(len(e["message"].encode()) + EVENT_OVERHEAD_BYTES for e in events)
        assert size <= MAX_BATCH_BYTES
        stamps = [e["timestamp"] for e in events]
        assert stamps == sorted(stamps)
        assert stamps[-1] - stamps[0] <= DAY * 1000
    assert sum(len(b["logEvents"]) for b in bodies) == expected
    assert len(fetch_events(logs, group)) == expected


def test_out_of_window_timestamps_are_shipped_at_logging_time(
    moto_url: str, group: str, logs: Any, tmp_path: Path, proxy: FaultProxy
) -> None:
    """CloudWatch refuses events older than 14 days or over 2 hours ahead (emulators take
    them): such records go out with the time they were logged, their JSON keeping their own
    timestamp, and are counted; nothing is retried or spooled."""
    handler = handler_for(proxy.url, group, tmp_path)
    with attached(handler) as logger:
        before = time.time()
        log_at(logger, before - 15 * DAY, "ancient")
        log_at(logger, before - 16 * DAY, "older")
        log_at(logger, before + 3 * 3600, "future")
        logger.info("fresh")
        after = time.time()
        handler.flush(10)
        stats = handler.stats()
    assert stats["clock_adjusted"] == {"too_old": 2, "too_new": 1}
    assert stats["sent"] == 4 and stats["rejected"]["too_old"] == 0
    assert stats["retried"] == 0 and stats["spooled"] == 0
    assert proxy.counts["pass"] >= 1
    events = {orjson.loads(e["message"])["message"]: e for e in fetch_events(logs, group)}
    assert sorted(events) == ["ancient", "fresh", "future", "older"]
    for event in events.values():
        assert int(before * 1000) - 1 <= event["timestamp"] <= int(after * 1000) + 1
    assert orjson.loads(events["ancient"]["message"])["timestamp"].startswith(
        time.strftime("%Y-%m-%d", time.gmtime(before - 15 * DAY))
    )
    assert not list((tmp_path / "spool" / "ready").iterdir())


def test_creates_group_with_retention(moto_url: str, logs: Any, tmp_path: Path) -> None:
    group = f"/test/created/{os.getpid()}-{time.monotonic_ns()}"
    handler = handler_for(moto_url, group, tmp_path, create_log_group=True, retention_days=7)
    with attached(handler) as logger:
        logger.warning("first")
        handler.flush(10)
    described = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert described[0]["logGroupName"] == group
    assert described[0]["retentionInDays"] == 7
    assert len(fetch_events(logs, group)) == 1


def test_stream_template(moto_url: str, group: str, logs: Any, tmp_path: Path) -> None:
    handler = handler_for(
        moto_url, group, tmp_path, stream_template="{service}.{environment}:{pid}"
    )
    with attached(handler) as logger:
        logger.info("x")
        handler.flush(10)
    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert [s["logStreamName"] for s in streams] == [f"svc.test_{os.getpid()}"]
    with pytest.raises(ValueError, match="logger_name"):
        handler_for(moto_url, group, tmp_path, stream_template="{logger_name}")


def test_transport_logs_never_feed_back(
    moto_url: str, group: str, logs: Any, tmp_path: Path
) -> None:
    handler = handler_for(moto_url, group, tmp_path)
    root = logging.getLogger()
    saved = (root.level, {n: logging.getLogger(n).level for n in ("botocore", "urllib3", "boto3")})
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    for name in saved[1]:
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        app = logging.getLogger("app.feedback")
        for i in range(50):
            app.info("app %d", i)
        handler.flush(10)
        time.sleep(1.0)
        handler.flush(10)
        stats = handler.stats()
    finally:
        root.removeHandler(handler)
        root.setLevel(saved[0])
        for name, level in saved[1].items():
            logging.getLogger(name).setLevel(level)
        handler.close(5)
        handler.cwl_client.close()
    loggers = {m["logger"] for m in fetch_messages(logs, group)}
    assert loggers == {"app.feedback"}
    assert stats["sent"] == 50


class _NoLock:
    """Stands in for ``logging.Handler.lock``: any use of it fails the test."""

    def acquire(self, *_args: object) -> bool:
        raise AssertionError("the handler-wide lock was taken")

    release = __enter__ = __exit__ = acquire


def test_threads_log_at_once_without_the_handler_lock(
    moto_url: str, group: str, logs: Any, tmp_path: Path
) -> None:
    """``handle`` skips ``logging.Handler``'s lock (emit locks only the buffer): eight threads
    logging at once still deliver every record exactly once, and the lock is never taken."""
    handler = handler_for(moto_url, group, tmp_path)
    handler.lock = _NoLock()  # type: ignore[assignment]
    errors: list[BaseException] = []
    with attached(handler) as logger:

        def work(thread: int) -> None:
            try:
                for i in range(250):
                    logger.info("t%d-%d", thread, i, extra={"data": {"thread": thread, "i": i}})
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        handler.flush(10)
        stats = handler.stats()
        handler.lock = None  # close() may take it
    assert not errors
    messages = sorted(m["message"] for m in fetch_messages(logs, group))
    assert messages == sorted(f"t{t}-{i}" for t in range(8) for i in range(250))
    assert stats["sent"] == 2000


def test_records_logged_after_close_reach_cloudwatch_through_the_next_process(
    moto_url: str, group: str, logs: Any, tmp_path: Path
) -> None:
    """A record logged after ``close`` (gunicorn's gevent worker closes the handler from
    ``worker_exit`` while requests still finish in other greenlets when its master died) is
    spooled on its own; the next process on the spool directory delivers it."""
    handler = handler_for(moto_url, group, tmp_path)
    logger = logging.getLogger(f"test.late.{os.getpid()}.{time.monotonic_ns()}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    try:
        logger.info("before close")
        handler.close(5)
        logger.info("after close %d", 1)
        logger.warning("after close %d", 2)
        stats = handler.stats()
    finally:
        logger.removeHandler(handler)
        handler.cwl_client.close()
    assert stats["dropped_total"] == 0 and stats["spooled"] == 2, stats
    assert [m["message"] for m in fetch_messages(logs, group)] == ["before close"]
    nxt = handler_for(moto_url, group, tmp_path)
    with attached(nxt) as next_logger:
        next_logger.info("next process")
        assert wait_until(lambda: len(fetch_events(logs, group)) >= 4, 20, 0.2)
    messages = sorted(m["message"] for m in fetch_messages(logs, group))
    assert messages == ["after close 1", "after close 2", "before close", "next process"]


class LogsWhenPrinted:
    def __repr__(self) -> str:
        logging.getLogger("test.reentrant").error("logged from inside repr")
        return "<LogsWhenPrinted>"


def test_reentrant_logging_is_suppressed(
    moto_url: str, group: str, logs: Any, tmp_path: Path
) -> None:
    handler = handler_for(moto_url, group, tmp_path)
    inner = logging.getLogger("test.reentrant")
    inner.addHandler(handler)
    inner.propagate = False
    try:
        with attached(handler) as logger:
            logger.info("outer", extra={"obj": LogsWhenPrinted()})
            handler.flush(10)
            stats = handler.stats()
    finally:
        inner.removeHandler(handler)
    assert stats["suppressed"] >= 1
    messages = fetch_messages(logs, group)
    assert [m["message"] for m in messages] == ["outer"]
    assert messages[0]["data"]["obj"] == "<LogsWhenPrinted>"


def test_stats_record_is_periodic_and_bounded(
    moto_url: str, group: str, logs: Any, tmp_path: Path
) -> None:
    handler = handler_for(moto_url, group, tmp_path, stats_interval=0.4)
    root = logging.getLogger()
    root.addHandler(handler)  # stats records propagate to the root logger too
    try:
        app = logging.getLogger("app.stats")
        app.warning("one")
        time.sleep(2.1)
        handler.flush(10)
    finally:
        root.removeHandler(handler)
        handler.close(5)
        handler.cwl_client.close()
    messages = fetch_messages(logs, group)
    stats_records = [m for m in messages if m["logger"] == "logship.stats"]
    assert 3 <= len(stats_records) <= 7, len(stats_records)
    assert {"queued", "sent", "dropped", "rejected"} <= set(stats_records[-1]["data"])
    assert len(messages) == len(stats_records) + 1


def test_oversized_message_is_truncated_and_counted(
    moto_url: str, group: str, logs: Any, tmp_path: Path
) -> None:
    handler = handler_for(moto_url, group, tmp_path, max_message_bytes=2048)
    with attached(handler) as logger:
        logger.error("z" * 100_000, extra={"keep": 1})
        handler.flush(10)
        stats = handler.stats()
    assert stats["truncated"] == 1
    (event,) = fetch_events(logs, group)
    assert len(event["message"].encode()) <= 2048
    doc = orjson.loads(event["message"])
    assert doc["truncated"] is True and doc["data"] == {"keep": 1}


@pytest.mark.parametrize("subclass", [False, True], ids=["JsonFormatter", "a subclass"])
def test_truncation_and_repairs_are_noticed_with_a_formatter_subclass(
    moto_url: str,
    group: str,
    logs: Any,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    subclass: bool,
) -> None:
    """A JsonFormatter subclass (formatted off the inlined hot path) gets the same notices."""

    class Tagged(JsonFormatter):
        pass

    handler = handler_for(moto_url, group, tmp_path, max_message_bytes=2048)
    if subclass:
        handler.setFormatter(Tagged(service="svc", max_message_bytes=2048))
    capfd.readouterr()
    with attached(handler) as logger:
        logger.error("z" * 100_000)
        logger.error("%d items", "not a number")
        handler.flush(10)
        stats = handler.stats()
    assert stats["truncated"] == 1 and stats["repaired"]["message_format"] == 1
    notices = [orjson.loads(line) for line in capfd.readouterr().err.splitlines() if line]
    kinds = {n["data"]["notice"] for n in notices if n.get("logger") == "logship"}
    assert {"truncated", "repaired"} <= kinds, notices
    assert len(fetch_events(logs, group)) == 2


def test_unreachable_endpoint_spools_within_deadline(tmp_path: Path, logs: Any) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    handler = handler_for(url, "/test/unreachable", tmp_path, read_timeout=2.0)
    with attached(handler) as logger:
        for i in range(20):
            logger.info("lost? %d", i)
        start = time.monotonic()
        handler.flush(3)
        elapsed = time.monotonic() - start
        stats = handler.stats()
    assert elapsed < 3.5
    assert stats["spooled"] == 20 and stats["dropped_total"] == 0
    assert len(list((tmp_path / "spool" / "ready").iterdir())) >= 1


@pytest.mark.parametrize("spool", [True, False], ids=["spool", "no-spool"])
def test_close_is_idempotent_and_late_records_are_spooled_or_counted(
    moto_url: str, group: str, tmp_path: Path, spool: bool
) -> None:
    """A record handled after ``close`` is spooled for the next process (see
    ``test_records_logged_after_close_reach_cloudwatch_through_the_next_process``); without a
    spool it is dropped and counted, never silently lost."""
    overrides = {} if spool else {"spool_dir": None}
    handler = handler_for(moto_url, group, tmp_path, **overrides)
    handler.close(5)
    handler.close(5)
    handler.flush(1)
    record = logging.getLogger("late").makeRecord("late", logging.INFO, "f", 1, "late", (), None)
    handler.handle(record)
    stats = handler.stats()
    if spool:
        assert stats["dropped"] == {} and stats["spooled"] == 1
    else:
        assert stats["dropped"] == {"INFO": 1} and stats["spooled"] == 0
    handler.cwl_client.close()


FORK_CHILD_OK = 0


def test_handler_created_before_fork_ships_from_the_child(
    moto_url: str, group: str, logs: Any, tmp_path: Path
) -> None:
    handler = CloudWatchHandler(
        group,
        service="svc",
        environment="test",
        endpoint_url=moto_url,
        region_name=REGION,
        spool_dir=tmp_path / "spool",
        flush_interval=0.2,
        stats_interval=0,
    )
    with attached(handler) as logger:
        logger.info("parent before fork")
        handler.flush(10)
        pid = os.fork()
        if pid == 0:  # child: log and close, then leave without running pytest's teardown
            code = 1
            try:
                for i in range(5):
                    logger.info("child %d", i)
                handler.close(10)
                code = 0 if handler.stats()["sent"] == 5 else 2
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        logger.info("parent after fork")
        handler.flush(10)
    events = fetch_events(logs, group)
    by_stream: dict[str, int] = {}
    for event in events:
        by_stream[event["logStreamName"]] = by_stream.get(event["logStreamName"], 0) + 1
    assert sorted(by_stream.values()) == [2, 5]
    assert f"svc/{platform.node()}/{pid}" in by_stream


GEVENT_SCRIPT = """
from gevent import monkey
monkey.patch_all()
import logging, os, sys, gevent, threading
from logship.cloudwatch import CloudWatchHandler
from logship.formatter import JsonFormatter
assert threading.Thread.__module__.startswith("gevent"), threading.Thread
handler = CloudWatchHandler(
    sys.argv[2], service="gevent", endpoint_url=sys.argv[1], region_name="us-east-1",
    spool_dir=sys.argv[3], flush_interval=30, stats_interval=0,
)
log = logging.getLogger("g")
log.addHandler(handler)
log.setLevel(logging.INFO)
def work(n):
    for i in range(50):
        log.info("greenlet %d event %d", n, i)
        gevent.sleep(0)
gevent.joinall([gevent.spawn(work, n) for n in range(4)])
if sys.argv[4] == "close":
    handler.close(10)
    assert handler.stats()["sent"] == 200, handler.stats()
# otherwise: logging.shutdown at interpreter exit must deliver
"""


@pytest.mark.parametrize("how", ["close", "atexit"])
def test_gevent_monkey_patched_process(
    moto_url: str, group: str, logs: Any, tmp_path: Path, how: str
) -> None:
    start = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", GEVENT_SCRIPT, moto_url, group, str(tmp_path / "spool"), how],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **FAKE_AWS},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - start < 30
    assert "Traceback" not in result.stderr, result.stderr
    assert len(fetch_events(logs, group)) == 200


def test_configure_installs_stdout_and_cloudwatch(
    moto_url: str, group: str, logs: Any, tmp_path: Path
) -> None:
    out = io.StringIO()
    target = logging.getLogger("test.configure")
    target.propagate = False
    env = {
        "LOG_CLOUDWATCH_GROUP": group,
        "LOG_CLOUDWATCH_ENDPOINT": moto_url,
        "LOG_SPOOL_DIR": str(tmp_path / "spool"),
        "LOG_FLUSH_INTERVAL": "200ms",
        "LOG_LEVEL": "DEBUG",
        "AWS_REGION": REGION,
    }
    setup = configure("cfg", "test", env=env, stream=out, logger=target)
    try:
        assert setup.cloudwatch_handler is not None
        target.debug("configured %s", "ok", extra={"token": "secret-value"})
        setup.flush(10)
        again = configure("cfg", "test", env=env, stream=out, logger=target)
        assert len(target.handlers) == 2 and setup.cloudwatch_handler not in target.handlers
        again.shutdown(5)
    finally:
        for handler in list(target.handlers):
            target.removeHandler(handler)
    line = json.loads(out.getvalue().splitlines()[0])
    assert line["message"] == "configured ok" and line["data"] == {"token": "[REDACTED]"}
    assert [m["message"] for m in fetch_messages(logs, group)] == ["configured ok"]


@pytest.mark.parametrize("group_set", [True, False], ids=["shipping", "not-shipping"])
def test_stdout_unshipped_prints_only_what_is_not_shipped(
    moto_url: str, group: str, tmp_path: Path, group_set: bool
) -> None:
    """LOG_STDOUT=unshipped: one path per record where the container's stdout is collected too
    (awslogs); a process that does not ship still prints everything."""
    out = io.StringIO()
    target = logging.getLogger(f"test.unshipped.{group_set}")
    target.propagate = False
    env = {"LOG_STDOUT": "unshipped", "AWS_REGION": REGION}
    if group_set:
        env.update(
            LOG_CLOUDWATCH_GROUP=group,
            LOG_CLOUDWATCH_ENDPOINT=moto_url,
            LOG_SPOOL_DIR=str(tmp_path / "spool"),
        )
    setup = configure("cfg", "test", env=env, stream=out, logger=target)
    try:
        assert (setup.stdout_handler is None) is group_set
        target.warning("one path")
        setup.shutdown(5)
    finally:
        for handler in list(target.handlers):
            target.removeHandler(handler)
    assert ("one path" in out.getvalue()) is not group_set


def test_configure_without_region_fails_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    target = logging.getLogger("test.noregion")
    with pytest.raises(ConfigError, match="AWS_REGION"):
        configure("svc", "test", env={"LOG_CLOUDWATCH_GROUP": "g"}, logger=target)
    assert target.handlers == []


def test_configure_stdout_only(capsys: pytest.CaptureFixture[str]) -> None:
    target = logging.getLogger("test.stdout_only")
    target.propagate = False
    setup = configure("svc", "test", env={}, logger=target)
    try:
        assert setup.cloudwatch_handler is None
        target.info("hello")
    finally:
        for handler in list(target.handlers):
            target.removeHandler(handler)
    assert json.loads(capsys.readouterr().out)["message"] == "hello"
    assert textwrap.dedent("x") == "x"


@pytest.mark.parametrize(
    ("info", "expected"),
    [
        # CloudWatch's documented semantics: end indexes exclusive, start index inclusive.
        (
            {
                "tooOldLogEventEndIndex": 2,
                "expiredLogEventEndIndex": 3,
                "tooNewLogEventStartIndex": 6,
            },
            {"too_old": 2, "expired": 1, "too_new": 2, "sent": 3},
        ),
        # moto's: the index of the last too-old event, and of the last too-new one.
        (
            {"tooOldLogEventEndIndex": 1, "tooNewLogEventStartIndex": 7},
            {"too_old": 2, "expired": 0, "too_new": 2, "sent": 4},
        ),
        ({}, {"too_old": 0, "expired": 0, "too_new": 0, "sent": 8}),
    ],
)
def test_rejection_accounting(info: dict[str, int], expected: dict[str, int]) -> None:
    from logship.batching import Event
    from logship.remote import count_rejections

    now = int(time.time() * 1000)
    day = DAY * 1000
    stamps = [now - 16 * day, now - 15 * day, now - 8 * day, now, now, now]
    stamps += [now + 3 * 3_600_000, now + 4 * 3_600_000]
    events = [Event(ts, logging.INFO, "m", 1, i) for i, ts in enumerate(stamps)]
    result = count_rejections(
        events, {"rejectedLogEventsInfo": info} if info else {}, retention_days=7, now_ms=now
    )
    assert (result.too_old, result.expired, result.too_new, result.sent) == (
        expected["too_old"],
        expected["expired"],
        expected["too_new"],
        expected["sent"],
    )
