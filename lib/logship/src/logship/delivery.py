"""Delivering one batch to one stream: leave out what CloudWatch would refuse for its age,
``PutLogEvents`` with retries (exponential backoff, full jitter), the stream created when it is
missing, the response's rejections counted, and CloudWatch's health and the call pace
(:mod:`logship.pacing`) updated. A throttled call is not retried here: the batch goes back to
the sender, which sends it again, merged with newer events, at its next paced call (sooner
the longer its oldest event has waited).

:class:`Delivery` takes the client and the shared state, so a test can drive it alone with a
local server or a recording client.
"""

from __future__ import annotations

import enum
import random
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from .batching import batch_cost, request_share
from .limits import MAX_EVENT_AGE_MS, MAX_EVENT_FUTURE_MS
from .remote import (
    Outcome,
    count_rejections,
    create_stream,
    ensure_group,
    prepare_put,
    send_put,
)

if TYPE_CHECKING:
    from mypy_boto3_logs.client import CloudWatchLogsClient

    from .batching import Event
    from .state import Notices, Shared

__all__ = ["Delivered", "Delivery"]


class Delivered(enum.Enum):
    """What became of a batch handed to :meth:`Delivery.deliver`."""

    HANDLED = "handled"  # sent, or refused for good (counted)
    FAILED = "failed"  # not taken after the retries: spool it
    THROTTLED = "throttled"  # refused for the account's rate: send it again at the next pace


class Delivery:
    """Sends batches of one log group for one process."""

    def __init__(
        self,
        shared: Shared,
        notices: Notices,
        client: CloudWatchLogsClient,
        group: str,
        *,
        create_group: bool = False,
        retention_days: int | None = None,
        max_attempts: int = 4,
        backoff_base: float = 0.25,
        backoff_cap: float = 10.0,
    ) -> None:
        self.shared = shared
        self.notices = notices
        self.client = client
        self.group = group
        self.create_group = create_group
        self.retention_days = retention_days
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap

    # -- group and stream ------------------------------------------------------------------------

    def setup(self, stream: str) -> None:
        """Create the group (when asked to) and the stream; never raises."""
        if self.create_group:
            self.setup_group()
        self.create_stream(stream)

    def setup_group(self) -> None:
        """Create the log group and set its retention; failures are said, never raised."""
        try:
            ensure_group(self.client, self.group, self.retention_days)
        except Exception as exc:  # noqa: BLE001 - best effort; puts retry and spool
            self.notices.say("group", f"creating log group {self.group} failed: {exc!r}")

    def create_stream(self, stream: str) -> None:
        """Create ``stream`` (and the group, when missing and asked to); never raises."""
        create_stream(
            self.client,
            self.group,
            stream,
            create_group=self.setup_group if self.create_group else None,
            on_error=lambda exc: self.notices.say(
                "stream", f"creating stream {stream} failed: {exc!r}"
            ),
        )

    # -- one batch -------------------------------------------------------------------------------

    def deliver(self, events: Sequence[Event], stream: str) -> Delivered:
        """Send one batch, retrying transport and server errors (not throttling)."""
        events = self.sendable(events)
        if not events:
            return Delivered.HANDLED
        shared = self.shared
        request = prepare_put(self.client, self.group, stream, events)  # once for every try
        load = request_share(batch_cost(events), len(events))
        attempt = 0
        created = False
        while True:
            with shared.cond:
                waiting = request_share(shared.buffer.bytes, shared.buffer.count)
                shared.pacer.called(time.monotonic(), load, load + waiting)
            outcome, detail = send_put(self.client, request)
            if outcome is Outcome.SENT:
                self.account(events, detail if isinstance(detail, Mapping) else {})
                with shared.cond:
                    shared.pacer.accepted(time.monotonic())
                self.mark_healthy()
                return Delivered.HANDLED
            if outcome is Outcome.THROTTLED:
                # how long the batch's oldest event has waited: an old batch retries sooner
                waited = time.time() - min(event.timestamp for event in events) / 1000.0
                with shared.cond:
                    shared.counters.throttled += 1
                    shared.pacer.throttled(time.monotonic(), waited)
                self.mark_healthy()  # CloudWatch answers: a pace, not an outage
                return Delivered.THROTTLED
            if outcome is Outcome.DROP:
                with shared.cond:
                    shared.counters.rejected["invalid"] += len(events)
                self.notices.say("invalid", f"CloudWatch refused a batch for good: {detail}")
                self.mark_healthy()
                return Delivered.HANDLED
            if outcome is Outcome.MISSING and not created:
                created = True
                self.create_stream(stream)
                continue
            attempt += 1
            if attempt >= self.max_attempts or shared.control.stop_sender:
                self.mark_unhealthy(str(detail))
                return Delivered.FAILED
            delay = random.uniform(  # noqa: S311 - jitter, not cryptography
                0.0, min(self.backoff_cap, self.backoff_base * (2**attempt))
            )
            deadline = shared.control.retry_deadline()
            if deadline is not None and time.monotonic() + delay >= deadline:
                self.mark_unhealthy(str(detail))
                return Delivered.FAILED
            with shared.cond:
                shared.counters.retried += 1
                if shared.pending.taken_over():
                    return Delivered.HANDLED  # a flush/close spooled this batch meanwhile
                shared.cond.wait(delay)
                if shared.pending.taken_over():
                    # taken over during the wait: sending it now would duplicate it
                    return Delivered.HANDLED

    def sendable(self, events: Sequence[Event]) -> Sequence[Event]:
        """The events of a batch (in time order) that CloudWatch would accept now; the rest
        (aged past 14 days or the retention while spooled, or over 2 hours ahead after the
        clock went back) are counted as rejected and said once, never sent: emulators take
        them, CloudWatch refuses them one by one."""
        if not events:
            return events
        now = int(time.time() * 1000)
        oldest = now - MAX_EVENT_AGE_MS
        expired = now - self.shared.clock.max_age_ms()
        newest = now + MAX_EVENT_FUTURE_MS
        if events[0].timestamp >= expired and events[-1].timestamp <= newest:
            return events
        keep: list[Event] = []
        counts = {"too_old": 0, "expired": 0, "too_new": 0}
        for event in events:
            if event.timestamp < oldest:
                counts["too_old"] += 1
            elif event.timestamp < expired:
                counts["expired"] += 1
            elif event.timestamp > newest:
                counts["too_new"] += 1
            else:
                keep.append(event)
        with self.shared.cond:
            for key, count in counts.items():
                self.shared.counters.rejected[key] += count
        self.notices.say(
            "rejected-clock",
            "events CloudWatch would refuse for their age or a future timestamp were not sent "
            "(counted as rejected)",
            data={"rejected": counts},
        )
        return keep

    def account(self, events: Sequence[Event], response: Mapping[str, object]) -> None:
        """Count the sent and refused events of an accepted batch."""
        result = count_rejections(events, response, self.retention_days)
        with self.shared.cond:
            counters = self.shared.counters
            counters.rejected["too_old"] += result.too_old
            counters.rejected["expired"] += result.expired
            counters.rejected["too_new"] += result.too_new
            counters.sent += result.sent

    # -- health ----------------------------------------------------------------------------------

    def mark_healthy(self) -> None:
        """CloudWatch answered: a spool that waited is looked at now."""
        shared = self.shared
        with shared.cond:
            if shared.health.mark_healthy():
                shared.timers.next_replay_check = time.monotonic()

    def mark_unhealthy(self, reason: str) -> None:
        """CloudWatch did not take a batch: spool, and probe it again later."""
        with self.shared.cond:
            self.shared.health.mark_unhealthy()
            self.shared.pacer.reset()  # an outage: the health probes pace the calls now
        self.notices.say("unhealthy", f"CloudWatch unavailable ({reason}); spooling")
