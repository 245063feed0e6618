"""logship's own notices (CloudWatch unavailable, spool disabled, configuration errors) on
stderr, as JSON records with the formatter's reserved keys, so a container's output stays
pure JSON.

They never go through :mod:`logging` (a notice about shipping must not feed the handler that
ships it) and never raise.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Mapping
from typing import Any

from .formatter import JsonFormatter

__all__ = ["LOGGER", "notice", "notice_line"]

#: The ``logger`` field of every notice.
LOGGER = "logship"


def notice_line(
    message: str,
    *,
    level: int = logging.WARNING,
    service: str = "",
    environment: str = "",
    data: Mapping[str, Any] | None = None,
    stacklevel: int = 1,
) -> str:
    """One notice as a JSON record (one line, no newline); ``location`` is the caller's,
    ``stacklevel`` frames up."""
    frame = sys._getframe(stacklevel)  # noqa: SLF001 - the notice's call site, cheaply
    record = logging.LogRecord(
        LOGGER, level, frame.f_code.co_filename, frame.f_lineno, message, None, None,
        func=frame.f_code.co_name,
    )  # fmt: skip
    if data:
        record.data = dict(data)
    return JsonFormatter(service or "logship", environment).format(record)


def notice(
    message: str,
    *,
    level: int = logging.WARNING,
    service: str = "",
    environment: str = "",
    data: Mapping[str, Any] | None = None,
    stacklevel: int = 1,
) -> None:
    """Write one notice to the process's real stderr (``sys.__stderr__``)."""
    with contextlib.suppress(Exception):
        line = notice_line(
            message,
            level=level,
            service=service,
            environment=environment,
            data=data,
            stacklevel=stacklevel + 1,
        )
        stream = sys.__stderr__ or sys.stderr
        stream.write(line + "\n")
        stream.flush()
