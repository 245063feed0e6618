"""Parse ``Error.stack`` strings from Chrome/V8, Firefox and Safari into frames."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Final

from ..schemas.ingest import MAX_FRAMES, MAX_STACK_CHARS

_MAX_FIELD: Final = 1024

# V8: "    at fn (url:1:2)", "    at url:1:2", "    at async fn (url:1:2)", "    at new C (...)"
_V8: Final = re.compile(r"^\s*at (?:(?P<func>[^()]*?|.*?\S) \((?P<loc>.*)\)|(?P<bare>\S.*))$")
# Firefox and Safari: "fn@url:1:2", "@url:1:2", "fn/<@url:1:2", "global code@url:1:2"
_GECKO: Final = re.compile(r"^\s*(?P<func>[^@\s(]*(?:[ /<][^@(]*)?)@(?P<loc>\S.*)$")
# Safari anonymous frames are a bare location: "https://host/app.js:1:2"
_BARE: Final = re.compile(r"^\s*(?P<loc>[a-z][a-z0-9+.-]*://\S+:\d+(?::\d+)?)\s*$", re.I)
_LOCATION: Final = re.compile(r"^(?P<file>.*?):(?P<line>\d{1,9})(?::(?P<col>\d{1,9}))?$")
_EVAL: Final = re.compile(r"\((?P<loc>[^()]*:\d+:\d+)\)")


@dataclass(slots=True)
class Frame:
    """One stack frame, innermost first; lines and columns are 1-based as browsers print them."""

    function: str | None
    file: str | None
    line: int | None
    column: int | None
    in_app: bool | None = None
    status: str = "no-map"
    minified: dict[str, Any] | None = field(default=None)

    def as_dict(self) -> dict[str, Any]:
        """The frame in the event schema."""
        out: dict[str, Any] = {
            "function": self.function,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "status": self.status,
        }
        if self.minified is not None:
            out["minified"] = self.minified
        return out


def _clip(text: str | None) -> str | None:
    if text is None:
        return None
    text = text.strip()
    return text[:_MAX_FIELD] or None


def _location(loc: str) -> tuple[str | None, int | None, int | None]:
    loc = loc.strip()
    if loc.startswith("eval at "):
        inner = _EVAL.findall(loc)
        if inner:
            loc = inner[-1]
    match = _LOCATION.match(loc)
    if match is None:
        return _clip(loc), None, None
    col = match.group("col")
    return _clip(match.group("file")), int(match.group("line")), int(col) if col else None


def _function(name: str | None) -> str | None:
    if name is None:
        return None
    name = name.strip()
    if name.startswith("async "):
        name = name[6:]
    if name in ("", "<anonymous>", "global code", "eval code", "module code"):
        return None
    return _clip(name)


_PARSED: dict[str, tuple[str | None, str | None, int | None, int | None] | None] = {}
_PARSED_MAX: Final = 4096
_PARSED_CHARS: Final = 512


def parse_line(line: str) -> Frame | None:
    """One frame from one stack line, or None when the line is not a frame."""
    # The same lines arrive again and again (one error, many browsers): remember short ones.
    if line in _PARSED:
        known = _PARSED[line]
        return Frame(*known) if known is not None else None
    frame = _parse_line(line)
    if len(line) <= _PARSED_CHARS:
        if len(_PARSED) >= _PARSED_MAX:
            _PARSED.clear()
        _PARSED[line] = (
            (frame.function, frame.file, frame.line, frame.column) if frame is not None else None
        )
    return frame


def _parse_line(line: str) -> Frame | None:
    if len(line) > 4 * _MAX_FIELD:
        return None
    match = _V8.match(line)
    if match is not None:
        loc = match.group("loc")
        if loc is None:
            loc = match.group("bare")
            func = None
        else:
            func = _function(match.group("func"))
        if loc in ("native", "<anonymous>") or loc.startswith("index "):
            return Frame(func, None, None, None)
        file, lineno, col = _location(loc)
        return Frame(func, file, lineno, col)
    match = _GECKO.match(line)
    if match is not None:
        loc = match.group("loc")
        if loc == "[native code]":
            return Frame(_function(match.group("func")), None, None, None)
        file, lineno, col = _location(loc)
        if lineno is None:
            return None
        return Frame(_function(match.group("func")), file, lineno, col)
    match = _BARE.match(line)
    if match is not None:
        file, lineno, col = _location(match.group("loc"))
        return Frame(None, file, lineno, col)
    if line.strip() == "[native code]":
        return Frame(None, None, None, None)
    return None


def parse_stack(stack: str | None) -> list[Frame]:
    """Frames of a raw ``Error.stack`` string (innermost first, at most :data:`MAX_FRAMES`).

    Lines that are not frames (the message, which V8 repeats first) are skipped.
    """
    if not stack:
        return []
    frames: list[Frame] = []
    for line in stack[:MAX_STACK_CHARS].splitlines():
        frame = parse_line(line)
        if frame is not None:
            frames.append(frame)
            if len(frames) >= MAX_FRAMES:
                break
    return frames
