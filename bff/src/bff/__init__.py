"""The backend-for-frontend: a same-origin proxy for the Django and FastAPI APIs."""

from __future__ import annotations

import os

from flask import Flask

from .settings import Settings, SettingsError, load_settings

__all__ = ["Settings", "SettingsError", "create_app", "load_settings"]


def create_app(settings: Settings | None = None) -> Flask:
    """Build the BFF application; settings come from ``BFF_*`` variables unless given."""
    from werkzeug.middleware.proxy_fix import ProxyFix

    from . import errors, health, internal, openapi
    from .proxy.app import ProxyApp
    from .proxy.pool import UpstreamClients

    if settings is None:
        settings = load_settings(os.environ)
    app = Flask(__name__)
    # No redirects built from the client's Host ("/api//x" would answer 308 with an absolute
    # Location on whatever host the client named): a path that is not canonical is a 404.
    app.url_map.merge_slashes = False
    app.config["BFF_SETTINGS"] = settings
    app.json.sort_keys = False  # type: ignore[attr-defined]
    clients = UpstreamClients(settings)
    app.extensions["bff.clients"] = clients

    errors.init_app(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(internal.bp)
    from . import client_errors, vitals

    client_errors.init_app(app, settings.client_errors)
    vitals.init_app(app)
    from . import ops

    app.register_blueprint(ops.bp)
    from . import metrics

    metrics.init_app(app, settings, clients)

    wsgi = ProxyApp(settings, app.wsgi_app, clients)
    app.extensions["bff.proxy"] = wsgi
    if settings.trusted_proxies:
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(wsgi, x_for=n, x_proto=n, x_host=n, x_port=n)  # type: ignore[method-assign]
    else:
        app.wsgi_app = wsgi  # type: ignore[method-assign]
    return app
