"""Client-side error ingest: our reports, Sentry envelopes, CSP and Reporting API reports.

Parsing (``report``, ``envelope``, ``reports``, ``stack``), processing (``noise``, ``scrub``,
``symbolicate``, ``fingerprint``), the event shape (``events``) and the endpoints (``ingest``).
"""

from __future__ import annotations

from .ingest import LOGGER_NAME, ClientErrorIngest, bp, init_app

__all__ = ["LOGGER_NAME", "ClientErrorIngest", "bp", "init_app"]
