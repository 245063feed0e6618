"""Known browser noise: accepted (202) and counted by reason, never logged as an error."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from .stack import Frame

EXTENSION_SCHEMES: Final = (
    "chrome-extension://", "moz-extension://", "safari-extension://",
    "safari-web-extension://", "ms-browser-extension://", "extension://", "webkit-masked-url://",
)  # fmt: skip
_RESIZE_OBSERVER: Final = re.compile(
    r"ResizeObserver loop (limit exceeded|completed with undelivered notifications)"
)
_SCRIPT_ERROR: Final = re.compile(r"^\s*Script error\.?\s*$", re.I)


def is_extension_url(url: str | None) -> bool:
    """Whether ``url`` belongs to a browser extension."""
    return bool(url) and url.lower().startswith(EXTENSION_SCHEMES)  # type: ignore[union-attr]


def noise_reason(message: str, frames: Sequence[Frame]) -> str | None:
    """Why an error is noise (``resize_observer``, ``script_error``, ``extension``), or None."""
    if _RESIZE_OBSERVER.search(message) is not None:
        return "resize_observer"
    located = [frame for frame in frames if frame.file]
    if not located and _SCRIPT_ERROR.match(message) is not None:
        return "script_error"
    if located and is_extension_url(located[0].file):
        return "extension"
    return None


def csp_noise_reason(blocked: str | None, source_file: str | None) -> str | None:
    """Why a CSP violation is noise (an extension injected it), or None."""
    if is_extension_url(blocked) or is_extension_url(source_file):
        return "extension"
    return None
