"""Personal data in log text: one set of rules for every record of every service.

Rules (the name is the key in the optional per-rule hit counts):

``email``      e-mail addresses -> ``[email]``
``card``       13-19 digit numbers (single spaces or dashes between groups) passing the Luhn
               check -> ``[card]``
``jwt``        JSON Web Tokens (``eyJ...``.``eyJ...``.signature) -> ``[jwt]``
``bearer``     ``Bearer <credential>`` -> ``Bearer [REDACTED]``
``url_query``  the value of a query (or fragment) parameter named like a secret or personal
               data (:func:`is_sensitive_param`) -> ``name=[REDACTED]``; a percent-encoded
               value that decodes to one of the shapes above is replaced by the decoded text
               with the shape's marker (``q=bob%40example.com`` -> ``q=[email]``)
``key_value``  ``name=value`` anywhere in free text with a name naming a secret or personal
               data (:func:`is_sensitive_text_name`: ``session=``, ``pwd=``, ``pw=``, ...)
               -> ``name=[REDACTED]``

The formatter applies :func:`clean_text` (these rules, then :func:`logship.redact.redact_text`)
to the message, every string in ``data`` and the exception text of every record;
:func:`logship.access.log_access` applies :func:`scrub_path` and :func:`scrub_query` at the
source. ISO dates, UUIDs, request ids, epoch timestamps and numbers failing the Luhn check
are kept. Every function is pure (the counts aside), linear-time and never raises on hostile
input.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import MutableMapping
from typing import Final
from urllib.parse import quote_plus, unquote_plus

from .redact import REDACTED, redact_text

__all__ = [
    "CARD",
    "EMAIL",
    "JWT",
    "REDACTED",
    "RULES",
    "SENSITIVE_NAME_PARTS",
    "SENSITIVE_PARAMS",
    "SENSITIVE_TEXT_NAMES",
    "TRIGGER",
    "clean_text",
    "is_sensitive_name",
    "is_sensitive_param",
    "is_sensitive_text_name",
    "luhn_valid",
    "scrub_path",
    "scrub_query",
    "scrub_text",
]

Counts = MutableMapping[str, int]

EMAIL: Final = "[email]"
CARD: Final = "[card]"
JWT: Final = "[jwt]"
#: Every rule name that can appear in the counts.
RULES: Final = ("email", "card", "jwt", "bearer", "url_query", "key_value")

#: Substrings that make a normalised name (lower case, ``-`` and spaces read as ``_``)
#: name a secret: data keys, query parameters and ``name=value`` pairs.
SENSITIVE_NAME_PARTS: Final = (
    "password", "passwd", "pwd", "secret", "token", "auth", "cookie", "session", "csrf",
    "xsrf", "api_key", "apikey", "credential", "private_key", "signature", "jwt",
)  # fmt: skip
_PERSONAL_NAMES: Final = frozenset(
    {"email", "e_mail", "mail", "ssn", "card", "card_number", "cardnumber", "cc", "ccnum",
     "cvv", "cvc", "iban", "otp", "pin", "pw", "pass", "passcode"}
)  # fmt: skip
#: Exact query parameter names (besides :data:`SENSITIVE_NAME_PARTS`) whose values are
#: redacted in URLs and query strings.
SENSITIVE_PARAMS: Final = _PERSONAL_NAMES | frozenset({"code", "key", "sig", "state"})
#: Exact names (besides :data:`SENSITIVE_NAME_PARTS`) whose ``name=value`` pairs are redacted
#: in free text (no ``code``/``key``/``state``: ``code=502`` in a message is not a secret).
SENSITIVE_TEXT_NAMES: Final = _PERSONAL_NAMES

#: Without a match, no rule of this module nor :func:`~logship.redact.redact_text` changes a
#: string (redact_text needs ``=``, ``:`` or the word ``bearer``).
TRIGGER: Final = re.compile(r"[@=:]|eyJ|bearer|[0-9][0-9 -]{11,}[0-9]", re.IGNORECASE)

_EMAIL: Final = re.compile(
    r"(?<![\w.%+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}\.){1,8}"
    r"[A-Za-z]{2,24}(?![\w-])"
)
# ASCII digits only: a [0-9] class scans about twice as fast as \d.
_CARD: Final = re.compile(r"(?<![\w-])[0-9](?:[ -]?[0-9]){12,18}(?![\w-])")
_DIGITS13: Final = re.compile(r"[0-9][0-9 -]{11,}[0-9]")
_DIGIT_GROUP: Final = re.compile(r"[0-9]+")
# Starts only where a base64url run starts, so a long run of "eyJ-eyJ-..." stays linear.
_JWT: Final = re.compile(
    r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"
)
_BEARER: Final = re.compile(r"\b(bearer)(\s+)(?!\[REDACTED\])[A-Za-z0-9._~+/=-]{6,}", re.I)
_QUERY_PARAM: Final = re.compile(r"([?&;#])([\w.\-\[\]%+]{1,128})=([^&;#\s\"'<>]*)")
_KEY_VALUE: Final = re.compile(
    r"(?<![\w.%\[\]-])([A-Za-z_][\w.-]{0,63})=(?![\"']?\[REDACTED\])"
    r"(\"[^\"\r\n]{1,4096}\"|'[^'\r\n]{1,4096}'|[^&;#\s\"'<>,]+)"
)
_ARRAY_SUFFIX: Final = re.compile(r"\[[^\]]{0,64}\]$")

_CACHE_MAX: Final = 4096
_MAX_DECODES: Final = 2  # nested percent-encodings scrubbed (hostile input cannot recurse)
# name -> (sensitive by parts, sensitive as a URL parameter, sensitive in free text)
_NAME_CACHE: dict[str, tuple[bool, bool, bool]] = {}


def luhn_valid(digits: str) -> bool:
    """Whether a string of 13-19 ASCII digits passes the Luhn checksum."""
    if not 13 <= len(digits) <= 19 or not digits.isascii() or not digits.isdigit():
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


def _normal(name: str) -> str:
    if "%" in name or "+" in name:
        with contextlib.suppress(Exception):  # never fail on hostile input
            name = unquote_plus(name, errors="replace")
    name = _ARRAY_SUFFIX.sub("", name.strip().lower())
    return name.replace("-", "_").replace(" ", "_")


def _name_kinds(name: str) -> tuple[bool, bool, bool]:
    kinds = _NAME_CACHE.get(name)
    if kinds is None:
        normal = _normal(name)
        by_part = any(part in normal for part in SENSITIVE_NAME_PARTS)
        kinds = (
            by_part,
            by_part or normal in SENSITIVE_PARAMS,
            by_part or normal in SENSITIVE_TEXT_NAMES,
        )
        if len(_NAME_CACHE) >= _CACHE_MAX:
            _NAME_CACHE.clear()
        _NAME_CACHE[name] = kinds
    return kinds


def is_sensitive_name(name: str) -> bool:
    """Whether a data key names a secret (it contains one of :data:`SENSITIVE_NAME_PARTS`)."""
    return _name_kinds(name)[0]


def is_sensitive_param(name: str) -> bool:
    """Whether a query parameter's value is redacted (name percent-decoded, ``[...]`` ignored)."""
    return _name_kinds(name)[1]


def is_sensitive_text_name(name: str) -> bool:
    """Whether ``name=value`` in free text has its value redacted."""
    return _name_kinds(name)[2]


def _hit(counts: Counts | None, rule: str, count: int = 1) -> None:
    if counts is not None and count:
        counts[rule] = counts.get(rule, 0) + count


def _card_in(text: str) -> tuple[int, int] | None:
    """The span of a Luhn-valid run of whole digit groups inside a ``_CARD`` match."""
    groups = [(m.start(), m.end()) for m in _DIGIT_GROUP.finditer(text)]
    sizes = [end - start for start, end in groups]
    for first in range(len(groups)):
        total = sum(sizes[first:])
        for last in range(len(groups) - 1, first - 1, -1):
            if 13 <= total <= 19:
                start, end = groups[first][0], groups[last][1]
                if luhn_valid(text[start:end].replace(" ", "").replace("-", "")):
                    return start, end
            total -= sizes[last]
            if total < 13:
                break
    return None


class _Subs:
    """The substitution callbacks of one call, counting into ``counts``."""

    __slots__ = ("counts", "depth")

    def __init__(self, counts: Counts | None, depth: int = 0) -> None:
        self.counts = counts
        self.depth = depth  # levels of percent-decoding above this call

    def card(self, match: re.Match[str]) -> str:
        text = match.group(0)
        span = _card_in(text)
        if span is None:
            return text
        _hit(self.counts, "card")
        return text[: span[0]] + CARD + text[span[1] :]

    def param(self, match: re.Match[str]) -> str:
        value = match.group(3)
        if not value or value == REDACTED:
            return match.group(0)
        name = match.group(2)
        if _name_kinds(name)[1]:
            _hit(self.counts, "url_query")
            return f"{match.group(1)}{name}={REDACTED}"
        if ("%" in value or "+" in value) and self.depth < _MAX_DECODES:
            shaped = self.encoded(value)
            if shaped is not None:
                return f"{match.group(1)}{name}={shaped}"
        return match.group(0)

    def encoded(self, value: str) -> str | None:
        """A percent-encoded value holding something the rules change (an e-mail address,
        ``session=...``), decoded, scrubbed and re-encoded; None when it holds nothing."""
        try:
            decoded = unquote_plus(value, errors="replace")
        except Exception:  # noqa: BLE001 - never fail on hostile input
            return None
        if decoded == value or not _triggered(decoded):
            return None
        local: dict[str, int] = {}
        out = _apply(decoded, local, self.depth + 1)
        if not local:
            return None
        for rule, count in local.items():
            _hit(self.counts, rule, count)
        return quote_plus(out, safe="[]/:")

    def key_value(self, match: re.Match[str]) -> str:
        if not _name_kinds(match.group(1))[2]:
            return match.group(0)
        _hit(self.counts, "key_value")
        value = match.group(2)
        quote = value[0] if value[0] in "\"'" else ""
        return f"{match.group(1)}={quote}{REDACTED}{quote}"

    def bearer(self, match: re.Match[str]) -> str:
        _hit(self.counts, "bearer")
        return f"{match.group(1)}{match.group(2)}{REDACTED}"


def _triggered(text: str) -> bool:
    """Whether any rule of this module can change ``text`` (the cheap test, most strings fail
    it: plain ``in`` tests first, the digit run last)."""
    return (
        "@" in text
        or "=" in text
        or "eyJ" in text
        or "earer" in text
        or "EARER" in text
        or (len(text) >= 13 and _DIGITS13.search(text) is not None)
    )


def scrub_text(text: str, counts: Counts | None = None) -> str:
    """``text`` with every rule of this module applied; hits added to ``counts`` per rule."""
    if not text or not _triggered(text):
        return text
    return _apply(text, counts)


def _apply(text: str, counts: Counts | None, depth: int = 0) -> str:
    subs = _Subs(counts, depth)
    if "@" in text:
        text, n = _EMAIL.subn(EMAIL, text)
        _hit(counts, "email", n)
    if "eyJ" in text:
        text, n = _JWT.subn(JWT, text)
        _hit(counts, "jwt", n)
    if _DIGITS13.search(text) is not None:
        text = _CARD.sub(subs.card, text)
    if "=" in text:
        text = _QUERY_PARAM.sub(subs.param, text)
        text = _KEY_VALUE.sub(subs.key_value, text)
    if "earer" in text or "EARER" in text:
        text = _BEARER.sub(subs.bearer, text)
    return text


def clean_text(text: str) -> str:
    """:func:`scrub_text` and then :func:`logship.redact.redact_text`: what the formatter
    applies to every string of a record."""
    # _triggered and redact_text's own first test, folded into one chain: most strings have
    # none of these characters and return here.
    if "=" in text or "@" in text or "eyJ" in text or "earer" in text or "EARER" in text:
        return redact_text(_apply(text, None))
    if len(text) >= 13 and _DIGITS13.search(text) is not None:
        text = _apply(text, None)
    # Without "=", "@" and "bearer", redact_text can only change text holding ":".
    return redact_text(text) if ":" in text else text


def scrub_query(query: str, counts: Counts | None = None) -> str:
    """A query string (without or with its leading ``?``) with sensitive values redacted:
    by parameter name (:func:`is_sensitive_param`) and by shape, encoded or not."""
    if not query:
        return query
    if query.startswith("?"):
        return scrub_text(query, counts)
    return scrub_text("?" + query, counts)[1:]


def scrub_path(path: str, counts: Counts | None = None) -> str:
    """A URL path with e-mail addresses, card numbers, JWTs (also percent-encoded) and
    ``name=value`` secrets in its segments replaced."""
    if not path:
        return path
    if "%" in path:
        try:
            decoded = unquote_plus(path.replace("+", "%2B"), errors="replace")
        except Exception:  # noqa: BLE001 - never fail on hostile input
            decoded = path
        if decoded != path and scrub_text(decoded) != decoded:
            return scrub_text(decoded, counts)
    return scrub_text(path, counts)
