"""Structured JSON logging to stdout and CloudWatch Logs.

Modules: :mod:`logship.formatter` (JSON records), :mod:`logship.context` (request ids),
:mod:`logship.redact` (secrets), :mod:`logship.cloudwatch` (the handler),
:mod:`logship.setup` (``configure``), :mod:`logship.config` (``LOG_*`` variables),
:mod:`logship.gunicorn`, :mod:`logship.django`, :mod:`logship.asgi` (integrations).
"""

from __future__ import annotations

from .context import bind, current
from .formatter import JsonFormatter

__version__ = "0.1.0"

__all__ = ["JsonFormatter", "__version__", "bind", "current"]
