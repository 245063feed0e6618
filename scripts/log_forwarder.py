#!/usr/bin/env python3
"""Ship the JSON records a process writes on stdout to CloudWatch Logs with logship's handler.

The Next.js server writes one JSON record per line (logship's schema, web/src/lib/log); it has
no shipper of its own. Locally (`make dev`, the integration tests) this forwarder reads its
stdout and hands each record, unchanged, to :class:`logship.cloudwatch.CloudWatchHandler`
(buffer, retries, spool, journal), configured from the same ``LOG_*`` variables as every
other service: the records land in the same log group, in streams named after the service
(``web/<host>/<pid>``). Lines that are not a JSON record are shipped as a record that holds
them, so nothing is lost. In AWS the awslogs driver does this job (docs/deploy.md).

As a command it runs a process and forwards its output, passing the lines through::

    LOG_CLOUDWATCH_GROUP=/front-door/dev LOG_CLOUDWATCH_ENDPOINT=http://127.0.0.1:4566 \\
        log_forwarder.py --service web -- node server.js
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from typing import IO, Final

from logship.cloudwatch import CloudWatchHandler, make_client
from logship.config import parse_env
from logship.formatter import FormattedEvent, JsonFormatter

_LINE_ATTR: Final = "forwarded_line"
_LEVELS: Final = {
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARNING": logging.WARNING,
    "ERROR": logging.ERROR,
    "CRITICAL": logging.CRITICAL,
}
#: One CloudWatch event must stay under this (logship's hard cap on a formatted record).
_MAX_LINE_BYTES: Final = 1_048_550


class _AsWritten(JsonFormatter):
    """Forwarded lines are already formatted records: shipped as they are. Anything else (the
    handler's own ``logship.stats`` record, a line that is not JSON) is formatted as usual."""

    def format_event(self, record: logging.LogRecord) -> FormattedEvent:
        """The forwarded line itself, or the record formatted by logship."""
        line = record.__dict__.get(_LINE_ATTR)
        if isinstance(line, str):
            return FormattedEvent(line, len(line.encode("utf-8")), False)
        return super().format_event(record)


def parse_record(line: str) -> dict[str, object] | None:
    """The line as a log record (a JSON object with logship's ``timestamp``, ``level`` and
    ``message``), or None."""
    text = line.strip()
    if not text.startswith("{"):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if not isinstance(value, dict) or not {"timestamp", "level", "message"} <= value.keys():
        return None
    return value


def _created(timestamp: object) -> float | None:
    if not isinstance(timestamp, str):
        return None
    try:
        return dt.datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


class Forwarder:
    """Hands lines to a CloudWatch handler: JSON records as written, other text wrapped."""

    def __init__(self, handler: CloudWatchHandler, service: str) -> None:
        self.handler = handler
        self.service = service
        self.plain = logging.getLogger(f"{service}.stdout")

    @classmethod
    def from_env(cls, env: Mapping[str, str], service: str) -> Forwarder:
        """A forwarder configured from ``LOG_*`` variables (``LOG_CLOUDWATCH_GROUP`` required)."""
        settings = parse_env(env)
        environment = settings.environment or ""
        kwargs = settings.handler_kwargs(service, environment)
        # Credentials from `env` too (the child's environment), else boto3's usual chain.
        client = make_client(
            region_name=settings.region,
            endpoint_url=settings.endpoint_url,
            aws_access_key_id=env.get("AWS_ACCESS_KEY_ID") or None,
            aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY") or None,
            aws_session_token=env.get("AWS_SESSION_TOKEN") or None,
        )
        formatter = _AsWritten(service, environment, max_message_bytes=settings.max_message_bytes)
        return cls(CloudWatchHandler(**kwargs, boto3_client=client, formatter=formatter), service)

    def offer(self, line: str) -> None:
        """Ship one line of the process's output; never raises."""
        text = line.rstrip("\r\n")
        if not text.strip():
            return
        try:
            record = parse_record(text)
            if record is None or len(text.encode("utf-8")) > _MAX_LINE_BYTES:
                entry = self.plain.makeRecord(
                    self.plain.name, logging.INFO, "", 0, text[:200_000], (), None
                )
            else:
                level = _LEVELS.get(str(record.get("level")), logging.INFO)
                entry = logging.LogRecord(
                    str(record.get("logger") or self.service), level, "", 0, "", (), None
                )
                created = _created(record.get("timestamp"))
                if created is not None:
                    entry.created = created
                    entry.msecs = (created - int(created)) * 1000
                entry.__dict__[_LINE_ATTR] = text
            self.handler.handle(entry)
        except Exception:  # noqa: BLE001 - forwarding must never stop the process's output
            return

    def close(self) -> None:
        """Deliver what is buffered (or spool it) and stop the handler."""
        self.handler.close()


def main(argv: list[str] | None = None) -> int:
    """Run a command and forward its stdout and stderr lines, echoing them."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--service", required=True, help="service name of the records")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- command and arguments")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("a command to run is required")
    forwarder = Forwarder.from_env(os.environ, args.service)
    proc = subprocess.Popen(  # noqa: S603 - the caller's own command
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )

    def relay(signum: int, _frame: object) -> None:
        proc.send_signal(signum)

    signal.signal(signal.SIGTERM, relay)
    signal.signal(signal.SIGINT, relay)
    out: IO[bytes] = proc.stdout  # type: ignore[assignment]
    for raw in iter(out.readline, b""):
        line = raw.decode("utf-8", "replace")
        sys.stdout.write(line)
        sys.stdout.flush()
        forwarder.offer(line)
    code = proc.wait()
    forwarder.close()
    return code


if __name__ == "__main__":
    sys.exit(main())
