"""The BFF without the error-group index (rate limits unchanged), for bench/ops's ingest cost
comparison only: ``gunicorn --pythonpath bench/ops 'noindex:create_app()'``."""

from __future__ import annotations

from flask import Flask

from bff import create_app as create_bff


def create_app() -> Flask:
    """The production app with its ingest's index feed removed."""
    app = create_bff()
    app.extensions["bff.client_errors"].index = None
    return app
