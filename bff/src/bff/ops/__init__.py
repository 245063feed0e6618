"""The ops API behind the site's ``/ops`` page, one module per concern:

* ``blueprint``: the blueprint, its access rule (``BFF_OPS_TOKEN``) and shared responses;
* ``summary``: upstream health, log shipping counters, version;
* ``groups``: error groups from the index (list, one group, resolve and reopen);
* ``incidents``: one incident and the server records of its failed requests (CloudWatch);
* ``traffic``: requests and client errors per minute, from the index;
* ``logs``: bounded CloudWatch Logs reads; ``cache``: a short per-worker answer cache.
"""

from __future__ import annotations

import os

from flask import Flask
from flask.blueprints import BlueprintSetupState

from . import groups, incidents, summary, traffic
from .blueprint import bp, iso_ms, token_matches
from .cache import EXTENSION_KEY as CACHE_KEY
from .incidents import MAX_RELATED_IDS, failed_request_ids, related_records, request_id_filter
from .logs import EXTENSION_KEY as LOGS_KEY
from .logs import (
    MAX_PAGES,
    LogsClient,
    LogsSource,
    LogsUnavailable,
    logs_source_from_env,
    scan_events,
)

__all__ = [
    "MAX_PAGES",
    "MAX_RELATED_IDS",
    "LogsClient",
    "LogsSource",
    "LogsUnavailable",
    "bp",
    "failed_request_ids",
    "groups",
    "incidents",
    "init_app",
    "iso_ms",
    "related_records",
    "request_id_filter",
    "scan_events",
    "summary",
    "token_matches",
    "traffic",
]


@bp.record_once
def _install(state: BlueprintSetupState) -> None:
    state.app.extensions.setdefault(LOGS_KEY, logs_source_from_env(os.environ))
    state.app.extensions.setdefault(CACHE_KEY, {})


def init_app(app: Flask, source: LogsSource) -> None:
    """Read logs through ``source`` instead of the one built from ``LOG_CLOUDWATCH_*``."""
    app.extensions[LOGS_KEY] = source
    app.extensions[CACHE_KEY] = {}
