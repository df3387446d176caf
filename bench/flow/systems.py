"""The systems under test, one at a time on a free local port: this platform under gunicorn (SQLite or
PostgreSQL, its study built by `manage.py demo`) and `otree prodserver`; the memory of their web workers."""
from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from bench.flow import (BENCH_DIR, ITEM_FIELD_PREFIX, OTREE_APP, OTREE_APP_SOURCE, OTREE_REQUIREMENT,
                        PLATFORM_ENTRY_QUERY, REPO_ROOT)
from bench.flow.client import RunResult, drive

if TYPE_CHECKING:
    from bench.load import Server

# --- memory of the web workers under load ------------------------------------------------------------------


class MemorySampler:
    """Peak and last VmRSS per web worker, sampled every `interval` seconds while the load runs."""

    def __init__(self, worker_pids, interval: float = 0.5) -> None:
        self._worker_pids = worker_pids
        self._interval = interval
        self.peak: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.torch: dict[int, bool] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self._interval)

    def sample(self) -> None:
        from bench.load import process_memory

        for pid in self._worker_pids():
            try:
                rss, torch_mapped = process_memory(pid)
            except OSError:  # a worker that just exited
                continue
            self.peak[pid] = max(self.peak.get(pid, 0.0), rss)
            self.last[pid] = rss
            self.torch[pid] = self.torch.get(pid, False) or torch_mapped

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()


# --- the systems under test ----------------------------------------------------------------------------------


@dataclass
class SystemRun:
    name: str
    description: str
    result: RunResult
    memory: MemorySampler
    checks: dict
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]


def _run(command: list[str], *, env: dict[str, str], cwd: Path = REPO_ROOT, log: Path, timeout: float = 3600):
    with open(log, "a") as out:
        out.write(f"\n$ {' '.join(command)}\n")
        out.flush()
        completed = subprocess.run(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=timeout)
    if completed.returncode:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-25:])
        raise RuntimeError(f"{' '.join(command[:4])} failed with exit code {completed.returncode}:\n{tail}")


def _manage_shell(code: str, *, env: dict[str, str], log: Path) -> dict:
    """Run `code` in `manage.py shell` (Django set up with `env`); returns the JSON it prints last."""
    out_path = BENCH_DIR / f"shell-{os.getpid()}-{time.monotonic_ns()}.json"
    script = f"import json, sys\nsys.path.insert(0, {str(REPO_ROOT)!r})\n{code}\n"
    env = {**env, "BENCH_FLOW_OUT": str(out_path)}
    _run([sys.executable, "manage.py", "shell", "-c", script], env=env, log=log)
    try:
        return json.loads(out_path.read_text())
    finally:
        out_path.unlink(missing_ok=True)


def _gunicorn_conf(env: dict[str, str]) -> dict:
    """studyserver/gunicorn_conf.py as the server reads it: with the server's environment (its defaults
    depend on DATABASE_URL)."""
    import runpy

    saved = dict(os.environ)
    try:
        os.environ.clear()
        os.environ.update(env)
        return runpy.run_path(str(REPO_ROOT / "studyserver" / "gunicorn_conf.py"))
    finally:
        os.environ.clear()
        os.environ.update(saved)


class PlatformSystem:
    """This platform under gunicorn, its study built by `manage.py demo` in a database of its own."""

    def __init__(self, name: str, *, preset: str, admin_database_url: str) -> None:
        from bench import load

        self.name = name
        self.preset = preset
        self.dir = BENCH_DIR / f"platform-{name}"
        self.log = BENCH_DIR / f"platform-{name}.log"
        self.admin_database_url = admin_database_url
        self.database_name = ""
        if name == "postgres":
            self.database_name = f"studyserver_bench_{os.getpid()}"
            self.database_url = load._database_url(admin_database_url, self.database_name)
        else:
            self.database_url = f"sqlite:///{self.dir / 'db.sqlite3'}"
        artifacts = os.environ.get("STUDYSERVER_ARTIFACTS") or str(REPO_ROOT / "var" / "artifacts")
        self.env = load.server_env(self.database_url, str(self.dir / "media"), STUDYSERVER_VAR_DIR=str(self.dir),
                                   STUDYSERVER_ARTIFACTS=artifacts, PYTHONPATH=str(REPO_ROOT))
        self.env.pop("CELERY_BROKER_URL", None)  # eager tasks: the build runs in the command
        self.slug = ""
        self.study: dict = {}

    def build(self) -> dict:
        from bench import load

        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True)
        self.log.write_text("")
        if self.database_name:
            load._create_database(self.admin_database_url, self.database_name)
        command = [sys.executable, "manage.py", "demo", "--no-serve"] + (["--quick"] if self.preset == "quick" else [])
        # One torch thread: on a machine shared with other jobs two threads wait for each other and train
        # many times slower (measured: 300 quick-preset steps in 30 s instead of about 12 min).
        _run(command, env={"OMP_NUM_THREADS": "1", **self.env}, log=self.log)
        self.study = _manage_shell("from bench.flow.platform_shell import platform_prepare_for_load; platform_prepare_for_load()",
                                   env=self.env, log=self.log)
        self.slug = self.study["slug"]
        return self.study

    def hints(self) -> dict[str, str]:
        key, expected = self.study["attention_check"]
        return {ITEM_FIELD_PREFIX + key: str(expected)}

    @contextmanager
    def serving(self, **extra_env: str) -> Iterator[tuple[Server, dict]]:
        """gunicorn on the study with studyserver/gunicorn_conf.py as it reads this environment (plus
        ``extra_env``): yields the running server and the configuration it was started with."""
        from bench import load

        env = {**self.env, **extra_env}
        conf = _gunicorn_conf(env)
        with load.gunicorn(env=env, workers=conf["workers"], threads=conf["threads"],
                           worker_class=conf["worker_class"], timeout=conf["timeout"], log_dir=self.dir) as server:
            yield server, conf

    def entry_url(self, server) -> str:
        return f"{server.base_url}/s/{self.slug}/{PLATFORM_ENTRY_QUERY}"

    def serve_and_drive(self, **drive_options) -> SystemRun:
        before = os.getloadavg()
        with self.serving() as (server, conf):
            with MemorySampler(server.worker_pids) as memory:
                result = drive(entry_url=self.entry_url(server), hints=self.hints(), **drive_options)
        description = (f"gunicorn {conf['workers']} {conf['worker_class']} workers x {conf['threads']} threads, "
                       f"{'PostgreSQL' if self.database_name else 'SQLite'}")
        checks = self.verify(result)
        return SystemRun(self.name, description, result, memory, checks, before, os.getloadavg())

    def verify(self, result: RunResult) -> dict:
        path = self.dir / "sent.json"
        path.write_text(json.dumps([{"index": r.index, "label": r.label, "finished": r.finished, "sent": r.sent}
                                    for r in result.participants]))
        return _manage_shell(f"from bench.flow.platform_shell import platform_verify; platform_verify({self.slug!r}, {str(path)!r})",
                             env=self.env, log=self.log)

    def probe(self) -> list[dict]:
        return _manage_shell(f"from bench.flow.platform_shell import platform_query_probe; platform_query_probe({self.slug!r})",
                             env=self.env, log=self.log)["rows"]

    def cleanup(self, keep: bool) -> None:
        from bench import load

        if self.database_name and not keep:
            load._drop_database(self.admin_database_url, self.database_name)
        if not keep:
            shutil.rmtree(self.dir / "media", ignore_errors=True)


class OTreeSystem:
    """`otree prodserver` on SQLite, in its own virtual environment, serving bench/otree_seed."""

    def __init__(self) -> None:
        self.venv = BENCH_DIR / "otree-venv"
        self.project = BENCH_DIR / "otree-project"
        self.log = BENCH_DIR / "otree.log"
        self.version = ""
        self.seed: dict = {}

    @property
    def otree(self) -> Path:
        return self.venv / "bin" / "otree"

    def install(self) -> str:
        marker = self.venv / "bench-requirement.txt"
        if not (self.otree.exists() and marker.exists() and marker.read_text().strip() == OTREE_REQUIREMENT):
            shutil.rmtree(self.venv, ignore_errors=True)
            _run([sys.executable, "-m", "venv", str(self.venv)], env=dict(os.environ), log=self.log)
            _run([str(self.venv / "bin" / "python"), "-m", "pip", "install", "--quiet", OTREE_REQUIREMENT],
                 env=dict(os.environ), log=self.log)
            marker.write_text(OTREE_REQUIREMENT + "\n")
        probe = subprocess.run([str(self.venv / "bin" / "python"), "-c",
                                "import importlib.metadata as m; print(m.version('otree'))"],
                               capture_output=True, text=True, check=True)
        self.version = probe.stdout.strip()
        return self.version

    def create_project(self, seed: dict) -> None:
        """A fresh project: the app, its seed.json and the platform's grid images under _static/."""
        shutil.rmtree(self.project, ignore_errors=True)
        app = self.project / OTREE_APP
        shutil.copytree(OTREE_APP_SOURCE, app, ignore=shutil.ignore_patterns("__pycache__", "*.css"))
        static = self.project / "_static" / OTREE_APP
        static.mkdir(parents=True)
        shutil.copy(OTREE_APP_SOURCE / "grid.css", static / "grid.css")
        media = Path(seed["media_root"])
        grids = {}
        for condition, grid in seed["grids"].items():
            rows = []
            for row in grid["rows"]:
                cells = []
                for cell in row:
                    target = static / "grid" / cell["image"]
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy(media / cell["image"], target)
                    cells.append({"src": f"/static/{OTREE_APP}/grid/{cell['image']}", "is_original": cell["is_original"]})
                rows.append(cells)
            grids[condition] = {**grid, "rows": rows}
        (app / "seed.json").write_text(json.dumps({**seed, "grids": grids}, ensure_ascii=False), encoding="utf-8")
        (self.project / "__init__.py").write_text("")
        (self.project / "settings.py").write_text(
            "from os import environ\n\n"
            f"SESSION_CONFIGS = [dict(name={OTREE_APP!r}, app_sequence=[{OTREE_APP!r}], num_demo_participants=2)]\n"
            "SESSION_CONFIG_DEFAULTS = dict(real_world_currency_per_point=1.00, participation_fee=0.00, doc='')\n"
            "PARTICIPANT_FIELDS = []\nSESSION_FIELDS = []\nLANGUAGE_CODE = 'en'\n"
            "REAL_WORLD_CURRENCY_CODE = 'USD'\nUSE_POINTS = True\nADMIN_USERNAME = 'admin'\n"
            "ADMIN_PASSWORD = environ.get('OTREE_ADMIN_PASSWORD')\nDEMO_PAGE_INTRO_HTML = ''\n"
            f"SECRET_KEY = {os.urandom(16).hex()!r}\n")
        self.seed = seed

    def hints(self) -> dict[str, str]:
        key, expected = self.seed["attention_check"]
        return {key: str(expected)}

    def serve_and_drive(self, *, n: int, **drive_options) -> SystemRun:
        import requests

        from bench.load import free_port

        port = free_port()
        env = {**os.environ, "PATH": f"{self.venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
               "OTREE_PRODUCTION": "1", "OTREE_ADMIN_PASSWORD": os.urandom(12).hex(), "PYTHONUNBUFFERED": "1"}
        for name in ("DATABASE_URL", "OTREE_AUTH_LEVEL", "OTREE_IN_MEMORY"):
            env.pop(name, None)
        base = f"http://127.0.0.1:{port}"
        before = os.getloadavg()
        with open(self.log, "a") as out:
            process = subprocess.Popen([str(self.otree), "prodserver", f"127.0.0.1:{port}"], cwd=self.project,
                                       env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            _wait_until_up(f"{base}/api/otree_version", process, self.log)
            created = requests.post(f"{base}/api/sessions", json={"session_config_name": OTREE_APP,
                                                                  "num_participants": n}, timeout=120)
            created.raise_for_status()
            join = created.json()["session_wide_url"]
            entry = join + "?participant_label={label}"
            with MemorySampler(lambda: [process.pid]) as memory:
                result = drive(entry_url=entry, hints=self.hints(), n=n, **drive_options)
        finally:
            _stop(process)
        checks = self.verify(result)
        return SystemRun("otree", f"oTree {self.version} prodserver (uvicorn, 1 process), SQLite", result, memory,
                         checks, before, os.getloadavg())

    def verify(self, result: RunResult) -> dict:
        """One player row per participant holding exactly what it sent; completed conditions balanced."""
        connection = sqlite3.connect(f"file:{self.project / 'db.sqlite3'}?mode=ro", uri=True)
        try:
            columns = [row[1] for row in connection.execute(f"PRAGMA table_info({OTREE_APP}_player)")]
            rows = connection.execute(f"SELECT participant.label, player.* FROM {OTREE_APP}_player AS player JOIN "
                                      "otree_participant AS participant ON participant.id = player.participant_id "
                                      "WHERE participant.label IS NOT NULL").fetchall()
        finally:
            connection.close()
        stored = defaultdict(list)
        for label, *values in rows:
            stored[label].append(dict(zip(columns, values)))
        problems, completed = [], Counter()
        for record in result.participants:
            players = stored.get(record.label, [])
            if len(players) != 1:
                problems.append(f"participant {record.index}: {len(players)} player rows")
                continue
            player = players[0]
            for name, value in record.sent.items():
                held = player.get(name)
                if name == "consent":
                    held = "True" if held else "False"
                if str(held).strip() != value.strip():
                    problems.append(f"participant {record.index}: {name} stored {held!r}, sent {value!r}")
            if record.finished:
                completed[player["condition"]] += 1
        if completed and max(completed.values()) - min(completed.values()) > 1:
            problems.append(f"completed counts per condition differ by more than 1: {dict(completed)}")
        return {"problems": problems, "completed_per_condition": dict(completed),
                "player_rows": sum(len(v) for v in stored.values())}


def _wait_until_up(url: str, process: subprocess.Popen, log: Path, seconds: float = 120) -> None:
    import requests

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}; see {log}")
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {seconds:.0f} s; see {log}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)

