"""Pure redaction of secrets in headers, URLs, free text and structured log data.

Every function returns a new value and never mutates its input; none of them raises on
hostile input (huge strings, invalid percent-escapes, control characters, cycles).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Iterator, Mapping
from typing import Final
from urllib.parse import unquote_plus

__all__ = [
    "DEFAULT_SENSITIVE_KEYS",
    "DEFAULT_SENSITIVE_KEY_PARTS",
    "REDACTED",
    "SENSITIVE_HEADERS",
    "RedactedData",
    "SENSITIVE_QUERY_PARAMS",
    "is_sensitive_key",
    "normalize_key",
    "redact_data",
    "redact_header_value",
    "redact_headers",
    "redact_query",
    "redact_text",
    "redact_url",
]

REDACTED: Final = "[REDACTED]"

#: Header names (lower case) whose values are always redacted.
SENSITIVE_HEADERS: Final = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"}
)

#: Query parameter names (lower case, ``-`` read as ``_``) whose values are redacted.
SENSITIVE_QUERY_PARAMS: Final = frozenset(
    {
        "token", "access_token", "id_token", "refresh_token", "api_key", "apikey", "key",
        "password", "secret", "signature", "sig", "code", "client_secret", "auth",
    }
)  # fmt: skip

#: Data keys (normalised with :func:`normalize_key`) whose values are redacted.
DEFAULT_SENSITIVE_KEYS: Final = frozenset(
    {
        "authorization", "proxy_authorization", "cookie", "set_cookie", "x_api_key",
        "api_key", "apikey", "password", "passwd", "secret", "token", "access_token",
        "refresh_token", "id_token", "client_secret", "session_id", "sessionid",
    }
)  # fmt: skip

#: Substrings that make a normalised data key sensitive (``db_password``, ``csrf_token``).
DEFAULT_SENSITIVE_KEY_PARTS: Final = (
    "password", "passwd", "secret", "token", "authorization", "cookie", "api_key", "apikey",
    "private_key", "credential", "signature",
)  # fmt: skip

_HEADER_KEYS: Final = frozenset(name.replace("-", "_") for name in SENSITIVE_HEADERS)
_SCHEME: Final = re.compile(r"\s*([A-Za-z][A-Za-z0-9_.-]{0,31})\s+\S")
_ARRAY_SUFFIX: Final = re.compile(r"\[[^\]]{0,64}\]$")
_SEPARATORS: Final = re.compile(r"([&;])")
_USERINFO: Final = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]{0,31}://)([^/@?#]*)@")

# Free text: cheap trigger first, then the specific (linear-time, bounded) patterns.
_TEXT_TRIGGER: Final = re.compile(
    r"authoriz|cookie|api.?key|bearer|passw|secret|token|://[^/\s@]{1,256}@|[?&;#][^=\s]{1,128}=",
    re.IGNORECASE,
)
_TEXT_URL_PARAM: Final = re.compile(
    r"([?&;#])((?:%[0-9A-Fa-f]{2}|[\w.\-\[\]]){1,128})=([^&;#\s\"'<>]*)"
)
_TEXT_ASSIGNMENT: Final = re.compile(
    r"(?<![\w.%-])([\w.-]{1,64})([\"']?\s{0,8}[=:]\s{0,8})(?!\[REDACTED\])"
    r"(\"[^\"\r\n]{0,4096}\"|'[^'\r\n]{0,4096}'|[^\s,;&\"'<>)}\]]+)"
)
_TEXT_HEADER: Final = re.compile(
    r"\b(proxy-authorization|authorization|x-api-key|set-cookie|cookie)"
    r"([\"']?\s{0,8}[:=]\s{0,8}[\"']?)([^\"'\r\n]*)",
    re.IGNORECASE,
)
_TEXT_BEARER: Final = re.compile(r"\b(bearer)(\s+)([A-Za-z0-9._~+/=-]{8,})", re.IGNORECASE)
_TEXT_USERINFO: Final = re.compile(
    r"([A-Za-z][A-Za-z0-9+.-]{0,31}://)([^\s/@?#:]{0,256}):([^\s/@?#]{1,256})@"
)
_TEXT_WORDS: Final = (
    "authoriz", "cookie", "api-key", "api_key", "apikey", "bearer", "passw", "secret", "token",
)  # fmt: skip
_TEXT_KEY_PARTS: Final = (
    "password", "passwd", "secret", "token", "api_key", "apikey", "client_secret",
)  # fmt: skip


class RedactedData(Mapping[str, object]):
    """Record data whose producer has already applied this module's default rules.

    The producer's promise: every string in ``data`` (keys included) has been through
    :func:`logship.scrub.clean_text` (personal data and :func:`redact_text`, or a stricter
    rule), every value under a key for which
    :func:`is_sensitive_key` holds with the default keys and parts has been replaced, and the
    data holds only JSON-native values. A :class:`~logship.formatter.JsonFormatter` using the
    default rules (or fewer) then serialises it without walking it again; any other
    formatter, or data orjson cannot serialise, still gets the full walk. Pass it as
    ``extra={"data": RedactedData(...)}``.
    """

    __slots__ = ("data",)

    def __init__(self, data: dict[str, object]) -> None:
        self.data = data

    def __getitem__(self, key: str) -> object:
        return self.data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        return f"RedactedData({self.data!r})"


def normalize_key(key: object) -> str:
    """Lower case, trimmed, with ``-`` and spaces read as ``_``."""
    text = key if isinstance(key, str) else str(key)
    return text.strip().lower().replace("-", "_").replace(" ", "_")


def is_sensitive_key(
    key: object,
    keys: Collection[str] = DEFAULT_SENSITIVE_KEYS,
    parts: Iterable[str] = DEFAULT_SENSITIVE_KEY_PARTS,
) -> bool:
    """Whether a data key names a secret (exact match on ``keys`` or contains a ``part``)."""
    try:
        name = normalize_key(key)
    except Exception:  # noqa: BLE001 - a hostile __str__ must not break logging
        return False
    if name in keys:
        return True
    return any(part in name for part in parts)


def redact_header_value(name: str, value: str) -> str:
    """Redact the value of a sensitive header; other headers pass through unchanged.

    ``Authorization: Bearer abc`` keeps the scheme (``Bearer [REDACTED]``); cookies keep their
    names; ``Set-Cookie`` keeps its attributes.
    """
    lname = name.strip().lower()
    if lname not in SENSITIVE_HEADERS:
        return value
    if lname in ("authorization", "proxy-authorization"):
        match = _SCHEME.match(value)
        return f"{match.group(1)} {REDACTED}" if match else REDACTED
    if lname == "cookie":
        return "; ".join(_redact_cookie_pair(part) for part in value.split(";") if part.strip())
    if lname == "set-cookie":
        first, sep, attributes = value.partition(";")
        return _redact_cookie_pair(first) + (sep + attributes if sep else "")
    return REDACTED


def _redact_cookie_pair(pair: str) -> str:
    cookie_name, sep, _ = pair.strip().partition("=")
    if not sep or not cookie_name.strip():
        return REDACTED
    return f"{cookie_name.strip()[:128]}={REDACTED}"


def redact_headers(
    headers: Mapping[str, str] | Iterable[tuple[str, str]],
) -> dict[str, str] | list[tuple[str, str]]:
    """Redact sensitive header values.

    A mapping gives a ``dict``; anything else (an iterable of pairs such as WSGI headers or
    ``werkzeug.Headers``) gives a list of pairs, so repeated headers survive.
    """
    if isinstance(headers, Mapping):
        return {name: _safe_header(name, value) for name, value in headers.items()}
    return [(name, _safe_header(name, value)) for name, value in headers]


def _safe_header(name: object, value: object) -> str:
    if not isinstance(name, str):
        return value if isinstance(value, str) else str(value)
    if name.strip().lower() not in SENSITIVE_HEADERS:
        return value if isinstance(value, str) else str(value)
    if not isinstance(value, str):
        return REDACTED
    return redact_header_value(name, value)


def _param_name(raw: str) -> str:
    try:
        name = unquote_plus(raw, errors="replace")
    except Exception:  # noqa: BLE001 - never fail on hostile input
        name = raw
    name = _ARRAY_SUFFIX.sub("", name.strip().lower())
    return name.replace("-", "_")


def redact_query(query: str, params: Collection[str] = SENSITIVE_QUERY_PARAMS) -> str:
    """Redact sensitive parameter values in a query string (``a=1&token=x`` -> ``token=[R…]``).

    Separators (``&`` and ``;``), order, repeated and value-less parameters are preserved;
    names match case-insensitively, percent-decoded, with ``-`` read as ``_`` and a trailing
    ``[...]`` ignored. A leading ``?`` is kept.
    """
    if "=" not in query:
        return query
    prefix = ""
    if query.startswith("?"):
        prefix, query = "?", query[1:]
    pieces = _SEPARATORS.split(query)
    out: list[str] = []
    for piece in pieces:
        if piece in ("&", ";") or "=" not in piece:
            out.append(piece)
            continue
        key, _, _ = piece.partition("=")
        out.append(f"{key}={REDACTED}" if _param_name(key) in params else piece)
    return prefix + "".join(out)


def redact_url(url: str, params: Collection[str] = SENSITIVE_QUERY_PARAMS) -> str:
    """Redact token-like query/fragment parameters and the password in ``user:pass@``."""
    if not url:
        return url
    base, hash_sep, fragment = url.partition("#")
    path, query_sep, query = base.partition("?")
    match = _USERINFO.match(path)
    if match and ":" in match.group(2):
        user = match.group(2).split(":", 1)[0]
        path = f"{match.group(1)}{user}:{REDACTED}@{path[match.end() :]}"
    if query_sep:
        query = redact_query(query, params)
    if hash_sep and "=" in fragment:
        fragment = redact_query(fragment, params)
    return path + query_sep + query + hash_sep + fragment


def _url_param_sub(match: re.Match[str]) -> str:
    if _param_name(match.group(2)) in SENSITIVE_QUERY_PARAMS:
        return f"{match.group(1)}{match.group(2)}={REDACTED}"
    return match.group(0)


def _assignment_sub(match: re.Match[str]) -> str:
    name = match.group(1).lower().replace("-", "_")
    if any(part in name for part in _TEXT_KEY_PARTS):
        value = match.group(3)
        quote = value[0] if value[0] in "\"'" else ""
        return f"{match.group(1)}{match.group(2)}{quote}{REDACTED}{quote}"
    return match.group(0)


def _header_sub(match: re.Match[str]) -> str:
    if not match.group(3).strip():
        return match.group(0)
    return f"{match.group(1)}{match.group(2)}{REDACTED}"


def redact_text(text: str) -> str:
    """Redact secrets in free text: URL parameters, ``password=…``-style assignments,
    header lines (``Authorization: …``), bearer tokens and URL passwords.

    Linear time; text without any trigger word is returned as is (the common, fast path).
    """
    if not text:
        return text
    if "=" not in text:
        if ":" not in text and "earer" not in text and "EARER" not in text:
            return text
        lowered = text.lower()
        if not any(word in lowered for word in _TEXT_WORDS) and not ("@" in text and "://" in text):
            return text
    if _TEXT_TRIGGER.search(text) is None:
        return text
    out = _TEXT_HEADER.sub(_header_sub, text)
    out = _TEXT_BEARER.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", out)
    out = _TEXT_USERINFO.sub(lambda m: f"{m.group(1)}{m.group(2)}:{REDACTED}@", out)
    out = _TEXT_URL_PARAM.sub(_url_param_sub, out)
    return _TEXT_ASSIGNMENT.sub(_assignment_sub, out)


def redact_data(
    value: object,
    keys: Collection[str] = DEFAULT_SENSITIVE_KEYS,
    parts: Iterable[str] = DEFAULT_SENSITIVE_KEY_PARTS,
    max_depth: int = 32,
) -> object:
    """A copy of ``value`` with secrets redacted, recursively.

    Values under sensitive keys are replaced (header-like keys keep a scheme or cookie names),
    strings anywhere are passed through :func:`redact_text`; mappings become dicts, lists,
    tuples and sets keep their type; cycles become ``"[CYCLE]"`` and nesting deeper than
    ``max_depth`` becomes ``"[TRUNCATED]"``. Other objects are returned unchanged.
    """
    part_tuple = tuple(parts)
    return _redact(value, keys, part_tuple, max_depth, set())


def _redact(
    value: object, keys: Collection[str], parts: tuple[str, ...], depth: int, path: set[int]
) -> object:
    if isinstance(value, str):
        return redact_text(value)
    if not isinstance(value, (Mapping, list, tuple, set, frozenset)):
        return value
    if depth <= 0:
        return "[TRUNCATED]"
    marker = id(value)
    if marker in path:
        return "[CYCLE]"
    path.add(marker)
    try:
        if isinstance(value, Mapping):
            result: dict[object, object] = {}
            for key, item in value.items():
                if is_sensitive_key(key, keys, parts):
                    result[key] = _redact_sensitive(key, item)
                else:
                    result[key] = _redact(item, keys, parts, depth - 1, path)
            return result
        items = [_redact(item, keys, parts, depth - 1, path) for item in value]
        if isinstance(value, tuple):
            return tuple(items)
        if isinstance(value, (set, frozenset)):
            try:
                return type(value)(items)
            except TypeError:
                return items
        return items
    finally:
        path.discard(marker)


def _redact_sensitive(key: object, value: object) -> str:
    if isinstance(value, str) and isinstance(key, str):
        name = normalize_key(key)
        if name in _HEADER_KEYS:
            return redact_header_value(name.replace("_", "-"), value)
    return REDACTED
