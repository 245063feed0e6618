"""Fingerprints that group the same error across releases, users and line shifts."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Final
from urllib.parse import urlsplit

from .stack import Frame

TOP_FRAMES: Final = 3

_UUID: Final = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I)
_QUOTED: Final = re.compile(r"\"[^\"]{0,512}\"|'[^']{0,512}'|`[^`]{0,512}`")
_HEX: Final = re.compile(r"\b0x[0-9a-f]+\b|\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{6,}\b", re.I)
_NUMBER: Final = re.compile(r"\d+(?:\.\d+)?")
_HASHY: Final = re.compile(r"(?<![A-Za-z])[A-Za-z0-9_-]*\d[A-Za-z0-9_-]*(?=\.m?js$)|[0-9a-f]{8,}")
_SPACE: Final = re.compile(r"\s+")


def normalize_message(message: str) -> str:
    """The message with the parts that vary per occurrence masked (uuids, quoted strings,
    hex ids, numbers), whitespace collapsed."""
    text = message[:2048]
    text = _UUID.sub("<uuid>", text)
    text = _QUOTED.sub("<str>", text)
    text = _HEX.sub("<hex>", text)
    text = _NUMBER.sub("<n>", text)
    return _SPACE.sub(" ", text).strip()


def normalize_file(file: str) -> str:
    """A frame file without origin, query or build hashes (chunk names change per build)."""
    if "://" in file:
        try:
            parts = urlsplit(file)
            path = (
                parts.path if parts.scheme in ("http", "https") else f"{parts.scheme}:{parts.path}"
            )
        except ValueError:  # "http://[bad": keep what follows the scheme
            path = file.split("://", 1)[1].split("?", 1)[0].split("#", 1)[0]
    else:
        path = file.split("?", 1)[0].split("#", 1)[0]
    for prefix in ("webpack://_N_E/", "webpack://", "turbopack://"):
        if path.startswith(prefix):
            path = path[len(prefix) :]
    path = path.lstrip("./")
    return _HASHY.sub("<hash>", path)


def frame_key(frame: Frame) -> str:
    """What one frame contributes: function (unless minified) and normalised file."""
    trusted_name = frame.status in ("symbolicated", "not-minified")
    function = frame.function if trusted_name and frame.function else "?"
    return f"{function}@{normalize_file(frame.file or '')}"


def fingerprint(error_type: str, message: str, frames: Sequence[Frame]) -> str:
    """16 hex digits from the type, the normalised message and the top in-app frames."""
    in_app = [f for f in frames if f.file and f.in_app is not False]
    parts = [error_type, normalize_message(message)]
    parts.extend(frame_key(frame) for frame in in_app[:TOP_FRAMES])
    digest = hashlib.sha256("\n".join(parts).encode("utf-8", "replace")).hexdigest()
    return digest[:16]


def csp_fingerprint(directive: str, blocked: str) -> str:
    """16 hex digits from the violated directive and the blocked origin (or keyword)."""
    try:
        parts = urlsplit(blocked) if "://" in blocked else None
    except ValueError:
        parts = None
    target = f"{parts.scheme}://{parts.netloc}" if parts is not None else blocked[:64]
    digest = hashlib.sha256(f"csp\n{directive}\n{target}".encode("utf-8", "replace")).hexdigest()
    return digest[:16]
