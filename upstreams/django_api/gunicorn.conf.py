"""gunicorn configuration of the catalog service (logging only; ``run.py`` passes the rest).

``run.py`` starts gunicorn with ``--config`` pointing here and its own command-line flags
(bind, workers, threads, timeouts, log level), which take precedence over this file.

* Every record, gunicorn's own included, is one JSON object on stdout, in the master and in
  the workers (``logconfig_dict``).
* The CloudWatch handler (``LOG_CLOUDWATCH_GROUP``) is created in each worker after the fork
  (``post_worker_init``), never in the master, and everything it still holds is delivered or
  spooled when the worker exits (``worker_exit``, within ``LOG_SHUTDOWN_TIMEOUT``; keep
  ``--graceful-timeout`` above that plus the time requests need to drain).
* gunicorn's access log stays off: the app writes its own access record per request
  (logger ``catalog.access``, with the request id).
"""

import os

from logship import gunicorn as logship_gunicorn

accesslog = None
logconfig_dict = logship_gunicorn.logconfig_dict(
    service=os.environ.get("LOG_SERVICE", "").strip() or "catalog",
    environment=os.environ.get("LOG_ENVIRONMENT", "").strip() or "development",
)
post_worker_init = logship_gunicorn.post_worker_init
worker_exit = logship_gunicorn.worker_exit
