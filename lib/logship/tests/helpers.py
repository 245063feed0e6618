"""Shared helpers for the integration tests."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from logship.cloudwatch import CloudWatchHandler

from .conftest import client_for


def handler_for(url: str, group: str, tmp_path: Path, **overrides: Any) -> CloudWatchHandler:
    """A handler with test-friendly timings (fast retries, short flush interval)."""
    read_timeout = overrides.pop("read_timeout", 5.0)
    options: dict[str, Any] = {
        "service": "svc",
        "environment": "test",
        "boto3_client": client_for(url, read_timeout=read_timeout),
        "spool_dir": tmp_path / "spool",
        "flush_interval": 0.2,
        "stats_interval": 0,
        "backoff_base": 0.05,
        "backoff_cap": 0.5,
        "probe_interval_cap": 1.0,
    }
    options.update(overrides)
    return CloudWatchHandler(group, **options)


@contextmanager
def attached(handler: logging.Handler, level: int = logging.DEBUG) -> Iterator[logging.Logger]:
    """A fresh logger writing only to ``handler``; the handler is closed afterwards."""
    logger = logging.getLogger(f"test.{uuid.uuid4().hex[:8]}")
    logger.propagate = False
    logger.setLevel(level)
    logger.addHandler(handler)
    try:
        yield logger
    finally:
        logger.removeHandler(handler)
        handler.close(5)
        client = getattr(handler, "cwl_client", None)
        if client is not None:
            client.close()


def log_at(
    logger: logging.Logger, timestamp: float, msg: str, level: int = logging.INFO, **extra: Any
) -> None:
    """Log a record as if it had been created at ``timestamp`` (seconds since the epoch)."""
    record = logger.makeRecord(logger.name, level, __file__, 1, msg, (), None, extra=extra or None)
    record.created = timestamp
    record.msecs = (timestamp - int(timestamp)) * 1000
    logger.handle(record)
