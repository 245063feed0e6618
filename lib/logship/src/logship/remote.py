"""The CloudWatch Logs API as logship calls it: the client's settings, idempotent group,
retention and stream creation, one ``PutLogEvents`` call classified into an :class:`Outcome`,
and the accounting of the events a response refused.

A ``PutLogEvents`` body is serialised here with orjson (about 1 us per event) instead of by
botocore's JSON serializer, which walks the operation's shape for every event (about 11 us per
event on this machine: more than formatting the record). botocore still builds, signs and sends
the request: it serialises a one-event placeholder, and a ``before-call`` hook swaps in the full
body before signing. A body orjson cannot encode (a lone surrogate from a custom formatter) goes
through botocore as before.

Every function takes the client as an argument, so each can be driven alone with a local
server or a recording client.
"""

from __future__ import annotations

import contextlib
import enum
import time
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import boto3
import botocore.config
import orjson
from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

from .limits import MAX_EVENT_AGE_MS, MAX_EVENT_FUTURE_MS

if TYPE_CHECKING:
    from mypy_boto3_logs.client import CloudWatchLogsClient
    from mypy_boto3_logs.type_defs import InputLogEventTypeDef

    from .batching import Event

__all__ = [
    "Outcome",
    "PutRequest",
    "Rejections",
    "client_config",
    "count_rejections",
    "create_stream",
    "ensure_group",
    "make_client",
    "prepare_put",
    "put_events",
    "send_put",
]

_DROP_CODES: Final = frozenset(
    {"InvalidParameterException", "ValidationException", "SerializationException"}
)
_ACCEPTED_CODES: Final = frozenset({"DataAlreadyAcceptedException"})
#: Error codes meaning the account's request rate is over its quota.
THROTTLE_CODES: Final = frozenset(
    {"ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded"}
)
_EXISTS_CODES: Final = frozenset({"ResourceAlreadyExistsException", "OperationAbortedException"})
_BODY_HOOK: Final = "before-call.cloudwatch-logs.PutLogEvents"
_BODY_HOOK_ID: Final = "logship-put-log-events-body"
# The body prepare_put serialised for the call under way in this thread or greenlet.
_BODY: ContextVar[bytes | None] = ContextVar("logship_put_body", default=None)


class Outcome(enum.Enum):
    """What one ``PutLogEvents`` call came to."""

    SENT = "sent"  # accepted (detail: the response)
    THROTTLED = "throttled"  # over the account's request rate: try again later
    RETRY = "retry"  # 5xx, connection reset, timeout: try again
    DROP = "drop"  # refused for good (invalid batch)
    MISSING = "missing"  # the stream (or group) does not exist


def client_config(
    connect_timeout: float = 3.0, read_timeout: float = 10.0
) -> botocore.config.Config:
    """botocore settings for a log shipping client: our own retries (botocore's off), short
    timeouts so a black-holed endpoint cannot hold a batch for long, a small pool, and no
    client-side parameter validation (the batches are validated here)."""
    return botocore.config.Config(
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        retries={"total_max_attempts": 1, "mode": "standard"},
        max_pool_connections=4,
        tcp_keepalive=True,
        parameter_validation=False,  # batches are built and checked here; saves CPU per event
        user_agent_extra="logship/0.1",
    )


def make_client(
    *,
    region_name: str | None = None,
    endpoint_url: str | None = None,
    profile_name: str | None = None,
    connect_timeout: float = 3.0,
    read_timeout: float = 10.0,
    aws_access_key_id: str | None = None,
    aws_secret_access_key: str | None = None,
    aws_session_token: str | None = None,
) -> CloudWatchLogsClient:
    """A CloudWatch Logs client for the handler (credentials from the usual boto3 chain unless
    given). ``endpoint_url`` points it at an emulator."""
    session = boto3.session.Session(profile_name=profile_name)
    return session.client(
        "logs",
        region_name=region_name,
        endpoint_url=endpoint_url or None,
        config=client_config(connect_timeout, read_timeout),
        aws_access_key_id=aws_access_key_id,
        aws_secret_access_key=aws_secret_access_key,
        aws_session_token=aws_session_token,
    )


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def idempotent_call(client: CloudWatchLogsClient, method: str, **kwargs: Any) -> None:
    """Call a creating ``method``; "already exists" and "operation aborted" (a concurrent
    creation) count as done."""
    try:
        getattr(client, method)(**kwargs)
    except ClientError as exc:
        if _code(exc) not in _EXISTS_CODES:
            raise


def ensure_group(client: CloudWatchLogsClient, group: str, retention_days: int | None) -> None:
    """Create ``group`` unless it exists, then set its retention (if given). Raises on
    failure."""
    exists = False
    with contextlib.suppress(ClientError):
        paginator = client.get_paginator("describe_log_groups")
        for page in paginator.paginate(logGroupNamePrefix=group):
            if any(found.get("logGroupName") == group for found in page.get("logGroups", [])):
                exists = True
                break
    if not exists:
        idempotent_call(client, "create_log_group", logGroupName=group)
    if retention_days:
        idempotent_call(
            client, "put_retention_policy", logGroupName=group, retentionInDays=retention_days
        )


def create_stream(
    client: CloudWatchLogsClient,
    group: str,
    stream: str,
    *,
    create_group: Callable[[], None] | None = None,
    on_error: Callable[[Exception], None] | None = None,
) -> None:
    """Create ``stream`` in ``group`` (idempotent). When the group is missing and
    ``create_group`` is given, call it and try once more. Never raises: the next
    ``PutLogEvents`` finds out whether the stream exists."""
    try:
        idempotent_call(client, "create_log_stream", logGroupName=group, logStreamName=stream)
    except ClientError as exc:
        if _code(exc) == "ResourceNotFoundException" and create_group is not None:
            create_group()
            with contextlib.suppress(ClientError, BotoCoreError):
                idempotent_call(
                    client, "create_log_stream", logGroupName=group, logStreamName=stream
                )
    except BotoCoreError:
        pass
    except Exception as exc:  # noqa: BLE001 - the next put retries; never kill the sender
        if on_error is not None:
            on_error(exc)


def _swap_body(params: dict[str, Any], **_kwargs: Any) -> None:
    """botocore ``before-call`` hook: send the body :func:`prepare_put` serialised."""
    body = _BODY.get()
    if body is not None:
        params["body"] = body


@dataclass(frozen=True, slots=True)
class PutRequest:
    """One batch's ``PutLogEvents`` arguments, built once for every try of the batch."""

    group: str
    stream: str
    log_events: list[InputLogEventTypeDef]
    body: bytes | None  # serialised here; None: botocore serialises ``log_events``


def prepare_put(
    client: CloudWatchLogsClient, group: str, stream: str, events: Sequence[Event]
) -> PutRequest:
    """The request for these events: the body serialised with orjson and the body hook
    registered on ``client``, or no body when either is not possible (botocore then
    serialises the events itself)."""
    log_events: list[InputLogEventTypeDef] = [
        {"timestamp": event.timestamp, "message": event.message} for event in events
    ]
    body: bytes | None = None
    events_api = getattr(getattr(client, "meta", None), "events", None)
    if events_api is not None and log_events:
        try:
            body = orjson.dumps(
                {"logGroupName": group, "logStreamName": stream, "logEvents": log_events}
            )
        except orjson.JSONEncodeError:
            body = None
        else:
            events_api.register(_BODY_HOOK, _swap_body, unique_id=_BODY_HOOK_ID)  # idempotent
    return PutRequest(group, stream, log_events, body)


def put_events(
    client: CloudWatchLogsClient, group: str, stream: str, events: Sequence[Event]
) -> tuple[Outcome, object]:
    """One ``PutLogEvents`` call for ``events`` (see :func:`send_put`). Never raises."""
    return send_put(client, prepare_put(client, group, stream, events))


def send_put(client: CloudWatchLogsClient, request: PutRequest) -> tuple[Outcome, object]:
    """One ``PutLogEvents`` call: the outcome and its detail (the response when sent, else
    the error's code or text). Never raises."""
    body = request.body
    token = _BODY.set(body)
    try:
        response = client.put_log_events(
            logGroupName=request.group,
            logStreamName=request.stream,
            # botocore serialises a one-event placeholder; the hook sends ``body`` instead
            logEvents=request.log_events[:1] if body is not None else request.log_events,
        )
    except ClientError as exc:
        code = _code(exc)
        if code == "ResourceNotFoundException":
            return Outcome.MISSING, code
        if code in _ACCEPTED_CODES:
            return Outcome.SENT, {}
        if code in _DROP_CODES:
            return Outcome.DROP, f"{code}: {exc}"
        if code in THROTTLE_CODES:
            return Outcome.THROTTLED, code
        return Outcome.RETRY, code or repr(exc)
    except ParamValidationError as exc:
        return Outcome.DROP, repr(exc)
    except BotoCoreError as exc:
        return Outcome.RETRY, type(exc).__name__
    except Exception as exc:  # noqa: BLE001 - any transport failure means "try later"
        return Outcome.RETRY, repr(exc)
    finally:
        _BODY.reset(token)
    return Outcome.SENT, response


@dataclass(frozen=True)
class Rejections:
    """How many events of an accepted batch CloudWatch refused, by reason, and sent."""

    too_old: int
    expired: int
    too_new: int
    sent: int


def count_rejections(
    events: Sequence[Event],
    response: Mapping[str, Any],
    retention_days: int | None,
    now_ms: int | None = None,
) -> Rejections:
    """Count sent and rejected events from a PutLogEvents response.

    Index semantics differ between CloudWatch's documentation and emulators, so counts are
    the larger of the index-based and the clock-based classification.
    """
    info = response.get("rejectedLogEventsInfo") or {}
    total = len(events)
    too_old = too_new = expired = 0
    if info:
        now = int(time.time() * 1000) if now_ms is None else now_ms

        def index(key: str) -> int:
            try:
                return max(0, min(total, int(info[key])))
            except (KeyError, TypeError, ValueError):
                return 0

        if "tooOldLogEventEndIndex" in info:
            local = sum(1 for event in events if event.timestamp < now - MAX_EVENT_AGE_MS)
            too_old = min(total, max(index("tooOldLogEventEndIndex"), local))
        if "expiredLogEventEndIndex" in info:
            local = 0
            if retention_days:
                boundary = now - retention_days * 86_400_000
                local = sum(1 for event in events if event.timestamp < boundary)
            expired = max(0, min(total, max(index("expiredLogEventEndIndex"), local)) - too_old)
        if "tooNewLogEventStartIndex" in info:
            local = sum(1 for event in events if event.timestamp > now + MAX_EVENT_FUTURE_MS)
            too_new = min(
                total - too_old - expired, max(total - index("tooNewLogEventStartIndex"), local)
            )
    return Rejections(too_old, expired, too_new, total - too_old - expired - too_new)
