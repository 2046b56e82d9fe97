"""gunicorn settings of the production setup (``gunicorn -c deploy/gunicorn.conf.py 'app:create_server()'``).

Always behind the nginx front (deploy/nginx/ioc-dashboard.conf): nginx reads slow clients' requests and
buffers answers, so a worker only ever sees complete requests from a local socket. The choices below were
measured on the 2-core reference machine (docs/PRODUCTION.md, "Choosing workers and threads").

Every value can be overridden from the environment (the systemd unit's EnvironmentFile) or the command line.
"""

from __future__ import annotations

import os

# Loopback only: nginx is the one door in.
bind = os.environ.get("IOC_BIND", "127.0.0.1:8000")

# gthread: each worker process answers several requests at once with threads. A callback spends much of
# its time in SQLite/PostgreSQL and Redis, which release the GIL, so threads overlap well; and a worker
# process costs ~150–250 MB (pandas, geopandas, plotly), a thread almost nothing.
worker_class = os.environ.get("IOC_WORKER_CLASS", "gthread")
workers = int(os.environ.get("IOC_WORKERS", "3"))   # 2 cores: cores + 1
threads = int(os.environ.get("IOC_THREADS", "4"))

# A request that takes longer than this has the worker killed and restarted (a hung database call is
# cut earlier by the database statement timeout).
timeout = int(os.environ.get("IOC_WORKER_TIMEOUT", "60"))
graceful_timeout = 30            # on restart/upgrade: finish the requests in flight
# nginx keeps upstream connections open (upstream keepalive, closed by nginx after its 60 s
# keepalive_timeout): gunicorn must keep them longer, or it closes one just as nginx sends a POST on it
# and nginx answers 502 (a POST is never retried). Idle keep-alive connections wait in the worker's
# poller, not in a thread.
keepalive = 75

# Recycle workers now and then so a slow leak (caches, fragmentation) can never grow without bound;
# the jitter keeps them from restarting all at once.
max_requests = int(os.environ.get("IOC_MAX_REQUESTS", "20000"))
max_requests_jitter = 2000

# Each worker imports the app itself (no preload): database pools and the scheduler thread must not be
# shared across fork().
preload_app = False

# Logs: the app writes one JSON line per request (logger ioc.access, with the request id) to stderr, so
# gunicorn's own access log stays off; gunicorn's error log goes through the same JSON formatter.
accesslog = None
errorlog = "-"
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "callbacks.logs.JsonFormatter"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
    "root": {"level": "WARNING", "handlers": []},  # the app adds its own JSON handler (callbacks/logs.py)
    "loggers": {
        "gunicorn.error": {"level": os.environ.get("IOC_LOG_LEVEL", "INFO"), "handlers": ["stderr"], "propagate": False},
        "gunicorn.access": {"level": "WARNING", "handlers": ["stderr"], "propagate": False},
    },
}

# No runtime control socket (systemd starts, reloads and stops it; several instances on one host would
# share its default path).
control_socket_disable = True

# The worker's process title shows in ps/top.
proc_name = "ioc-dashboard"
