"""PII scrubbing of client-error events, each rule counted.

The text rules are logship's (:mod:`logship.scrub`, the same rules every log record of every
service goes through); the name is the key in the event's ``scrubbed`` counts:

``email``          e-mail addresses -> ``[email]``
``card``           13-19 digit numbers (spaces or dashes allowed) passing the Luhn check
                   -> ``[card]``
``jwt``            JSON Web Tokens (``eyJ...``.``eyJ...``.sig) -> ``[jwt]``
``bearer``         ``Bearer <credential>`` -> ``Bearer [REDACTED]``
``url_query``      values of secret-looking query parameters in URLs -> ``[REDACTED]``, and
                   percent-encoded values holding one of the shapes above
``key_value``      ``session=...``, ``pwd=...``, ``pw=...``-style pairs in free text
                   -> ``[REDACTED]``

and this module's own:

``sensitive_key``  any value under a key naming a secret (password, secret, token, auth, cookie,
                   session, csrf, api key, credential, signature) -> ``[REDACTED]``
``log_redaction``  what logship's own redaction of log text changes beyond the rules above
                   (``Authorization: ...`` header lines, ``password=...`` assignments, URL
                   passwords; see ``logship.redact.redact_text``)

The top-level ``session`` field of a report is our own random per-tab id (it identifies no
user and is needed to group one tab's reports), so it is kept; a ``session`` key anywhere
else (breadcrumb data, Sentry extras) is scrubbed.

:meth:`Scrubber.event` makes a record's data final in one walk: every string through the
rules above and logship's text redaction, every value under a key logship treats as secret
(or, below the top level, under a key this module does) replaced. That covers everything
logship's formatter would redact, so the data is handed over as ``RedactedData`` and the
formatter does not walk it again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from logship import scrub as rules
from logship.redact import RedactedData, is_sensitive_key, redact_text
from logship.scrub import is_sensitive_name, luhn_valid

__all__ = ["RULES", "Scrubber", "is_logship_sensitive", "is_sensitive_name", "luhn_valid"]

REDACTED: Final = "[REDACTED]"
#: Every rule name that can appear in the ``scrubbed`` counts.
RULES: Final = (*rules.RULES, "sensitive_key", "log_redaction")
MAX_DEPTH: Final = 8

# The same trigger for these rules and logship's redact_text together: without a match,
# neither changes a string (redact_text needs "=", ":" or the word "bearer").
_SHIP_TRIGGER: Final = rules.TRIGGER
_LOGSHIP_KEY_CACHE: dict[str, bool] = {}
# Short strings known to pass every rule unchanged (frame URLs, names, breadcrumb values).
_CLEAN_CACHE: dict[str, None] = {}
# Data keys known to pass every rule unchanged, with whether they name a secret.
_KEY_CACHE: dict[str, tuple[str, bool]] = {}
_CLEAN_CACHE_MAX: Final = 4096
_CLEAN_CACHE_CHARS: Final = 256


def is_logship_sensitive(name: str) -> bool:
    """Whether logship's formatter (default rules) redacts the value under key ``name``."""
    hit = _LOGSHIP_KEY_CACHE.get(name)
    if hit is None:
        hit = is_sensitive_key(name)
        if len(_LOGSHIP_KEY_CACHE) > 4096:
            _LOGSHIP_KEY_CACHE.clear()
        _LOGSHIP_KEY_CACHE[name] = hit
    return hit


class Scrubber:
    """Scrubs strings and nested data in place of a copy; counts hits per rule in ``counts``."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        # Strings clean() returned, by id (holding them keeps each id unique): final already.
        self._final: dict[int, str] = {}

    def _hit(self, rule: str, count: int = 1) -> None:
        if count:
            self.counts[rule] = self.counts.get(rule, 0) + count

    def text(self, value: str) -> str:
        """``value`` with every rule applied (logship's :func:`logship.scrub.scrub_text`)."""
        return rules.scrub_text(value, self.counts)

    def clean(self, value: str) -> str:
        """``value`` with every rule applied and then logship's text redaction: final."""
        if value in _CLEAN_CACHE:
            return value
        if _SHIP_TRIGGER.search(value) is None:
            out = value
        else:
            before = len(self.counts), sum(self.counts.values())
            scrubbed = self.text(value)
            out = redact_text(scrubbed)
            if out != scrubbed:
                self._hit("log_redaction")
            if out != value or (len(self.counts), sum(self.counts.values())) != before:
                self._final[id(out)] = out
                return out
        self._final[id(out)] = out
        if len(value) <= _CLEAN_CACHE_CHARS:
            if len(_CLEAN_CACHE) >= _CLEAN_CACHE_MAX:
                _CLEAN_CACHE.clear()
            _CLEAN_CACHE[value] = None
        return out

    def _key(self, key: object) -> tuple[str, bool]:
        """A data key scrubbed (keys are user data too) and whether it names a secret."""
        if type(key) is str:
            known = _KEY_CACHE.get(key)
            if known is not None:
                return known
            name = key
        else:
            name = str(key)
        sensitive = is_sensitive_name(name)
        hits = sum(self.counts.values())
        clean = self.clean(name)
        if clean == name and sum(self.counts.values()) == hits and len(name) <= 128:
            if len(_KEY_CACHE) >= _CLEAN_CACHE_MAX:
                _KEY_CACHE.clear()
            _KEY_CACHE[name] = (name, sensitive)
        return clean, sensitive

    def data(self, value: Any, depth: int = MAX_DEPTH) -> Any:
        """A scrubbed copy of JSON-like ``value`` (dicts, lists, strings, numbers)."""
        kind = type(value)
        if kind is str:
            if value in _CLEAN_CACHE or self._final.get(id(value)) is value:
                return value
            return self.clean(value)
        if kind is int or kind is float or kind is bool or value is None:
            return value
        if depth <= 0 and isinstance(value, Mapping | list | tuple):
            return "[depth]"
        if kind is dict or isinstance(value, Mapping):
            out: dict[str, Any] = {}
            for key, item in value.items():
                known = _KEY_CACHE.get(key) if type(key) is str else None
                name, sensitive = known if known is not None else self._key(key)
                if sensitive:
                    if item not in (None, "", REDACTED):
                        self._hit("sensitive_key")
                    out[name] = REDACTED
                    continue
                leaf = type(item)
                if leaf is str:
                    if item not in _CLEAN_CACHE and self._final.get(id(item)) is not item:
                        item = self.clean(item)
                    out[name] = item
                elif leaf is int or leaf is float or leaf is bool or item is None:
                    out[name] = item
                else:
                    out[name] = self.data(item, depth - 1)
            return out
        if kind is list or isinstance(value, list | tuple):
            return [self.data(item, depth - 1) for item in value]
        if isinstance(value, str):
            return self.clean(str.__str__(value))
        return value

    def event(self, data: dict[str, Any]) -> RedactedData:
        """The final record data: top-level keys under logship's key rule (so our own
        ``session`` stays), everything below under this module's (a superset), every string
        through :meth:`clean`; ``scrubbed`` (the counts) is added last."""
        out: dict[str, Any] = {}
        for key, item in data.items():
            if is_logship_sensitive(key):
                out[key] = REDACTED
            else:
                out[key] = self.data(item)
        out["scrubbed"] = dict(self.counts)
        return RedactedData(out)
