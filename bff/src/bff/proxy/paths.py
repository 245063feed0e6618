"""Path canonicalisation: a proxied path can never leave its route's upstream prefix."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, unquote_to_bytes, urlsplit

# RFC 3986 pchar minus "%": what may stay literal in a path segment we send upstream.
_SEGMENT_SAFE = "!$&'()*+,;=:@-._~"
_HEX = frozenset("0123456789abcdefABCDEF")
_FORBIDDEN_DECODED = frozenset(b"/\\") | frozenset(range(0x20)) | {0x7F}


class PathRejected(ValueError):
    """The request path is hostile or malformed; the message says why (safe to show)."""


def raw_request_path(environ: Mapping[str, Any]) -> str:
    """Return the path exactly as the client sent it (percent-encoding intact), without query."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if not isinstance(raw, str) or not raw:
        path_info = environ.get("PATH_INFO", "")
        return quote(path_info.encode("latin-1"), safe="/" + _SEGMENT_SAFE + "%")
    if not raw.startswith("/"):
        # absolute-form ("GET http://host/path"): the host part is ignored, never contacted.
        raw = urlsplit(raw).path or "/"
    end = len(raw)
    for mark in ("?", "#"):
        i = raw.find(mark)
        if i != -1 and i < end:
            end = i
    return raw[:end]


def _check_escapes(segment: str) -> None:
    i = segment.find("%")
    while i != -1:
        pair = segment[i + 1 : i + 3]
        if len(pair) != 2 or not set(pair) <= _HEX:
            raise PathRejected("malformed percent-encoding in path")
        i = segment.find("%", i + 3)


def rebase_path(raw_path: str, prefix: str, target_prefix: str) -> str:
    """Map ``prefix + rest`` onto ``target_prefix + rest``, refusing anything that could escape.

    Rules: ``rest`` must be empty or start with "/"; no empty segment ("//") except a trailing
    slash; no segment that decodes to "." or ".."; no backslash; no encoded "/" or "\\", no
    control characters, no malformed escapes. Each segment is decoded once and re-encoded in one
    canonical form, so the upstream decodes exactly what was checked here.
    """
    if not raw_path.startswith(prefix):
        raise PathRejected("path is outside the route prefix")
    rest = raw_path[len(prefix) :]
    if not rest:
        return target_prefix or "/"
    if rest[0] != "/":
        raise PathRejected("path is outside the route prefix")
    if "\\" in rest:
        raise PathRejected("backslash in path")
    segments = rest[1:].split("/")
    trailing = segments[-1] == ""
    if trailing:
        segments.pop()
    out: list[str] = []
    for segment in segments:
        if segment == "":
            raise PathRejected("empty path segment ('//')")
        if "%" in segment:
            _check_escapes(segment)
            decoded = unquote_to_bytes(segment)
        else:
            decoded = segment.encode("latin-1", "strict") if segment.isascii() else b""
            if not decoded:
                raise PathRejected("non-ASCII character in path")
        if decoded in (b".", b".."):
            raise PathRejected("dot segment in path")
        if not _FORBIDDEN_DECODED.isdisjoint(decoded):
            raise PathRejected("encoded slash, backslash or control character in path")
        out.append(quote(decoded, safe=_SEGMENT_SAFE))
    path = target_prefix + "/" + "/".join(out)
    if trailing and out:
        path += "/"
    return path
