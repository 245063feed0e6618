"""The CloudWatch handler's working parts in one process, and how they are built: the shared
state, the storage and delivery steps, the intake and the sender, for one stream name.

A handler builds them when it is created and again in a forked child (see
:meth:`logship.handler.CloudWatchHandler._ensure_process`).
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import sys
import uuid
from typing import TYPE_CHECKING

from .delivery import Delivery
from .intake import Intake
from .sender import Sender, batch_limits
from .state import Shared
from .storage import Storage

if TYPE_CHECKING:
    from .handler import CloudWatchHandler

__all__ = ["Process", "build_process", "stream_name"]


class Process:
    """The handler's working parts in one process: shared state, intake, steps and sender."""

    __slots__ = ("delivery", "intake", "pid", "sender", "shared", "storage", "stream")

    def __init__(
        self,
        pid: int,
        stream: str,
        shared: Shared,
        storage: Storage,
        delivery: Delivery,
        intake: Intake,
        sender: Sender,
    ) -> None:
        self.pid = pid
        self.stream = stream
        self.shared = shared
        self.storage = storage
        self.delivery = delivery
        self.intake = intake
        self.sender = sender


def stream_name(template: str, service: str, environment: str) -> str:
    """The stream name ``template`` gives in this process (see :class:`CloudWatchHandler`)."""
    hostname = platform.node() or "localhost"
    program = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "python"
    name = template.format(
        service=service,
        environment=environment,
        hostname=hostname,
        machine_name=hostname,
        pid=os.getpid(),
        process_id=os.getpid(),
        program=program,
        program_name=program,
        uuid=uuid.uuid4().hex[:12],
        strftime=_dt.datetime.now(_dt.UTC),
    )
    name = name.replace(":", "_").replace("*", "_")[:512]
    return name or f"{service}-{os.getpid()}"


def build_process(handler: CloudWatchHandler, pid: int) -> Process:
    """Build the working parts of ``handler`` for process ``pid`` (its sender not started)."""
    stream = stream_name(handler.stream_template, handler.service, handler.environment)
    notices = handler._notices
    shared = Shared(
        buffer_max_bytes=handler.buffer_max_bytes,
        buffer_max_events=handler.buffer_max_events,
        flush_interval=handler.flush_interval,
        stats_interval=handler.stats_interval,
        backoff_base=handler.backoff_base,
        probe_interval_cap=handler.probe_interval_cap,
        retention_days=handler.retention_days,
        journal_wanted=handler.spool_dir is not None,
    )
    storage = Storage(
        shared, notices, handler.log_group_name, stream, handler.spool_dir, handler.spool_max_bytes
    )
    storage.open()
    delivery = Delivery(
        shared,
        notices,
        handler.cwl_client,
        handler.log_group_name,
        create_group=handler.create_group,
        retention_days=handler.retention_days,
        max_attempts=handler.max_attempts,
        backoff_base=handler.backoff_base,
        backoff_cap=handler.backoff_cap,
    )
    batch_bytes, trigger_bytes, trigger_events = batch_limits(
        handler.buffer_max_bytes, handler.buffer_max_events
    )
    shared.control.trigger_bytes = trigger_bytes
    shared.control.trigger_events = trigger_events
    intake = Intake(shared, storage, notices, stream)
    sender = Sender(
        shared,
        storage,
        delivery,
        notices,
        stream=stream,
        flush_interval=handler.flush_interval,
        stats_interval=handler.stats_interval,
        batch_bytes=batch_bytes,
        trigger_bytes=trigger_bytes,
        trigger_events=trigger_events,
        emit_stats=handler._emit_stats,
    )
    return Process(pid, stream, shared, storage, delivery, intake, sender)
