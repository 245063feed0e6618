#!/usr/bin/env python3
"""Follow a CloudWatch Logs group (the local emulator or AWS), like ``aws logs tail --follow``.

    python scripts/logs_tail.py                       # LOG_CLOUDWATCH_GROUP / _ENDPOINT
    python scripts/logs_tail.py --group /app/bff --endpoint-url http://127.0.0.1:4566
    python scripts/logs_tail.py --since 1h --no-color
    python scripts/logs_tail.py --request-id 3f2a9c0e... --since 1h   # one request, every service
    python scripts/logs_tail.py --level WARNING                       # WARNING and above

One line per event: time (UTC), level (coloured), service, the whole request id, message and a
few data fields. Polls FilterLogEvents across every stream of the group (with a filter pattern
for --request-id and --level, checked again here since emulators ignore patterns); remembers a
bounded window of event ids so nothing prints twice; Ctrl-C (SIGINT) and SIGTERM exit cleanly.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import FrameType
from typing import TYPE_CHECKING, Any, TextIO

import boto3
import botocore.config
from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING:
    from mypy_boto3_logs.client import CloudWatchLogsClient

COLORS = {
    "DEBUG": "\033[90m",
    "INFO": "\033[32m",
    "WARNING": "\033[33m",
    "ERROR": "\033[31m",
    "CRITICAL": "\033[1;35m",
}
DIM, BOLD, RESET = "\033[2m", "\033[1m", "\033[0m"
SEEN_LIMIT = 50_000  # event ids remembered (bounded memory)
LOOKBACK_MS = 30_000  # re-read this much before the newest event seen (late arrivals)
PAGES_PER_POLL = 50
MAX_DATA_FIELDS = 6
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SINCE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")  # what the services accept as X-Request-ID
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def parse_since(text: str) -> int:
    """``10m`` / ``2h`` / ``30s`` / ``1d`` / ``1w`` as milliseconds."""
    match = _SINCE.match(text)
    if match is None:
        raise argparse.ArgumentTypeError(f"expected a duration like 30s, 10m, 2h, 1d, got {text!r}")
    unit = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}[match.group(2)]
    return int(match.group(1)) * unit * 1000


def parse_request_id(text: str) -> str:
    """A request id as the services accept it (letters, digits, ``._-``, up to 128)."""
    value = text.strip()
    if not _REQUEST_ID.fullmatch(value):
        raise argparse.ArgumentTypeError(
            f"a request id is 1-128 letters, digits, '.', '_' or '-', got {text[:40]!r}"
        )
    return value


def parse_level(text: str) -> str:
    """A level name (case-insensitive; WARN means WARNING)."""
    value = text.strip().upper()
    value = {"WARN": "WARNING", "FATAL": "CRITICAL"}.get(value, value)
    if value not in LEVELS:
        raise argparse.ArgumentTypeError(f"expected one of {', '.join(LEVELS)}, got {text!r}")
    return value


#: Loggers whose records are for machines (CloudWatch metrics, shipping statistics), not people.
MACHINE_LOGGERS = frozenset({"bff.metrics", "logship.stats"})


@dataclass(frozen=True)
class Selection:
    """Which events to print: one request id, and a level and above (both optional)."""

    request_id: str | None = None
    min_level: str | None = None
    #: Leave out machine records (EMF metric documents, logship's periodic statistics).
    quiet: bool = True

    def levels(self) -> tuple[str, ...]:
        """The level names kept (all of them without a level filter)."""
        if self.min_level is None:
            return LEVELS
        return LEVELS[LEVELS.index(self.min_level) :]

    def pattern(self) -> str | None:
        """The CloudWatch filter pattern (AWS filters server-side; an emulator may not)."""
        terms = []
        if self.request_id is not None:
            terms.append(f'($.request_id = "{self.request_id}")')
        if self.min_level is not None and self.min_level != LEVELS[0]:
            terms.append("(" + " || ".join(f'$.level = "{lvl}"' for lvl in self.levels()) + ")")
        return "{ " + " && ".join(terms) + " }" if terms else None

    def keeps(self, event: Mapping[str, Any]) -> bool:
        """True when ``event`` matches (checked here too, whatever the server did)."""
        if self.request_id is None and self.min_level is None and not self.quiet:
            return True
        try:
            doc = json.loads(str(event.get("message", "")))
        except ValueError:
            return self.request_id is None and self.min_level is None
        if not isinstance(doc, dict):
            return self.request_id is None and self.min_level is None
        if self.quiet and doc.get("logger") in MACHINE_LOGGERS:
            return False
        if self.request_id is not None and doc.get("request_id") != self.request_id:
            return False
        return self.min_level is None or doc.get("level") in self.levels()


def clean(text: str) -> str:
    """One printable line: newlines shown as ``\\n``, control characters (terminal escape
    sequences in log data included) escaped."""
    text = text.replace("\r\n", "\\n").replace("\n", "\\n").replace("\t", " ")
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group(0)):02x}", text)


def _short(value: Any, limit: int = 80) -> str:
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def format_event(event: Mapping[str, Any], color: bool) -> str:
    """One readable line for a FilterLogEvents event (JSON from logship, or any text)."""
    raw = str(event.get("message", ""))
    stamp = datetime.fromtimestamp(int(event.get("timestamp", 0)) / 1000, UTC)
    when = stamp.strftime("%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}"
    try:
        doc = json.loads(raw)
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        line = f"{when} {'-':8} {clean(raw.rstrip())}"
        return f"{DIM}{when}{RESET} {clean(raw.rstrip())}" if color else line
    level = str(doc.get("level", "-"))
    service = str(doc.get("service") or "-")
    request_id = doc.get("request_id")
    message = str(doc.get("message", ""))
    parts: list[str] = []
    exception = doc.get("exception")
    if isinstance(exception, dict):
        parts.append(f"exc={exception.get('type')}: {_short(exception.get('message', ''), 120)}")
    data = doc.get("data")
    if isinstance(data, dict):
        items = list(data.items())
        parts.extend(f"{key}={_short(value)}" for key, value in items[:MAX_DATA_FIELDS])
        if len(items) > MAX_DATA_FIELDS:
            parts.append(f"(+{len(items) - MAX_DATA_FIELDS} more)")
    if doc.get("truncated"):
        parts.append("(truncated)")
    rid = f"[{clean(str(request_id))}]" if request_id else ""
    tail = clean(" ".join(parts))
    if not color:
        return " ".join(x for x in (when, f"{level:8}", service, rid, clean(message), tail) if x)
    colored = f"{COLORS.get(level, '')}{level:8}{RESET}"
    fields = (
        f"{DIM}{when}{RESET}",
        colored,
        f"{BOLD}{clean(service)}{RESET}",
        f"{DIM}{rid}{RESET}" if rid else "",
        clean(message),
        f"{DIM}{tail}{RESET}" if tail else "",
    )
    return " ".join(x for x in fields if x)


class Seen:
    """The most recent event ids (bounded)."""

    def __init__(self, limit: int = SEEN_LIMIT) -> None:
        self.limit = limit
        self._ids: OrderedDict[str, None] = OrderedDict()

    def add(self, event_id: str) -> bool:
        """True the first time an id is added."""
        if event_id in self._ids:
            return False
        self._ids[event_id] = None
        if len(self._ids) > self.limit:
            self._ids.popitem(last=False)
        return True


def make_client(endpoint_url: str | None, region: str | None) -> CloudWatchLogsClient:
    config = botocore.config.Config(
        connect_timeout=3, read_timeout=15, retries={"total_max_attempts": 2, "mode": "standard"}
    )
    return boto3.session.Session().client(
        "logs", endpoint_url=endpoint_url or None, region_name=region, config=config
    )


def poll(
    client: CloudWatchLogsClient,
    group: str,
    start_ms: int,
    seen: Seen,
    out: TextIO,
    color: bool,
    selection: Selection | None = None,
) -> int:
    """Print new events since ``start_ms`` that ``selection`` keeps; returns the newest
    timestamp seen."""
    selection = selection or Selection()
    newest = start_ms
    kwargs: dict[str, Any] = {"logGroupName": group, "startTime": start_ms, "interleaved": True}
    pattern = selection.pattern()
    if pattern is not None:
        kwargs["filterPattern"] = pattern
    for _ in range(PAGES_PER_POLL):
        page = client.filter_log_events(**kwargs)
        events = sorted(
            page.get("events", []), key=lambda e: (e.get("timestamp", 0), e.get("eventId", ""))
        )
        for event in events:
            fallback = (event.get("logStreamName"), event.get("timestamp"), event.get("message"))
            event_id = str(event.get("eventId") or hash(fallback))
            if seen.add(event_id) and selection.keeps(event):
                out.write(format_event(event, color) + "\n")
            newest = max(newest, int(event.get("timestamp", 0)))
        out.flush()
        token = page.get("nextToken")
        if not token or not events:
            break
        kwargs["nextToken"] = token
    return newest


def follow(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    color = not args.no_color and out.isatty() and not os.environ.get("NO_COLOR")
    client = make_client(args.endpoint_url, args.region)
    seen = Seen()
    selection = Selection(args.request_id, args.level, quiet=not args.all)
    start = int(time.time() * 1000) - args.since
    cursor = start
    waiting_note = False
    failures = 0
    while True:
        try:
            newest = poll(client, args.group, cursor, seen, out, color, selection)
            cursor = max(start, newest - LOOKBACK_MS, cursor)
            failures = 0
            waiting_note = False
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "ResourceNotFoundException":
                if not waiting_note:
                    print(f"waiting for log group {args.group} ...", file=sys.stderr, flush=True)
                    waiting_note = True
            else:
                failures += 1
                print(f"logs_tail: {code or exc}", file=sys.stderr, flush=True)
        except BotoCoreError as exc:
            failures += 1
            if failures == 1:
                print(f"logs_tail: {exc} (retrying)", file=sys.stderr, flush=True)
        if args.once:
            return 0
        time.sleep(min(10.0, args.interval * (2 ** min(failures, 4))))


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def install_signal_handlers() -> None:
    """SIGINT and SIGTERM stop the follower, whatever dispositions and mask it inherited."""
    # A background job of a non-interactive shell inherits SIGINT as ignored; Python keeps that.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _interrupt)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})


def main(argv: list[str] | None = None) -> int:
    install_signal_handlers()
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--group",
        default=os.environ.get("LOG_CLOUDWATCH_GROUP"),
        help="log group (default: $LOG_CLOUDWATCH_GROUP)",
    )
    parser.add_argument(
        "--endpoint-url",
        default=os.environ.get("LOG_CLOUDWATCH_ENDPOINT"),
        help="endpoint, e.g. the local emulator (default: $LOG_CLOUDWATCH_ENDPOINT; unset: AWS)",
    )
    parser.add_argument(
        "--region",
        default=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"),
        help="region (default: $AWS_REGION, $AWS_DEFAULT_REGION; us-east-1 with an endpoint)",
    )
    parser.add_argument(
        "--since",
        type=parse_since,
        default=parse_since("10m"),
        help="start this far back: 30s, 10m, 2h, 1d (default 10m)",
    )
    parser.add_argument(
        "--request-id",
        type=parse_request_id,
        default=None,
        help="only the records of this request id (every service; the X-Request-ID value)",
    )
    parser.add_argument(
        "--level",
        type=parse_level,
        default=None,
        help="only records at this level and above: DEBUG, INFO, WARNING, ERROR, CRITICAL",
    )
    parser.add_argument(
        "--all",
        action="store_true",
        help="also print metric documents (bff.metrics) and logship's statistics records",
    )
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between polls")
    parser.add_argument("--no-color", action="store_true", help="plain output (also NO_COLOR)")
    parser.add_argument("--once", action="store_true", help="print what is there and exit")
    args = parser.parse_args(argv)
    if not args.group:
        parser.error("--group or LOG_CLOUDWATCH_GROUP is required")
    if args.endpoint_url and not args.region:
        args.region = "us-east-1"
    if args.endpoint_url:
        # Emulators accept any credentials; keep real ones untouched when they exist.
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    try:
        return follow(args)
    except KeyboardInterrupt:
        return 0
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
