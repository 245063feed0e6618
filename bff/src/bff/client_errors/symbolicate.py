"""Source-map symbolication of browser stack frames (``symbolic``'s Rust parser).

Maps live under ``<root>/<release>/<URL path of the script>.map`` in a directory
(``BFF_SOURCEMAPS_DIR``) or under ``<prefix>/<release>/<URL path>.map`` in S3
(``BFF_SOURCEMAPS_S3_URI``). Only scripts on the reporting origin (or relative URLs) under
``/_next/static/`` are looked up, and only through :func:`map_path_for`, so a report can never
name a file outside the maps. Parsed maps are kept per worker in a bounded LRU; missing maps
are remembered for a short time so a burst of reports costs one lookup.
"""

from __future__ import annotations

import logging
import re
import time
from collections import OrderedDict
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any, Final, Protocol
from urllib.parse import urlsplit

from symbolic.sourcemap import SourceMapTokenMatch, SourceMapView

from .stack import Frame

log = logging.getLogger("bff.client_errors.symbolicate")

SAFE_RELEASE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
MAX_MAP_BYTES: Final = 64 * 1024 * 1024
NEGATIVE_TTL_SECONDS: Final = 30.0
_NEGATIVE_MAX: Final = 4096
_STATIC_PATH: Final = re.compile(
    r"^/_next/static/(?:[A-Za-z0-9._~@+-]+/){0,16}[A-Za-z0-9._~@+-]+\.m?js$"
)
_BUNDLER_PREFIX: Final = re.compile(r"^(?:turbopack:///\[project\]/|webpack://[^/]*/(?:\./)?)")
_RUNTIME_SOURCES: Final = ("node_modules/", "webpack/runtime", "webpack/bootstrap", "[turbopack]")
STATUSES: Final = (
    "symbolicated", "no-release", "no-map", "map-unreadable", "not-in-map", "not-minified",
)  # fmt: skip


class MapUnavailable(Exception):
    """The map store could not be asked (an outage): not cached as missing."""


class S3Client(Protocol):
    """The one call :class:`S3Maps` makes on a boto3 S3 client."""

    def get_object(self, *, Bucket: str, Key: str) -> Any:  # noqa: N803 - boto3's names
        """Fetch one object."""


class MapStore(Protocol):
    """Where source maps come from."""

    def fetch(self, release: str, path: str) -> bytes | None:
        """The map's bytes, or None when there is no such map."""


def source_name(source: str) -> str:
    """A map's source as a project path: ``turbopack:///[project]/src/a.tsx`` and
    ``webpack://_N_E/./src/a.tsx`` become ``src/a.tsx``; anything else is kept."""
    return _BUNDLER_PREFIX.sub("", source, count=1) or source


def is_safe_release(release: str | None) -> bool:
    """Whether ``release`` is a safe path token (a Next.js build id is)."""
    return release is not None and SAFE_RELEASE.match(release) is not None and ".." not in release


_SPLITS: dict[str, tuple[str, str, str]] = {}
_SPLITS_MAX: Final = 4096


def _split(file_url: str) -> tuple[str, str, str]:
    """``(scheme, netloc, path)`` of a URL (remembered: frame URLs repeat); a URL that does
    not parse (``http://[bad``) gives the scheme ``invalid``, which is never an origin."""
    known = _SPLITS.get(file_url)
    if known is None:
        try:
            parts = urlsplit(file_url)
            known = (parts.scheme, parts.netloc, parts.path)
        except ValueError:
            known = ("invalid", "", "")
        if len(_SPLITS) >= _SPLITS_MAX:
            _SPLITS.clear()
        _SPLITS[file_url] = known
    return known


def map_path_for(file_url: str, origins: Collection[str]) -> str | None:
    """``_next/static/...js.map`` for a script URL on one of ``origins`` (or relative), or None.

    The rule: http(s) URL whose ``scheme://host[:port]`` is in ``origins``, or a path starting
    with ``/``; the path, without query or fragment, matches ``/_next/static/<segments>.js``
    with only ``[A-Za-z0-9._~@+-]`` in segments, and no segment is ``.`` or ``..``.
    """
    if "\\" in file_url or "%" in file_url or len(file_url) > 2048:
        return None
    scheme, netloc, path = _split(file_url)
    if scheme or netloc:
        if scheme not in ("http", "https") or f"{scheme}://{netloc}" not in origins:
            return None
    if not _STATIC_PATH.match(path):
        return None
    if any(segment in (".", "..") for segment in path.split("/")):
        return None
    return path[1:] + ".map"


def frame_status_for_path(file_url: str, origins: Collection[str]) -> str:
    """For a frame with no map path: ``not-minified`` for on-origin non-bundle URLs, else
    ``no-map``."""
    scheme, netloc, _ = _split(file_url)
    on_origin = not (scheme or netloc) or f"{scheme}://{netloc}" in origins
    return "not-minified" if on_origin else "no-map"


class DirectoryMaps:
    """Maps from a directory: ``<root>/<release>/<path>``, resolved strictly under root."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()

    def fetch(self, release: str, path: str) -> bytes | None:
        """The map's bytes, or None when missing (or when the path would leave the root)."""
        candidate = (self.root / release / path).resolve()
        if not candidate.is_relative_to(self.root) or not candidate.is_file():
            return None
        try:
            with candidate.open("rb") as handle:
                data = handle.read(MAX_MAP_BYTES + 1)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise MapUnavailable(str(exc)) from exc
        return data if len(data) <= MAX_MAP_BYTES else b""


class S3Maps:
    """Maps from S3: ``s3://bucket/prefix`` with keys ``<prefix>/<release>/<path>``."""

    def __init__(self, client: S3Client, uri: str) -> None:
        parts = urlsplit(uri)
        if parts.scheme != "s3" or not parts.netloc:
            raise ValueError(f"not an s3://bucket/prefix URI: {uri!r}")
        self.client = client
        self.bucket = parts.netloc
        self.prefix = parts.path.strip("/")

    def key(self, release: str, path: str) -> str:
        """The object key of a map."""
        return "/".join(p for p in (self.prefix, release, path) if p)

    def fetch(self, release: str, path: str) -> bytes | None:
        """The map's bytes, or None when there is no such object."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self.key(release, path))
            if response.get("ContentLength", 0) > MAX_MAP_BYTES:
                return b""
            body: bytes = response["Body"].read(MAX_MAP_BYTES + 1)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in ("NoSuchKey", "404", "NotFound"):
                return None
            raise MapUnavailable(code) from exc
        except BotoCoreError as exc:
            raise MapUnavailable(type(exc).__name__) from exc
        return body if len(body) <= MAX_MAP_BYTES else b""


class _Unreadable:
    """Cache marker for a map that exists but does not parse."""


_UNREADABLE: Final = _Unreadable()


class SourceMaps:
    """Per-worker cache of parsed maps in front of a :class:`MapStore`."""

    def __init__(
        self,
        store: MapStore,
        *,
        max_maps: int = 64,
        max_bytes: int = 64 * 1024 * 1024,
        negative_ttl: float = NEGATIVE_TTL_SECONDS,
        clock: Any = time.monotonic,
    ) -> None:
        self.store = store
        self.max_maps = max_maps
        self.max_bytes = max_bytes
        self.negative_ttl = negative_ttl
        self.clock = clock
        self._maps: OrderedDict[tuple[str, str], tuple[SourceMapView | _Unreadable, int]] = (
            OrderedDict()
        )
        self._bytes = 0
        self._missing: OrderedDict[tuple[str, str], float] = OrderedDict()
        self.stats: dict[str, int] = {"hits": 0, "loads": 0, "missing": 0, "evicted": 0}

    def cached(self) -> dict[str, int]:
        """Cache occupancy (maps, bytes) and counters."""
        return {"maps": len(self._maps), "bytes": self._bytes, **self.stats}

    def get(self, release: str, path: str) -> SourceMapView | str:
        """The parsed map, or a frame status: ``no-map`` or ``map-unreadable``."""
        key = (release, path)
        entry = self._maps.get(key)
        if entry is not None:
            self._maps.move_to_end(key)
            self.stats["hits"] += 1
            return entry[0] if isinstance(entry[0], SourceMapView) else "map-unreadable"
        expiry = self._missing.get(key)
        now = self.clock()
        if expiry is not None:
            if expiry > now:
                self.stats["hits"] += 1
                return "no-map"
            del self._missing[key]
        try:
            data = self.store.fetch(release, path)
        except MapUnavailable as exc:
            log.warning("source map store unavailable: %s", exc)
            self._remember_missing(key, now, self.negative_ttl / 6)
            return "no-map"
        if data is None:
            self.stats["missing"] += 1
            self._remember_missing(key, now, self.negative_ttl)
            return "no-map"
        self.stats["loads"] += 1
        view: SourceMapView | _Unreadable
        try:
            view = SourceMapView.from_json_bytes(data) if data else _UNREADABLE
        except Exception:  # noqa: BLE001 - symbolic raises its own error types for bad maps
            view = _UNREADABLE
        size = max(len(data), 1)
        self._store(key, view, size)
        return view if isinstance(view, SourceMapView) else "map-unreadable"

    def _remember_missing(self, key: tuple[str, str], now: float, ttl: float) -> None:
        self._missing[key] = now + ttl
        self._missing.move_to_end(key)
        while len(self._missing) > _NEGATIVE_MAX:
            self._missing.popitem(last=False)

    def _store(self, key: tuple[str, str], view: SourceMapView | _Unreadable, size: int) -> None:
        if size > self.max_bytes:
            return
        self._maps[key] = (view, size)
        self._bytes += size
        while len(self._maps) > self.max_maps or self._bytes > self.max_bytes:
            _, (_, evicted) = self._maps.popitem(last=False)
            self._bytes -= evicted
            self.stats["evicted"] += 1


def _is_runtime_source(source: str) -> bool:
    return any(marker in source for marker in _RUNTIME_SOURCES)


class Symbolicator:
    """Rewrites frames to original files, lines and names; sets each frame's ``status``."""

    def __init__(self, maps: SourceMaps | None) -> None:
        self.maps = maps

    def symbolicate(
        self, frames: Sequence[Frame], release: str | None, origins: Collection[str]
    ) -> None:
        """Symbolicate ``frames`` (innermost first) in place."""
        tokens: list[SourceMapTokenMatch | None] = []
        for frame in frames:
            tokens.append(self._frame(frame, release, origins))
        for index, (frame, token) in enumerate(zip(frames, tokens, strict=True)):
            if token is None:
                continue
            # The caller's call-site token names the function that frame ``index`` runs.
            caller = tokens[index + 1] if index + 1 < len(tokens) else None
            name = caller.name if caller is not None and caller.name else None
            frame.minified = {"file": frame.file, "line": frame.line, "column": frame.column}
            if name:
                frame.function = name
            frame.file = source_name(token.src) if token.src else frame.file
            frame.line = token.src_line + 1
            frame.column = token.src_col + 1
            frame.in_app = not _is_runtime_source(frame.file or "")
            frame.status = "symbolicated"

    def _frame(
        self, frame: Frame, release: str | None, origins: Collection[str]
    ) -> SourceMapTokenMatch | None:
        if not frame.file or frame.line is None or frame.column is None:
            frame.status = "not-minified"
            return None
        path = map_path_for(frame.file, origins)
        if path is None:
            frame.status = frame_status_for_path(frame.file, origins)
            if frame.in_app is None:
                frame.in_app = frame.status == "not-minified"
            return None
        if frame.in_app is None:
            frame.in_app = True
        if release is None or not is_safe_release(release):
            frame.status = "no-release"
            return None
        if self.maps is None:
            frame.status = "no-map"
            return None
        view = self.maps.get(release, path)
        if isinstance(view, str):
            frame.status = view
            return None
        line, column = frame.line - 1, frame.column - 1
        token = view.lookup(line, column) if line >= 0 and column >= 0 else None
        if token is None or token.dst_line != line:
            frame.status = "not-in-map"
            return None
        return token
