"""Performance settings of the web server: gunicorn without keep-alive (every request goes to a free
worker), thread counts that fit PostgreSQL's connections, and SQLite in write-ahead-log mode."""
from __future__ import annotations

import runpy
from pathlib import Path

import pytest
from django.db import connection

CONF = Path(__file__).resolve().parents[2] / "studyserver" / "gunicorn_conf.py"


def _conf(monkeypatch, **env) -> dict:
    for name in list(__import__("os").environ):
        if name.startswith("GUNICORN_"):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(CONF))


def test_gunicorn_defaults_balance_requests_over_workers(monkeypatch):
    conf = _conf(monkeypatch, DATABASE_URL="postgres://u@db/studyserver")
    assert conf["worker_class"] == "gthread" and conf["keepalive"] == 0
    assert conf["threads"] == 8 and 1 <= conf["workers"] <= 8
    assert conf["worker_connections"] == conf["threads"]  # a busy worker leaves new connections to others
    # One database connection per thread: below PostgreSQL's default max_connections of 100.
    assert conf["workers"] * conf["threads"] < 100


@pytest.mark.parametrize("url", ["", "sqlite:////tmp/db.sqlite3"])
def test_sqlite_gets_fewer_threads_competing_for_its_single_writer(monkeypatch, url):
    assert _conf(monkeypatch, DATABASE_URL=url)["threads"] == 4


def test_gunicorn_settings_come_from_the_environment(monkeypatch):
    conf = _conf(monkeypatch, GUNICORN_KEEPALIVE="5", GUNICORN_THREADS="2", GUNICORN_WORKER_CONNECTIONS="50")
    assert (conf["keepalive"], conf["threads"], conf["worker_connections"]) == (5, 2, 50)


@pytest.mark.django_db
def test_sqlite_databases_open_in_write_ahead_log_mode(tmp_path):
    if connection.vendor != "sqlite":
        pytest.skip("SQLite only")
    from django.db.backends.sqlite3.base import DatabaseWrapper

    assert "journal_mode=wal" in connection.settings_dict["OPTIONS"]["init_command"]
    wrapper = DatabaseWrapper({**connection.settings_dict, "NAME": str(tmp_path / "wal.sqlite3")})
    try:
        with wrapper.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode")
            assert cursor.fetchone()[0] == "wal"
            cursor.execute("PRAGMA synchronous")
            assert cursor.fetchone()[0] == 2  # FULL: durability is not traded for speed
    finally:
        wrapper.close()


WARM_UP_PROBE = """
import json, os, runpy, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studyserver.settings")
import django
django.setup()
runpy.run_path("studyserver/gunicorn_conf.py")["warm_up"]()
print(json.dumps(sorted(m for m in ("torch", "scipy", "matplotlib", "statsmodels", "pandas", "sklearn", "captum")
                        if m in sys.modules)))
"""


def test_the_worker_warm_up_compiles_the_pages_without_loading_torch_or_scipy(tmp_path):
    import json
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-c", WARM_UP_PROBE], cwd=CONF.parents[1], capture_output=True,
                            text=True, timeout=120, env={"PATH": "/usr/bin:/bin", "STUDYSERVER_VAR_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


def test_a_database_the_platform_is_not_built_for_is_refused_at_start():
    import subprocess
    import sys

    probe = "import os; os.environ['DJANGO_SETTINGS_MODULE'] = 'studyserver.settings'; import django; django.setup()"
    env = {**__import__("os").environ, "DATABASE_URL": "mysql://u:p@db/studyserver"}
    result = subprocess.run([sys.executable, "-c", probe], cwd=CONF.parents[1], capture_output=True, text=True,
                            env=env, timeout=120)
    assert result.returncode != 0
    assert "DATABASE_URL must name a SQLite or PostgreSQL database" in result.stderr


def test_a_postgresql_url_runs_on_the_backend_with_the_quiet_health_check():
    import subprocess
    import sys

    probe = ("import os; os.environ['DJANGO_SETTINGS_MODULE'] = 'studyserver.settings'; import django; django.setup(); "
             "from django.db import connections; connection = connections['default']; "
             "print(connection.settings_dict['ENGINE'], connection.vendor, connection.settings_dict['CONN_HEALTH_CHECKS'], "
             "type(connection).__module__)")
    env = {**__import__("os").environ, "DATABASE_URL": "postgres://u@db.invalid:5432/studyserver"}
    env.pop("DATABASE_CONN_HEALTH_CHECKS", None)
    result = subprocess.run([sys.executable, "-c", probe], cwd=CONF.parents[1], capture_output=True, text=True,
                            env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["studyserver.postgresql", "postgresql", "True", "studyserver.postgresql.base"]
