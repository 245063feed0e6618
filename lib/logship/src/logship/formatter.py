"""One JSON object per log record, on one line, whatever the record holds.

Schema (top-level keys are reserved; caller data can never overwrite them)::

    {"timestamp": "2026-01-02T03:04:05.678Z", "level": "INFO", "logger": "bff.proxy",
     "message": "...", "service": "bff", "environment": "prod",
     "request_id": "..." | null, "trace_id": "..." | null,
     "location": {"file": "...", "line": 12, "function": "..."},
     "exception": {"type": "...", "message": "...", "stack": "..."},   # only with exc_info
     "data": {...},                                                    # only with caller data
     "truncated": true}                                                # only when cut to size

Caller data comes from ``extra={"data": {...}}`` and from any other non-standard
``LogRecord`` attribute (``extra={"user": 1}`` gives ``"data": {"user": 1}``). Secrets in
``data``, in messages and in exception text are redacted, and personal data (e-mail
addresses, card numbers, JWTs, bearer tokens, sensitive query values) replaced by markers
(see :mod:`logship.redact` and :mod:`logship.scrub`).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import decimal
import enum
import itertools
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Collection, Iterable, Mapping
from typing import Any, Final, NamedTuple

import orjson

from .context import _CONTEXT
from .limits import DEFAULT_MAX_MESSAGE_BYTES, MAX_MESSAGE_BYTES_HARD, MIN_MESSAGE_BYTES
from .redact import (
    DEFAULT_SENSITIVE_KEY_PARTS,
    DEFAULT_SENSITIVE_KEYS,
    REDACTED,
    RedactedData,
    is_sensitive_key,
    redact_header_value,
)
from .scrub import clean_text

__all__ = ["REPAIR_REASONS", "RESERVED_KEYS", "FormattedEvent", "JsonFormatter"]

#: Why a record had to be repaired to become valid JSON (:attr:`JsonFormatter.repairs`):
#: ``invalid_text`` lone surrogates or undecodable text replaced by U+FFFD, ``bytes_message``
#: a ``bytes`` message logged as its ``repr``, ``unserialisable`` a value with no JSON form
#: logged as its ``repr``, ``repr_failed`` a value whose ``__repr__`` raised,
#: ``message_format`` %-arguments that did not fit the message, ``format_error`` the record
#: itself could not be read (reserved fields only).
REPAIR_REASONS: Final = (
    "invalid_text", "bytes_message", "unserialisable", "repr_failed", "message_format",
    "format_error",
)  # fmt: skip
_UNREPRESENTABLE: Final = "<unrepresentable "
#: Types the orjson fallback turns into JSON without ``repr``.
_DEFAULT_TYPES: Final = (
    set, frozenset, Mapping, _dt.timedelta, bytes, bytearray, memoryview, decimal.Decimal,
    os.PathLike,
)  # fmt: skip


#: Top-level keys owned by the formatter.
RESERVED_KEYS: Final = frozenset(
    {
        "timestamp", "level", "logger", "message", "service", "environment", "request_id",
        "trace_id", "location", "exception", "data", "truncated",
    }
)  # fmt: skip

_SAMPLE_RECORD: Final = logging.LogRecord("", logging.INFO, "", 0, "", (), None)
_BASE_ATTRS: Final = frozenset(_SAMPLE_RECORD.__dict__)
_BASE_COUNT: Final = len(_BASE_ATTRS)
#: Attributes never copied into ``data``.
_NOT_DATA: Final = _BASE_ATTRS | frozenset(
    ("message", "asctime", "taskName", "request_id", "trace_id", "data")
)
_CACHE_ATTR: Final = "_logship_formatted"
_KNOWN_EXTRAS: Final = ("data", "request_id", "trace_id", "message", "asctime", _CACHE_ATTR)
_INTERNAL_PREFIX: Final = "_logship"

_MAX_DEPTH: Final = 16
_MAX_ITEMS: Final = 1000
_MAX_NODES: Final = 5000
_MAX_ID_CHARS: Final = 256
_ELLIPSIS: Final = "\u2026"
_HEADER_KEYS: Final = frozenset(
    {"authorization", "proxy_authorization", "cookie", "set_cookie", "x_api_key"}
)
_MILLIS: Final = tuple(f".{millis:03d}Z" for millis in range(1000))
_TEXT_TRIGGERS: Final = (
    "=", "@", "eyj", "://", "authoriz", "cookie", "api-key", "api_key", "apikey", "bearer",
    "passw", "secret", "token",
)  # fmt: skip
_FAST_DATA_MAX: Final = 4096
_CLEAN_CHARS: Final = 256
_CLEAN_MAX: Final = 4096
# 13+ digits with single separators (``-`` and spaces read as ``_`` in the scanned text).
_DIGIT_RUN: Final = re.compile(r"[0-9][0-9_]{11,}[0-9]")
_NOT_DIGITS: Final = bytes(byte for byte in range(256) if not 48 <= byte <= 57)
_INT_MIN: Final = -(2**63)
_INT_MAX: Final = 2**64 - 1


class FormattedEvent(NamedTuple):
    """A formatted record: the JSON text, its UTF-8 size and whether it was cut to size."""

    text: str
    size: int
    truncated: bool


class _PrepState:
    __slots__ = ("nodes", "path", "truncated")

    def __init__(self) -> None:
        self.nodes = 0
        self.truncated = False
        self.path: set[int] = set()


def _event(text: str, size: int, truncated: bool) -> FormattedEvent:
    return tuple.__new__(FormattedEvent, (text, size, truncated))


def _safe_repr(value: object) -> str:
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a broken __repr__ must not break logging
        return f"<unrepresentable {type(value).__name__}>"
    return text if isinstance(text, str) else f"<unrepresentable {type(value).__name__}>"


def _safe_str(value: object) -> str:
    try:
        text = str(value)
    except Exception:  # noqa: BLE001 - a broken __str__ must not break logging
        return _safe_repr(value)
    return text if isinstance(text, str) else _safe_repr(value)


def _fix_str(text: str) -> str:
    """Replace lone surrogates (invalid in UTF-8) by U+FFFD; join valid surrogate pairs."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _default(value: object) -> object:
    """orjson fallback for types it does not know."""
    if isinstance(value, (set, frozenset)):
        return list(value)
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, _dt.timedelta):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", "backslashreplace")
    if isinstance(value, (decimal.Decimal, os.PathLike)):
        return _safe_str(value)
    return _safe_repr(value)


def _dumps(payload: object) -> bytes:
    return orjson.dumps(payload, default=_default)


def _deep_fix(value: object, depth: int = 0) -> object:
    """JSON-native copy with every string valid UTF-8 (used only when orjson refused)."""
    if isinstance(value, str):
        return _fix_str(value)
    if isinstance(value, orjson.Fragment):
        return value  # already valid JSON
    if value is None or isinstance(value, (bool, float)):
        return value
    if isinstance(value, int):
        return value if _INT_MIN <= value <= _INT_MAX else str(value)
    if depth > _MAX_DEPTH + 4:
        return "[TRUNCATED]"
    if isinstance(value, dict):
        return {_fix_str(_safe_str(k)): _deep_fix(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_deep_fix(v, depth + 1) for v in value]
    return _fix_str(_safe_repr(value))


def _type_name(etype: object) -> str:
    if not isinstance(etype, type):
        return _safe_str(etype)
    module = getattr(etype, "__module__", "") or ""
    qualname = getattr(etype, "__qualname__", etype.__name__)
    return qualname if module == "builtins" else f"{module}.{qualname}"


def _serialized_len(text: str) -> int:
    return len(orjson.dumps(text))


def _truncate_to(text: str, budget: int) -> str:
    """The longest prefix of ``text`` (plus an ellipsis) whose JSON form fits ``budget`` bytes."""
    room = budget - 2 - 3  # quotes and the ellipsis
    if room <= 0:
        return ""
    cut = text[:room]
    if _serialized_len(cut) - 2 <= room:
        return cut + _ELLIPSIS
    lo, hi = 0, len(cut)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _serialized_len(cut[:mid]) - 2 <= room:
            lo = mid
        else:
            hi = mid - 1
    return cut[:lo] + _ELLIPSIS


def _largest_string(node: object) -> tuple[dict[str, Any] | list[Any], str | int, str] | None:
    """The (container, key, value) of the longest string value inside dicts and lists."""
    best: tuple[dict[str, Any] | list[Any], str | int, str] | None = None
    best_len = -1
    stack: list[object] = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, dict):
            pairs: Iterable[tuple[str | int, object]] = current.items()
        elif isinstance(current, list):
            pairs = enumerate(current)
        else:
            continue
        for key, value in pairs:
            if isinstance(value, str):
                if len(value) > best_len:
                    best_len = len(value)
                    best = (current, key, value)
            elif isinstance(value, (dict, list)):
                stack.append(value)
    return best


def _fast_path_markers(keys: Iterable[str], parts: Iterable[str]) -> tuple[str, ...]:
    """Lower-case byte strings whose presence in serialised data needs the careful path:
    every sensitive key or key part (with ``_``, ``-`` and space spellings) and every trigger
    of :func:`~logship.scrub.clean_text` (a run of 13 or more digits, a possible card number,
    is checked separately)."""
    # The scanned text has ``-`` and spaces read as ``_`` (as key normalisation does).
    words = {w.replace("-", "_").replace(" ", "_") for w in (*keys, *parts, *_TEXT_TRIGGERS)}
    # Drop markers that contain a shorter marker: the shorter one already matches.
    minimal = {w for w in words if w and not any(o != w and o in w for o in words if o)}
    return tuple(sorted(minimal))


class JsonFormatter(logging.Formatter):
    """Format each record as exactly one JSON object on one line (see module docs).

    :param service: service name, e.g. ``"bff"``.
    :param environment: deployment environment, e.g. ``"prod"``.
    :param max_message_bytes: cap on the UTF-8 size of one formatted record; oversized string
        values are cut inside the JSON and ``"truncated": true`` is set. At most 1,048,550
        (one CloudWatch event), at least 1024.
    :param redact_keys: data keys (normalised: lower case, ``-`` read as ``_``) to redact.
    :param redact_key_parts: substrings that make a data key sensitive.
    :param redact_messages: also redact secrets in messages and exception text.
    """

    def __init__(
        self,
        service: str = "app",
        environment: str = "",
        *,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        redact_keys: Collection[str] = DEFAULT_SENSITIVE_KEYS,
        redact_key_parts: Iterable[str] = DEFAULT_SENSITIVE_KEY_PARTS,
        redact_messages: bool = True,
    ) -> None:
        super().__init__()
        max_message_bytes = int(max_message_bytes)
        if not MIN_MESSAGE_BYTES <= max_message_bytes <= MAX_MESSAGE_BYTES_HARD:
            raise ValueError(
                f"max_message_bytes must be between {MIN_MESSAGE_BYTES} and "
                f"{MAX_MESSAGE_BYTES_HARD}, got {max_message_bytes}"
            )
        self.service = _fix_str(str(service))[:_MAX_ID_CHARS]
        self.environment = _fix_str(str(environment))[:_MAX_ID_CHARS]
        self.max_message_bytes = max_message_bytes
        self.redact_keys = frozenset(k.strip().lower().replace("-", "_") for k in redact_keys)
        self.redact_key_parts = tuple(p.strip().lower().replace("-", "_") for p in redact_key_parts)
        self.redact_messages = redact_messages
        self._key_cache: dict[str, bool] = {}
        self._clean_strings: dict[str, None] = {}
        self._markers = _fast_path_markers(self.redact_keys, self.redact_key_parts)
        # Data marked RedactedData was redacted with the default rules: enough when this
        # formatter's rules are the defaults or a subset of them.
        default_keys = frozenset(k.replace("-", "_") for k in DEFAULT_SENSITIVE_KEYS)
        self._trusts_redacted = self.redact_keys <= default_keys and set(
            self.redact_key_parts
        ) <= set(DEFAULT_SENSITIVE_KEY_PARTS)
        self._ts_cache: tuple[int, str] = (-1, "")
        #: Records repaired so far, by reason (:data:`REPAIR_REASONS`); slow paths only.
        self.repairs: dict[str, int] = dict.fromkeys(REPAIR_REASONS, 0)
        #: Total of :attr:`repairs` (one integer to compare on the hot path).
        self.repaired = 0
        self._repairs_lock = threading.Lock()

    # -- public ------------------------------------------------------------------------------

    def _repair(self, reason: str) -> None:
        with self._repairs_lock:
            self.repairs[reason] += 1
            self.repaired += 1

    def _unserialisable(self, value: object) -> str:
        """``repr(value)`` for a value with no JSON form, counted (a failing ``__repr__``
        separately)."""
        text = _safe_repr(value)
        self._repair("repr_failed" if text.startswith(_UNREPRESENTABLE) else "unserialisable")
        return text

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        return self.format_event(record).text

    def format_event(self, record: logging.LogRecord) -> FormattedEvent:
        """The record as one line of JSON, with its UTF-8 size and truncation flag.

        The result is cached on the record, so handlers sharing this formatter format once.
        """
        cached = record.__dict__.get(_CACHE_ATTR)
        if cached is not None and cached[0] is self:
            result: FormattedEvent = cached[1]
            return result
        try:
            result = self._format(record)
        except Exception as exc:  # noqa: BLE001 - formatting must never fail
            self._repair("format_error")
            result = self._emergency(record, exc)
        try:
            record.__dict__[_CACHE_ATTR] = (self, result)
        except Exception:  # noqa: BLE001, S110 - records with a read-only __dict__ are possible
            pass
        return result

    # -- building the payload ------------------------------------------------------------------

    def _timestamp(self, record: logging.LogRecord) -> str:
        created = record.created
        try:
            seconds = int(created)
            cached_seconds, prefix = self._ts_cache
            if cached_seconds != seconds:
                prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
                self._ts_cache = (seconds, prefix)
            millis = int(record.msecs)
        except (OverflowError, OSError, ValueError, TypeError):
            return "1970-01-01T00:00:00.000Z"
        if millis < 0 or millis > 999:
            millis = 0 if millis < 0 else 999
        return prefix + _MILLIS[millis]

    def _message(self, record: logging.LogRecord) -> str:
        msg = record.msg
        args = record.args
        if type(msg) is str:
            if not args:
                text = msg
            else:
                try:
                    text = msg % args
                except Exception:  # noqa: BLE001 - bad %-args must not lose the record
                    self._repair("message_format")
                    text = f"{_safe_repr(msg)} % {_safe_repr(args)} (message formatting failed)"
        elif not args and isinstance(msg, Mapping):
            text = ""  # a structured message: its items go to ``data``
        else:
            if isinstance(msg, (bytes, bytearray)):
                self._repair("bytes_message")
            try:
                text = record.getMessage()
            except Exception:  # noqa: BLE001 - bad %-args must not lose the record
                self._repair("message_format")
                text = f"{_safe_repr(msg)} % {_safe_repr(record.args)} (message formatting failed)"
        if self.redact_messages:
            text = clean_text(text)
        return text

    def _sensitive(self, key: str) -> bool:
        cache = self._key_cache
        hit = cache.get(key)
        if hit is None:
            hit = is_sensitive_key(key, self.redact_keys, self.redact_key_parts)
            if len(cache) > 4096:
                cache.clear()
            cache[key] = hit
        return hit

    def _prep(self, value: object, depth: int, state: _PrepState) -> object:
        """A JSON-native, redacted copy of caller data (bounded in depth and size)."""
        kind = type(value)
        if kind is str:
            return clean_text(value)  # type: ignore[arg-type]
        if kind is bool or kind is float or value is None:
            return value
        if kind is int:
            return value if _INT_MIN <= value <= _INT_MAX else str(value)  # type: ignore[operator]
        state.nodes += 1
        if state.nodes > _MAX_NODES or depth <= 0:
            state.truncated = True
            return "[TRUNCATED]"
        if isinstance(value, dict) or (kind is not list and isinstance(value, Mapping)):
            marker = id(value)
            if marker in state.path:
                return "[CYCLE]"
            state.path.add(marker)
            try:
                out: dict[str, object] = {}
                key_cache = self._key_cache
                pairs: Iterable[tuple[object, object]] = value.items()
                if len(value) > _MAX_ITEMS:
                    state.truncated = True
                    out["_truncated_items"] = len(value) - _MAX_ITEMS
                    pairs = itertools.islice(pairs, _MAX_ITEMS)
                for key, item in pairs:
                    name = key if type(key) is str else _safe_str(key)
                    sensitive = key_cache.get(name)
                    if sensitive is None:
                        sensitive = self._sensitive(name)
                    if sensitive:
                        out[name] = self._redacted(name, item)
                        continue
                    leaf = type(item)
                    if leaf is str:
                        out[name] = clean_text(item)  # type: ignore[arg-type]
                    elif leaf is int:
                        in_range = _INT_MIN <= item <= _INT_MAX  # type: ignore[operator]
                        out[name] = item if in_range else str(item)
                    elif leaf is float or leaf is bool or item is None:
                        out[name] = item
                    else:
                        out[name] = self._prep(item, depth - 1, state)
                return out
            finally:
                state.path.discard(marker)
        if isinstance(value, (list, tuple, set, frozenset)):
            marker = id(value)
            if marker in state.path:
                return "[CYCLE]"
            state.path.add(marker)
            try:
                items: list[object] = []
                for index, item in enumerate(value):
                    if index >= _MAX_ITEMS:
                        state.truncated = True
                        items.append(f"[{len(value) - _MAX_ITEMS} more items]")
                        break
                    items.append(self._prep(item, depth - 1, state))
                return items
            finally:
                state.path.discard(marker)
        if isinstance(value, str):  # str subclasses
            return clean_text(str.__str__(value))
        if isinstance(value, int):  # int subclasses other than bool/enums handled above
            if isinstance(value, enum.Enum):
                return self._prep(value.value, depth - 1, state)
            return int(value) if _INT_MIN <= value <= _INT_MAX else str(int(value))
        if isinstance(value, float):
            return float(value)
        if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
            return value.isoformat()
        if isinstance(value, enum.Enum):
            return self._prep(value.value, depth - 1, state)
        if isinstance(value, (bytes, bytearray, memoryview)):
            raw = bytes(value[: _MAX_ITEMS * 64])
            return clean_text(raw.decode("utf-8", "backslashreplace"))
        if isinstance(value, (uuid.UUID, decimal.Decimal, os.PathLike, _dt.timedelta)):
            return _safe_str(value)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            fields = {f.name: getattr(value, f.name, None) for f in dataclasses.fields(value)}
            return self._prep(fields, depth, state)
        return clean_text(self._unserialisable(value))

    def _redacted(self, name: str, value: object) -> str:
        if isinstance(value, str):
            normal = name.strip().lower().replace("-", "_")
            if normal in _HEADER_KEYS:
                return redact_header_value(normal.replace("_", "-"), value)
        return REDACTED

    def _flat_data(self, data: dict[str, object]) -> orjson.Fragment | bool:
        """Flat data (string keys; str, int, float, bool and None values) that the careful
        path would copy unchanged, serialised by orjson directly: no key is sensitive and
        :func:`~logship.scrub.clean_text` keeps every string (short strings seen clean before
        are remembered per formatter). False when the data is not flat, True when something
        in it needs the careful path."""
        if len(data) > _MAX_ITEMS:
            return True
        key_cache = self._key_cache
        known = self._clean_strings
        for key, item in data.items():
            if type(key) is not str:
                return True
            sensitive = key_cache.get(key)
            if sensitive is None:
                sensitive = self._sensitive(key)
            if sensitive:
                return True
            kind = type(item)
            if kind is str:
                if item in known:
                    continue
                if clean_text(item) != item:  # type: ignore[arg-type]
                    return True
                if len(item) <= _CLEAN_CHARS:
                    if len(known) >= _CLEAN_MAX:
                        known.clear()
                    known[item] = None
            elif kind is int:
                if not _INT_MIN <= item <= _INT_MAX:  # type: ignore[operator]
                    return True
            elif not (kind is float or kind is bool or item is None):
                return False
        try:
            return orjson.Fragment(orjson.dumps(data))
        except (TypeError, ValueError):  # lone surrogates: the careful path fixes them
            return True

    def _fast_data(self, data: dict[str, object]) -> orjson.Fragment | None:
        """Data with nothing that could need redaction is serialised by orjson directly (no
        Python walk): flat data checked value by value, small plain-ASCII nested data by a
        scan of its JSON; anything else returns None (the careful path)."""
        flat = self._flat_data(data)
        if flat is not False:
            return None if flat is True else flat
        unserialisable: list[str] = []  # counted only if this path is taken

        def default(value: object) -> object:
            if isinstance(value, _DEFAULT_TYPES):
                return _default(value)
            text = _safe_repr(value)
            failed = text.startswith(_UNREPRESENTABLE)
            unserialisable.append("repr_failed" if failed else "unserialisable")
            return text

        try:
            encoded = orjson.dumps(data, default=default)
        except (TypeError, ValueError):
            return None
        if len(encoded) > _FAST_DATA_MAX or not encoded.isascii():
            return None
        # str searches are much faster than bytes ones
        lowered = encoded.decode("ascii").lower().replace("-", "_").replace(" ", "_")
        for marker in self._markers:
            if marker in lowered:
                return None
        if len(encoded.translate(None, _NOT_DIGITS)) >= 13 and _DIGIT_RUN.search(lowered):
            return None  # a possible card number
        for reason in unserialisable:
            self._repair(reason)
        return orjson.Fragment(encoded)

    def _data(
        self, record: logging.LogRecord, fast: bool = True
    ) -> tuple[dict[str, object] | orjson.Fragment | None, bool]:
        attrs = record.__dict__
        raw: dict[str, object] | None = None
        msg = record.msg
        if type(msg) is not str and not record.args and isinstance(msg, Mapping):
            raw = dict(msg)
        special = len(attrs) - _BASE_COUNT
        if special > 0:
            # Fast path: only attributes we know (``data``, ids, other formatters' caches).
            for known in _KNOWN_EXTRAS:
                if known in attrs:
                    special -= 1
        if special > 0:
            extra_keys = attrs.keys() - _NOT_DATA
            if extra_keys:
                if raw is None:
                    raw = {}
                for key in extra_keys:
                    if not key.startswith(_INTERNAL_PREFIX):
                        raw[key] = attrs[key]
        explicit = attrs.get("data")
        if explicit is not None:
            if raw is None and fast and type(explicit) is RedactedData and self._trusts_redacted:
                try:
                    return orjson.Fragment(orjson.dumps(explicit.data)), False
                except (TypeError, ValueError):
                    pass  # not JSON-native after all: the careful path below
            if raw is None and type(explicit) is dict:
                if fast:
                    fragment = self._fast_data(explicit)
                    if fragment is not None:
                        return fragment, False
                state = _PrepState()
                prepared = self._prep(explicit, _MAX_DEPTH, state)
                return prepared, state.truncated  # type: ignore[return-value]
            if raw is None:
                raw = {}
            if type(explicit) is dict or isinstance(explicit, Mapping):
                raw.update(explicit)
            else:
                raw["data"] = explicit
        if not raw:
            return None, False
        if fast:
            fragment = self._fast_data(raw)
            if fragment is not None:
                return fragment, False
        state = _PrepState()
        prepared = self._prep(raw, _MAX_DEPTH, state)
        return (prepared if isinstance(prepared, dict) else {"data": prepared}), state.truncated

    def _exception(self, record: logging.LogRecord) -> dict[str, object] | None:
        info = record.exc_info
        if not info or not isinstance(info, tuple) or info[0] is None:
            return None
        etype, evalue, _ = info
        stack = record.exc_text
        if not stack:
            try:
                stack = self.formatException(info)
            except Exception as exc:  # noqa: BLE001 - a broken traceback must not lose the record
                stack = f"<traceback unavailable: {_safe_repr(exc)}>"
        message = _safe_str(evalue) if evalue is not None else ""
        if self.redact_messages:
            message = clean_text(message)
            stack = clean_text(stack)
        return {"type": _type_name(etype), "message": message, "stack": stack}

    def _format(self, record: logging.LogRecord) -> FormattedEvent:
        # The hot path: inlined on purpose (this runs for every record).
        attrs = record.__dict__
        request_id = attrs.get("request_id")
        trace_id = attrs.get("trace_id")
        if request_id is None or trace_id is None:
            bound = _CONTEXT.get()
            if request_id is None:
                request_id = bound.request_id
            if trace_id is None:
                trace_id = bound.trace_id
        if request_id is not None and type(request_id) is not str:
            request_id = _safe_str(request_id)
        if trace_id is not None and type(trace_id) is not str:
            trace_id = _safe_str(trace_id)
        location: dict[str, object] = {
            "file": record.pathname,
            "line": record.lineno,
            "function": record.funcName,
        }
        if record.stack_info:
            location["stack"] = self.formatStack(record.stack_info)
        payload: dict[str, Any] = {
            "timestamp": self._timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": self._message(record),
            "service": self.service,
            "environment": self.environment,
            "request_id": request_id,
            "trace_id": trace_id,
            "location": location,
        }
        if record.exc_info:
            exception = self._exception(record)
            if exception is not None:
                payload["exception"] = exception
        truncated = False
        if len(attrs) > _BASE_COUNT or type(record.msg) is not str:
            data, truncated = self._data(record)
            if data is not None:
                payload["data"] = data
            if truncated:
                payload["truncated"] = True
        try:
            raw = _dumps(payload)
        except (TypeError, ValueError):  # lone surrogates, odd keys, deep nesting
            self._repair("invalid_text")
            fixed = _deep_fix(payload)
            assert isinstance(fixed, dict)  # noqa: S101 - _deep_fix maps dict to dict
            payload = fixed
            raw = _dumps(payload)
        if len(raw) > self.max_message_bytes:
            if isinstance(payload.get("data"), orjson.Fragment):
                payload["data"] = self._data(record, fast=False)[0]  # cut-able copy
            raw = self._fit(payload)
            truncated = True
        return _event(raw.decode("utf-8"), len(raw), truncated)

    # -- size limits ---------------------------------------------------------------------------

    def _fit(self, payload: dict[str, Any]) -> bytes:
        """Cut the longest string values until the JSON fits; never produces invalid JSON."""
        limit = self.max_message_bytes
        payload["truncated"] = True
        collapsed_data = False
        for _ in range(32):
            raw = _dumps(payload)
            excess = len(raw) - limit
            if excess <= 0:
                return raw
            found = _largest_string(payload)
            small = found is None or len(found[2]) <= 64
            if small:
                if not collapsed_data and "data" in payload:
                    # Many small values: keep a bounded preview of the data as one string.
                    payload["data"] = {"_preview": _dumps(payload["data"]).decode("utf-8")}
                    collapsed_data = True
                    continue
                break
            assert found is not None  # noqa: S101 - checked by `small`
            container, key, text = found
            budget = max(8, _serialized_len(text) - excess - 16)
            container[key] = _truncate_to(text, budget)  # type: ignore[index]
        return self._minimal(payload)

    def _minimal(self, payload: Mapping[str, Any]) -> bytes:
        """Reserved fields only, each bounded; always fits ``max_message_bytes``."""
        limit = self.max_message_bytes
        location = payload.get("location")
        location = location if isinstance(location, Mapping) else {}
        message = _fix_str(_safe_str(payload.get("message", "")))
        raw = b"{}"
        steps = ((_MAX_ID_CHARS, (limit - 4096) // 6), (64, (limit - 1024) // 6), (16, 0), (0, 0))
        for size, message_chars in steps:

            def short(value: object, size: int = size) -> object:
                if value is None or isinstance(value, (bool, int, float)):
                    return value
                return _fix_str(_safe_str(value))[:size]

            minimal = {
                "timestamp": short(payload.get("timestamp"), 32),
                "level": short(payload.get("level")),
                "logger": short(payload.get("logger")),
                "message": message[: max(0, message_chars)],
                "service": self.service if size else "",
                "environment": self.environment if size else "",
                "request_id": short(payload.get("request_id")),
                "trace_id": short(payload.get("trace_id")),
                "location": {
                    "file": short(location.get("file")),
                    "line": short(location.get("line")),
                    "function": short(location.get("function")),
                },
                "truncated": True,
            }
            if "data" in payload and isinstance(payload["data"], Mapping) and size:
                error = payload["data"].get("format_error")
                if error is not None:
                    minimal["data"] = {"format_error": short(error)}
            raw = _dumps(minimal)
            if len(raw) <= limit:
                return raw
        return raw

    def _emergency(self, record: logging.LogRecord, exc: BaseException) -> FormattedEvent:
        """Last resort when building the payload itself failed (hostile record objects)."""
        payload = {
            "timestamp": self._timestamp(record),
            "level": getattr(record, "levelname", ""),
            "logger": getattr(record, "name", ""),
            "message": _safe_repr(getattr(record, "msg", "")),
            "data": {"format_error": _safe_repr(exc)},
        }
        raw = self._minimal(payload)
        return FormattedEvent(raw.decode("utf-8"), len(raw), True)
