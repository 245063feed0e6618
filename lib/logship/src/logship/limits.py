"""CloudWatch Logs PutLogEvents limits, enforced locally (emulators accept what AWS rejects)."""

from __future__ import annotations

from typing import Final

#: Maximum request size: sum of UTF-8 message bytes plus ``EVENT_OVERHEAD_BYTES`` per event.
MAX_BATCH_BYTES: Final = 1_048_576
#: Per-event overhead counted against ``MAX_BATCH_BYTES``.
EVENT_OVERHEAD_BYTES: Final = 26
#: Maximum number of events in one request.
MAX_BATCH_EVENTS: Final = 10_000
#: A request whose events span more than 24 hours fails as a whole; stay strictly below.
MAX_BATCH_SPAN_MS: Final = 24 * 60 * 60 * 1000 - 1
#: Hard cap on one event's message (an event must fit in a request on its own).
MAX_MESSAGE_BYTES_HARD: Final = MAX_BATCH_BYTES - EVENT_OVERHEAD_BYTES
#: Default cap on one event's message.
DEFAULT_MAX_MESSAGE_BYTES: Final = 256 * 1024
#: Smallest accepted message cap (the reserved fields need room).
MIN_MESSAGE_BYTES: Final = 1024
#: Events older than this are rejected individually by CloudWatch.
MAX_EVENT_AGE_MS: Final = 14 * 24 * 60 * 60 * 1000
#: Events further in the future than this are rejected individually.
MAX_EVENT_FUTURE_MS: Final = 2 * 60 * 60 * 1000
#: Retention values PutRetentionPolicy accepts.
RETENTION_DAYS: Final = frozenset(
    (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
     2922, 3288, 3653)
)  # fmt: skip
