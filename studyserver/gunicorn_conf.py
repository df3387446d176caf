"""gunicorn settings for the participant-facing web server.

    python -m gunicorn -c studyserver/gunicorn_conf.py studyserver.wsgi:application

Every value can be overridden from the environment (GUNICORN_<NAME>) or on the command line. The limits
below are the ones docs/RELIABILITY.md promises: a request (or a stuck worker) is cut off after `timeout`
seconds and the worker replaced; request lines, header counts and header sizes are bounded; bodies are
bounded by Django's DATA_UPLOAD_MAX_MEMORY_SIZE. Slow clients (slowloris) are the reverse proxy's job:
gunicorn's own docs require a buffering proxy in front of sync/gthread workers (see RELIABILITY.md for the
nginx settings).
"""
from __future__ import annotations

import multiprocessing
import os
import sys


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    return int(raw) if raw.strip() else default


bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# One worker process per core, threads within each to overlap the database round trips. A participant page
# is mostly Python (ORM, templates) under each process's GIL, so more processes than cores only add context
# switches: bench/flow on a quiet 2-core machine (200 participants, 50 at a time, PostgreSQL) served 20-23
# participants/s at page p95 520-600 ms with 5 workers x 8 threads, 25-26/s at p95 235-245 ms with 2 x 8;
# on SQLite 24-25/s at p95 340-390 ms with 5 x 4, 26-27/s at p95 245 ms with 2 x 4 (docs/BENCHMARKS.md).
# On PostgreSQL eight threads per worker: pages wait for the database. Each thread holds one database
# connection (DATABASE_CONN_MAX_AGE): workers x threads must stay below the database's max_connections
# (PostgreSQL: 100). SQLite has one writer at a time, and a writer waiting in SQLite's busy handler loses its
# turn to newer ones: with 40 threads one POST waited past the 20 s lock timeout, so four threads there.
_database_url = os.environ.get("DATABASE_URL", "").strip().lower()
_sqlite = not _database_url or _database_url.startswith("sqlite")  # unset: the embedded SQLite default
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
workers = _env_int("GUNICORN_WORKERS", min(max(multiprocessing.cpu_count(), 2), 8))
threads = _env_int("GUNICORN_THREADS", 4 if _sqlite else 8)
# A worker accepts a connection only while one of its threads is free; the rest wait in the kernel's
# listen queue, first come first served, for the next free worker (gunicorn's default of 1000 lets a busy
# worker take connections it queues behind its threads: in bench/flow the pages after the first wave had
# p95 1.5-2.3 s that way, 0.8-1.7 s this way).
worker_connections = _env_int("GUNICORN_WORKER_CONNECTIONS", threads)
# A participant page takes milliseconds; 30 s means something is stuck: kill and replace the worker.
timeout = _env_int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _env_int("GUNICORN_GRACEFUL_TIMEOUT", 30)
# No keep-alive: a kept-alive connection pins its client to one worker, so under load some workers queue
# requests while others idle (bench/flow, 50 clients on 5 x 4: p95 4.0 s with keep-alive, 2.2 s without).
# Each request is accepted afresh by whichever worker is free. The reverse proxy in front (RELIABILITY.md)
# keeps browsers' connections alive and talks to gunicorn without keep-alive anyway (nginx's default).
keepalive = _env_int("GUNICORN_KEEPALIVE", 0)
# Request-line and header limits (gunicorn's defaults, stated so they are reviewed, not assumed).
limit_request_line = _env_int("GUNICORN_LIMIT_REQUEST_LINE", 4094)
limit_request_fields = _env_int("GUNICORN_LIMIT_REQUEST_FIELDS", 100)
limit_request_field_size = _env_int("GUNICORN_LIMIT_REQUEST_FIELD_SIZE", 8190)
# Recycle workers now and then so a slow leak can never take a launch day down.
max_requests = _env_int("GUNICORN_MAX_REQUESTS", 2000)
max_requests_jitter = _env_int("GUNICORN_MAX_REQUESTS_JITTER", 200)
accesslog = os.environ.get("GUNICORN_ACCESSLOG") or None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "info")


#: Templates of the participant pages, compiled by every worker before it takes its first request.
WARM_TEMPLATES = ("studies/consent.html", "studies/instructions.html", "studies/questions.html",
                  "studies/complete.html", "studies/message.html", "studies/declined.html",
                  "explainers/grid_stimulus.html")


def warm_up() -> None:
    """Do at boot what a worker's first requests would otherwise do under load: import the URLconf (and with
    it every view module) and compile the participant templates. Measured cold, the first requests of fresh
    workers took 5 s each while 50 participants arrived (bench/flow); the same happens after every recycle
    (max_requests) on a live study."""
    from django.template.loader import get_template
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - the property imports the URLconf
    for name in WARM_TEMPLATES:
        get_template(name)


def post_worker_init(worker) -> None:
    import time

    started = time.monotonic()
    warm_up()
    # bench/load.py waits for this line from every worker before it starts the load.
    worker.log.info("worker %s warmed up in %.2f s", worker.pid, time.monotonic() - started)
    # Web workers must never load torch (hundreds of MB per worker); only Celery workers on the gpu queue do.
    if "torch" in sys.modules:
        worker.log.warning("torch was imported into web worker %s: some import chain is not lazy", worker.pid)
