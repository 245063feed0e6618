"""gunicorn configuration of the catalog service (logging only; ``run.py`` passes the rest).

``run.py`` starts gunicorn with ``--config`` pointing here and its own command-line flags
(bind, workers, threads, timeouts, log level), which take precedence over this file.

* Every record, gunicorn's own included, is one JSON object on stdout, in the master and in
  the workers (``logconfig_dict``).
* The CloudWatch handler (``LOG_CLOUDWATCH_GROUP``) is created in each worker after the fork
  (``post_worker_init``), never in the master, and everything it still holds is delivered or
  spooled when the worker exits (``worker_exit``, within ``LOG_SHUTDOWN_TIMEOUT``; keep
  ``--graceful-timeout`` above that plus the time requests need to drain).
* Every variable is checked first, through ``catalog_project.config.CatalogSettings``: a bad
  value stops the master with one line (``catalog: configuration error: ...``) and exit code 2.
* gunicorn's access log stays off: the app writes its own access record per request
  (logger ``catalog.access``, with the request id).
"""

import sys
from pathlib import Path

from logship import gunicorn as logship_gunicorn

if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from catalog_project.config import settings_or_exit  # noqa: E402 - needs the path above

# Every variable is read here once, in the master, by the service's settings model (the one
# catalog_project.settings reads in each worker): a bad value stops gunicorn with one line
# before it prints or forks anything.
_settings = settings_or_exit()

accesslog = None
logconfig_dict = logship_gunicorn.logconfig_dict(
    service=_settings.log_service, environment=_settings.log_environment
)
post_worker_init = logship_gunicorn.post_worker_init
worker_exit = logship_gunicorn.worker_exit
