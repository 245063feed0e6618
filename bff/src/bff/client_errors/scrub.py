"""PII scrubbing of client-error events, each rule counted.

Rules (the name is the key in the event's ``scrubbed`` counts):

``email``          e-mail addresses -> ``[email]``
``card``           13-19 digit numbers (spaces or dashes allowed) passing the Luhn check
                   -> ``[card]``
``jwt``            JSON Web Tokens (``eyJ...``.``eyJ...``.sig) -> ``[jwt]``
``bearer``         ``Bearer <credential>`` -> ``Bearer [REDACTED]``
``url_query``      values of secret-looking query parameters in URLs -> ``[REDACTED]``
``sensitive_key``  any value under a key naming a secret (password, secret, token, auth, cookie,
                   session, csrf, api key, credential, signature) -> ``[REDACTED]``

The top-level ``session`` field of a report is our own random per-tab id (it identifies no
user and is needed to group one tab's reports), so it is kept; a ``session`` key anywhere
else (breadcrumb data, Sentry extras) is scrubbed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

REDACTED: Final = "[REDACTED]"
MAX_DEPTH: Final = 8

_EMAIL: Final = re.compile(
    r"(?<![\w.%+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}\.){1,8}"
    r"[A-Za-z]{2,24}(?![\w-])"
)
_CARD: Final = re.compile(r"(?<![\w-])\d(?:[ -]?\d){12,18}(?![\w-])")
_JWT: Final = re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
_BEARER: Final = re.compile(r"\b(bearer)(\s+)(?!\[REDACTED\])[A-Za-z0-9._~+/=-]{6,}", re.I)
_QUERY_PARAM: Final = re.compile(r"([?&;#])([\w.\-\[\]%]{1,128})=([^&;#\s\"'<>]*)")
_SENSITIVE_PARTS: Final = (
    "password", "passwd", "pwd", "secret", "token", "auth", "cookie", "session", "csrf",
    "xsrf", "api_key", "apikey", "credential", "private_key", "signature", "jwt",
)  # fmt: skip
_SENSITIVE_PARAMS: Final = frozenset(
    {"code", "key", "sig", "state", "email", "ssn", "card", "otp", "pin"}
)
# Cheap pre-checks: skip each pattern unless its trigger is present.
_DIGITS13: Final = re.compile(r"\d[\d -]{11,}\d")
_DIGIT_GROUP: Final = re.compile(r"\d+")
# One search decides whether any rule can apply to a string (most strings: none).
_ANY_TRIGGER: Final = re.compile(r"[@=]|eyJ|bearer|\d[\d -]{11,}\d", re.I)
_NAME_CACHE: dict[str, bool] = {}


def luhn_valid(digits: str) -> bool:
    """Whether a string of 13-19 digits passes the Luhn checksum."""
    if not 13 <= len(digits) <= 19 or not digits.isdigit():
        return False
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def is_sensitive_name(name: str) -> bool:
    """Whether a key or query parameter name names a secret."""
    hit = _NAME_CACHE.get(name)
    if hit is None:
        normal = name.strip().lower().replace("-", "_")
        hit = any(part in normal for part in _SENSITIVE_PARTS)
        if len(_NAME_CACHE) > 4096:
            _NAME_CACHE.clear()
        _NAME_CACHE[name] = hit
    return hit


class Scrubber:
    """Scrubs strings and nested data in place of a copy; counts hits per rule in ``counts``."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def _hit(self, rule: str, count: int = 1) -> None:
        if count:
            self.counts[rule] = self.counts.get(rule, 0) + count

    def _card(self, match: re.Match[str]) -> str:
        text = match.group(0)
        # Try the whole run, then runs of whole digit groups ("8 4111 1111 1111 1111").
        groups = [(m.start(), m.end()) for m in _DIGIT_GROUP.finditer(text)]
        for first in range(len(groups)):
            for last in range(len(groups) - 1, first - 1, -1):
                start, end = groups[first][0], groups[last][1]
                digits = text[start:end].replace(" ", "").replace("-", "")
                if luhn_valid(digits):
                    self._hit("card")
                    return text[:start] + "[card]" + text[end:]
        return text

    def _param(self, match: re.Match[str]) -> str:
        name = match.group(2)
        value = match.group(3)
        if not value or value == REDACTED:
            return match.group(0)
        lowered = name.lower()
        if is_sensitive_name(lowered) or lowered in _SENSITIVE_PARAMS:
            self._hit("url_query")
            return f"{match.group(1)}{name}={REDACTED}"
        return match.group(0)

    def text(self, value: str) -> str:
        """``value`` with every rule applied."""
        if _ANY_TRIGGER.search(value) is None:
            return value
        if "@" in value:
            value, n = _EMAIL.subn("[email]", value)
            self._hit("email", n)
        if "eyJ" in value:
            value, n = _JWT.subn("[jwt]", value)
            self._hit("jwt", n)
        if _DIGITS13.search(value) is not None:
            value = _CARD.sub(self._card, value)
        if "=" in value:
            value = _QUERY_PARAM.sub(self._param, value)
        if "earer" in value or "EARER" in value:
            value, n = _BEARER.subn(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", value)
            self._hit("bearer", n)
        return value

    def data(self, value: Any, depth: int = MAX_DEPTH) -> Any:
        """A scrubbed copy of JSON-like ``value`` (dicts, lists, strings, numbers)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            if depth <= 0:
                return "[depth]"
            out: dict[str, Any] = {}
            for key, item in value.items():
                name = str(key)
                sensitive = is_sensitive_name(name)
                name = self.text(name)  # keys are user data too
                if sensitive and item not in (None, "", REDACTED):
                    self._hit("sensitive_key")
                    out[name] = REDACTED
                else:
                    out[name] = self.data(item, depth - 1)
            return out
        if isinstance(value, list | tuple):
            if depth <= 0:
                return "[depth]"
            return [self.data(item, depth - 1) for item in value]
        return value
