"""The participant flow side by side: this platform (SQLite and PostgreSQL) against oTree, same client.

    python bench/flow.py [--systems otree,sqlite,postgres] [--participants 200] [--concurrency 50]
                         [--assets] [--quick] [--preset quick|demo] [--keep]

One cohesive benchmark, kept in one file on purpose (it is longer than the house limit): the systems under
test, a browser-like client that no system wrote, and the checks afterwards.

What it does, in order:
1. builds the seed study on this platform with the project's own command (`manage.py demo --no-serve`,
   quick preset by default: the model only decides which images the grid shows, not what is served) in a
   fresh database per system: SQLite (the embedded default) in var/bench/platform-sqlite/ and PostgreSQL
   in a database studyserver_bench_<pid> that it creates and drops. For load, the study is then made
   unlimited (no target per condition) and the 30 s minimum on the stimulus page is lifted, as a load test
   must (`manage.py shell`);
2. installs oTree (OTREE_REQUIREMENT) into its own virtual environment var/bench/otree-venv (created on the
   first run, reused later) and creates an oTree project var/bench/otree-project from bench/otree_seed/,
   with the texts, items and the same 150 grid images per condition exported from the platform's study;
3. serves one system at a time on a free local port: `otree prodserver` (SQLite), then gunicorn with
   studyserver/gunicorn_conf.py (its worker and thread counts; recycling off during the run) on each
   database;
4. drives N participants, C at a time, with the same generic client: GET a page, parse its form (inputs,
   radios, selects, textareas, hidden fields incl. the CSRF token, submit buttons), fill in valid answers
   (random Likert points, free text; the attention check answered as instructed), POST, follow redirects
   until a page without a submit button or a redirect to another site (the recruiting platform). With
   --assets each participant is also a fresh browser: it loads every image, script and stylesheet a page
   references (and the url()s of stylesheets), honouring Cache-Control, Expires, ETag and Last-Modified
   (including heuristic freshness) in its own cache, over up to --asset-connections parallel connections;
5. samples the resident memory (VmRSS) of each web worker every 0.5 s under load;
6. checks the stored data: on this platform (through Django in `manage.py shell`) every answer each
   participant sent is stored exactly once with one revision, nothing else is stored, every completed
   participant has one answer per item and completed counts per condition differ by at most 1; in oTree
   (its SQLite file) one player row per participant holding what it sent, conditions balanced;
7. walks three more participants in-process through Django's test client and counts the SQL queries, their
   time and the total time of every request (where a page's time goes; --no-probe skips it);
8. prints per system completed participants/s, requests/s, p50/p95/p99 per page and the ratio to oTree;
   exits 1 on any error or failed check. Figures and how to read them: docs/BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlsplit

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

BENCH_DIR = REPO_ROOT / "var" / "bench"
OTREE_REQUIREMENT = "otree==6.0.15"
OTREE_APP_SOURCE = Path(__file__).resolve().parent / "otree_seed"
OTREE_APP = "otree_seed"
PLATFORM_ENTRY_QUERY = "?PROLIFIC_PID={label}&STUDY_ID=bench-flow&SESSION_ID=bench-{label}"
ITEM_FIELD_PREFIX = "item-"
FREE_TEXTS = (
    "I looked at how the arms changed from left to right.",
    "Mostly colour, a bit of rotation.",
    "Die Arme \u00e4ndern sich am st\u00e4rksten \u2013 glaube ich.",
)
MAX_REQUESTS_PER_PARTICIPANT = 60


# --- the client: a browser-like form walker ------------------------------------------------------------


@dataclass
class Form:
    action: str
    method: str
    values: dict[str, str] = field(default_factory=dict)  # hidden and pre-filled inputs
    radios: dict[str, list[str]] = field(default_factory=dict)
    selects: dict[str, list[str]] = field(default_factory=dict)
    textareas: list[str] = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)  # name -> input type (text, number, email, ...)
    submits: list[tuple[str, str, bool]] = field(default_factory=list)  # (name, value, formnovalidate)


class PageParser(HTMLParser):
    """The forms of a page and the subresources a browser would load for it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self.assets: list[str] = []
        self._form: Form | None = None
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs_list) -> None:
        attrs = {name: (value if value is not None else "") for name, value in attrs_list}
        if tag == "img" and attrs.get("src"):
            self.assets.append(attrs["src"])
        elif tag == "script" and attrs.get("src"):
            self.assets.append(attrs["src"])
        elif tag == "link" and "stylesheet" in attrs.get("rel", "").split() and attrs.get("href"):
            self.assets.append(attrs["href"])
        elif tag == "form":
            self._form = Form(action=attrs.get("action", ""), method=attrs.get("method", "get").lower())
            self.forms.append(self._form)
        elif self._form is None:
            return
        elif tag == "input":
            self._input(attrs)
        elif tag == "button" and attrs.get("type", "submit").lower() == "submit":
            self._form.submits.append((attrs.get("name", ""), attrs.get("value", ""), "formnovalidate" in attrs))
        elif tag == "textarea" and attrs.get("name"):
            self._form.textareas.append(attrs["name"])
        elif tag == "select" and attrs.get("name"):
            self._select = attrs["name"]
            self._form.selects[self._select] = []
        elif tag == "option" and self._select is not None and attrs.get("value", "x") != "":
            self._form.selects[self._select].append(attrs.get("value", ""))

    def _input(self, attrs: dict[str, str]) -> None:
        kind, name = attrs.get("type", "text").lower(), attrs.get("name", "")
        if kind in ("submit", "image"):
            self._form.submits.append((name, attrs.get("value", ""), "formnovalidate" in attrs))
        elif not name or "disabled" in attrs:
            return
        elif kind == "radio":
            self._form.radios.setdefault(name, []).append(attrs.get("value", "on"))
        elif kind == "checkbox":
            if "checked" in attrs:
                self._form.values[name] = attrs.get("value", "on")
        elif kind == "hidden" or attrs.get("value"):
            self._form.values[name] = attrs.get("value", "")
        else:
            self._form.texts[name] = kind

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None


CSS_URL = re.compile(r"url\(\s*['\"]?([^'\")]+)['\"]?\s*\)")


def fill(form: Form, *, rng: random.Random, hints: dict[str, str], label: str) -> tuple[dict[str, str], dict[str, str]]:
    """(everything to POST, the answers in it): valid answers for every field, the hints where given, and
    the primary submit button (the last one that validates the form, as a participant moving on clicks)."""
    answers: dict[str, str] = {}
    for name, values in form.radios.items():
        answers[name] = hints.get(name) or rng.choice(values)
    for name, options in form.selects.items():
        answers[name] = hints.get(name) or rng.choice(options)
    for name in form.textareas:
        answers[name] = hints.get(name) or f"{rng.choice(FREE_TEXTS)} ({label})"
    for name, kind in form.texts.items():
        answers[name] = hints.get(name) or ("1" if kind in ("number", "range") else f"bench {label}")
    data = {**form.values, **answers}
    primary = [submit for submit in form.submits if not submit[2]] or form.submits
    name, value, _ = primary[-1]
    if name:
        data[name] = value
    return data, answers


@dataclass
class Timing:
    label: str
    seconds: float
    status: int  # 0: transport error


@dataclass
class CacheEntry:
    fresh_until: float
    etag: str
    last_modified: str


def freshness_seconds(headers, now: float) -> float | None:
    """Seconds a response stays fresh (RFC 9111 section 4.2), None when it must not be stored."""
    directives = {part.strip().split("=", 1)[0].lower(): part.strip().split("=", 1)[-1]
                  for part in headers.get("Cache-Control", "").split(",") if part.strip()}
    if "no-store" in directives:
        return None
    if "no-cache" in directives:
        return 0.0
    age = float(headers.get("Age", "0") or 0)
    for name in ("s-maxage", "max-age"):
        if name in directives:
            try:
                return max(0.0, float(directives[name].strip('"')) - age)
            except ValueError:
                return 0.0
    date = _http_date(headers.get("Date")) or now
    if headers.get("Expires"):
        expires = _http_date(headers["Expires"])
        return max(0.0, expires - date) if expires else 0.0
    last_modified = _http_date(headers.get("Last-Modified"))
    if last_modified:  # heuristic freshness, as browsers apply it: 10 % of the time since the last change
        return max(0.0, 0.1 * (date - last_modified))
    return 0.0


def _http_date(value: str | None) -> float | None:
    try:
        return parsedate_to_datetime(value).timestamp() if value else None
    except (TypeError, ValueError):
        return None


@dataclass
class ParticipantRecord:
    index: int
    label: str
    finished: bool = False
    sent: dict[str, str] = field(default_factory=dict)  # form field -> value of the accepted posts
    timings: list[Timing] = field(default_factory=list)
    asset_outcomes: Counter = field(default_factory=Counter)  # fetched / revalidated / cached
    errors: list[str] = field(default_factory=list)


class _Stop(Exception):
    pass


def page_name(url: str) -> str:
    """The page a URL shows, comparable across systems: its last path segment that is not a number."""
    segments = [s for s in urlsplit(url).path.split("/") if s and not s.isdigit()]
    return re.sub(r"[-_]", "", segments[-1]).lower() if segments else "root"


class Participant:
    """One participant in a fresh browser: walks from the entry URL to the end, timing every request."""

    def __init__(self, *, entry_url: str, index: int, hints: dict[str, str], seed: int, assets: bool,
                 asset_connections: int, timeout: float = 120.0) -> None:
        import requests
        from requests.adapters import HTTPAdapter

        self.entry_url = entry_url
        self.origin = urlsplit(entry_url).netloc
        self.hints = hints
        self.rng = random.Random(seed)
        self.timeout = timeout
        self.record = ParticipantRecord(index=index, label=f"BENCH{index:05d}")
        self.session = requests.Session()
        self.session.headers["User-Agent"] = "bench-flow/1 (form walker)"
        self.assets = assets
        self.asset_connections = max(1, asset_connections)
        if assets:
            adapter = HTTPAdapter(pool_connections=1, pool_maxsize=self.asset_connections)
            self.session.mount("http://", adapter)
        self.cache: dict[str, CacheEntry] = {}
        self._cache_lock = threading.Lock()

    def _request(self, method: str, url: str, label: str, data=None, headers=None):
        import requests

        started = time.perf_counter()
        try:
            response = self.session.request(method, url, data=data, headers=headers, allow_redirects=False,
                                            timeout=self.timeout)
        except requests.RequestException as error:
            self.record.timings.append(Timing(label, time.perf_counter() - started, 0))
            raise _Stop(f"{label}: {type(error).__name__}: {error}") from None
        self.record.timings.append(Timing(label, time.perf_counter() - started, response.status_code))
        if response.status_code >= 400:
            raise _Stop(f"{label}: HTTP {response.status_code} at {url}")
        return response

    def run(self) -> ParticipantRecord:
        try:
            self._walk()
        except _Stop as stop:
            self.record.errors.append(f"participant {self.record.index}: {stop}")
        except Exception as error:  # a client bug must show as an error, not vanish in a thread
            self.record.errors.append(f"participant {self.record.index}: {type(error).__name__}: {error}")
        finally:
            self.session.close()
        return self.record

    def _walk(self) -> None:
        url = self.entry_url.format(label=self.record.label)
        method, data, answers = "GET", None, {}
        entering = True  # the entry URL and the redirects before the first page
        for count in range(MAX_REQUESTS_PER_PARTICIPANT):
            started = time.perf_counter()
            response = self._request(method, url, "entry" if count == 0 else f"{method} {page_name(url)}", data=data)
            redirected = response.status_code in (301, 302, 303, 307, 308)
            if entering and count and redirected:  # e.g. oTree's /InitializeParticipant/<code>
                self.record.timings[-1].label = "entry redirect"
            if redirected:
                target = urljoin(url, response.headers.get("Location", ""))
                if method == "POST":
                    self.record.sent.update(answers)
                if urlsplit(target).netloc != self.origin:  # back to the recruiting platform: done
                    self.record.finished = True
                    return
                url, method, data, answers = target, "GET", None, {}
                continue
            if method == "POST":
                raise _Stop(f"POST {page_name(url)}: the form was not accepted (HTTP {response.status_code})")
            entering = False
            parser = PageParser()
            parser.feed(response.text)
            if self.assets:
                self._load_assets(url, parser.assets)
                self.record.timings.append(Timing(f"load {page_name(url)}", time.perf_counter() - started, 200))
            form = next((f for f in parser.forms if f.method == "post" and f.submits), None)
            if form is None:  # the completion page: nothing left to submit
                self.record.finished = True
                return
            data, answers = fill(form, rng=self.rng, hints=self.hints, label=self.record.label)
            url, method = urljoin(url, form.action) if form.action else url, "POST"
        raise _Stop(f"more than {MAX_REQUESTS_PER_PARTICIPANT} requests: a redirect loop?")

    # -- subresources, as a browser with an empty cache at the start loads them ----------------------------

    def _load_assets(self, page_url: str, references: list[str]) -> None:
        urls = list(dict.fromkeys(urldefrag(urljoin(page_url, ref))[0] for ref in references
                                  if not ref.startswith(("data:", "javascript:"))))
        urls = [u for u in urls if urlsplit(u).netloc == self.origin]
        if not urls:
            return
        with ThreadPoolExecutor(max_workers=self.asset_connections) as pool:
            nested = list(pool.map(self._asset, urls))
            css_urls = list(dict.fromkeys(u for found in nested for u in found if u not in urls))
            list(pool.map(self._asset, css_urls))

    def _count(self, outcome: str) -> None:
        with self._cache_lock:  # asset threads share the record; Counter updates are not atomic
            self.record.asset_outcomes[outcome] += 1

    def _asset(self, url: str) -> list[str]:
        """Load one subresource through the cache; returns the url()s a stylesheet references."""
        now = time.time()
        with self._cache_lock:
            entry = self.cache.get(url)
        if entry is not None and entry.fresh_until > now:
            self._count("from cache")
            return []
        headers = {}
        if entry is not None and entry.etag:
            headers["If-None-Match"] = entry.etag
        if entry is not None and entry.last_modified:
            headers["If-Modified-Since"] = entry.last_modified
        response = self._request("GET", url, "asset", headers=headers)
        if response.status_code == 304 and entry is not None:
            self._count("revalidated (304)")
        elif response.status_code == 200:
            self._count("downloaded")
        else:
            raise _Stop(f"asset {url}: HTTP {response.status_code}")
        lifetime = freshness_seconds(response.headers, now)
        if lifetime is not None:
            with self._cache_lock:
                self.cache[url] = CacheEntry(now + lifetime, response.headers.get("ETag", entry.etag if entry else ""),
                                             response.headers.get("Last-Modified",
                                                                  entry.last_modified if entry else ""))
        if response.status_code == 200 and "css" in response.headers.get("Content-Type", ""):
            return [urldefrag(urljoin(url, ref))[0] for ref in CSS_URL.findall(response.text)
                    if not ref.startswith("data:")]
        return []


@dataclass
class RunResult:
    participants: list[ParticipantRecord]
    elapsed_s: float

    @property
    def errors(self) -> list[str]:
        return [error for record in self.participants for error in record.errors]

    @property
    def finished(self) -> int:
        return sum(record.finished for record in self.participants)

    def timings(self, *, pages_only: bool) -> list[Timing]:
        return [t for r in self.participants for t in r.timings
                if not (pages_only and (t.label == "asset" or t.label.startswith("load ")))]


def drive(*, entry_url: str, n: int, concurrency: int, hints: dict[str, str], assets: bool,
          asset_connections: int, seed: int = 0) -> RunResult:
    """n participants, `concurrency` of them at any moment, each starting as soon as a slot frees up."""
    chooser = random.Random(seed)
    participants = [Participant(entry_url=entry_url, index=i, hints=hints, seed=chooser.randrange(2**32),
                                assets=assets, asset_connections=asset_connections) for i in range(n)]
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="participant") as pool:
        records = list(pool.map(Participant.run, participants))
    return RunResult(records, time.perf_counter() - started)


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


def _write_out(payload: dict) -> None:
    Path(os.environ["BENCH_FLOW_OUT"]).write_text(json.dumps(payload))


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
        self.study = _manage_shell("from bench.flow import platform_prepare_for_load; platform_prepare_for_load()",
                                   env=self.env, log=self.log)
        self.slug = self.study["slug"]
        return self.study

    def hints(self) -> dict[str, str]:
        key, expected = self.study["attention_check"]
        return {ITEM_FIELD_PREFIX + key: str(expected)}

    def serve_and_drive(self, **drive_options) -> SystemRun:
        import runpy

        from bench import load

        conf = runpy.run_path(str(REPO_ROOT / "studyserver" / "gunicorn_conf.py"))
        before = os.getloadavg()
        with load.gunicorn(env=self.env, workers=conf["workers"], threads=conf["threads"],
                           worker_class=conf["worker_class"], timeout=conf["timeout"], log_dir=self.dir) as server:
            entry = f"{server.base_url}/s/{self.slug}/{PLATFORM_ENTRY_QUERY}"
            with MemorySampler(server.worker_pids) as memory:
                result = drive(entry_url=entry, hints=self.hints(), **drive_options)
        description = (f"gunicorn {conf['workers']} {conf['worker_class']} workers x {conf['threads']} threads, "
                       f"{'PostgreSQL' if self.database_name else 'SQLite'}")
        checks = self.verify(result)
        return SystemRun(self.name, description, result, memory, checks, before, os.getloadavg())

    def verify(self, result: RunResult) -> dict:
        path = self.dir / "sent.json"
        path.write_text(json.dumps([{"index": r.index, "label": r.label, "finished": r.finished, "sent": r.sent}
                                    for r in result.participants]))
        return _manage_shell(f"from bench.flow import platform_verify; platform_verify({self.slug!r}, {str(path)!r})",
                             env=self.env, log=self.log)

    def probe(self) -> list[dict]:
        return _manage_shell(f"from bench.flow import platform_query_probe; platform_query_probe({self.slug!r})",
                             env=self.env, log=self.log)["rows"]

    def cleanup(self, keep: bool) -> None:
        from bench import load

        if self.database_name and not keep:
            load._drop_database(self.admin_database_url, self.database_name)
        if not keep:
            shutil.rmtree(self.dir / "media", ignore_errors=True)


def platform_prepare_for_load() -> None:
    """(Inside `manage.py shell`.) Lift the cap per condition and the stimulus minimum of the demo study, and
    export what the oTree app needs to show the same questionnaire: texts, items, grid cells."""
    from django.conf import settings

    from studies.models import Item, Study

    study = Study.objects.filter(status=Study.Status.LIVE).order_by("-pk").first()
    Study.objects.filter(pk=study.pk).update(target_per_condition=None, min_stimulus_seconds=0)
    items = list(study.items.order_by("order", "pk"))
    attention = next(item for item in items if item.kind == Item.Kind.ATTENTION_CHECK)
    grids = {}
    for condition in study.conditions.select_related("stimulus_grid").order_by("order", "pk"):
        grid = condition.stimulus_grid
        rows: dict[int, list] = defaultdict(list)
        for cell in grid.cells.order_by("row", "column"):
            rows[cell.row].append({"image": cell.image, "is_original": cell.is_original})
        grids[condition.slug] = {"rows": [rows[r] for r in sorted(rows)], "column_labels": list(grid.column_labels),
                                 "cell_size": (grid.provenance or {}).get("display_size", 112)}
    scaled = [item for item in items if item.kind != Item.Kind.FREE_TEXT]
    _write_out({
        "slug": study.slug,
        "media_root": str(settings.MEDIA_ROOT),
        "consent_text": study.consent_text,
        "instructions_text": study.instructions_text,
        "agreement_labels": list(scaled[0].labels),
        "stimulus_items": [[i.key, i.text] for i in scaled if i.page == Item.Page.STIMULUS],
        "satisfaction_items": [[i.key, i.text] for i in scaled if i.page == Item.Page.SATISFACTION],
        "free_text_items": [[i.key, i.text, i.required] for i in items if i.kind == Item.Kind.FREE_TEXT],
        "attention_check": [attention.key, attention.expected_answer],
        "completion_code": study.completion_code,
        "attention_fail_code": study.attention_fail_code,
        "conditions": [{"slug": c.slug, "name": c.name} for c in study.conditions.order_by("order", "pk")],
        "grids": grids,
        "items": len(items),
    })


def platform_verify(slug: str, sent_path: str) -> None:
    """(Inside `manage.py shell`.) The checks of bench/load.py on what this run's participants sent, plus:
    every completed participant has exactly one stored answer per item of the study."""
    from django.db.models import Count

    from bench.load import LoadResult, ParticipantRun, verify
    from studies.models import Participant, Response

    sent = json.loads(Path(sent_path).read_text())
    # The bench database is thrown away afterwards; flag its participants simulated all the same, so no
    # analysis could ever mistake them for real ones.
    Participant.objects.filter(study__slug=slug).update(is_simulated=True)
    tokens = dict(Participant.objects.filter(study__slug=slug).values_list("external_id", "token"))
    runs = [ParticipantRun(index=r["index"], token=tokens.get(r["label"], ""), finished=r["finished"],
                           sent={name[len(ITEM_FIELD_PREFIX):]: value for name, value in r["sent"].items()
                                 if name.startswith(ITEM_FIELD_PREFIX)})
            for r in sent]
    verification = verify(slug=slug, result=LoadResult(runs, 0.0))
    problems = list(verification.problems)
    problems += [f"participant {r['index']}: no record" for r in sent if r["label"] not in tokens]
    items = Participant.objects.get(token=next(iter(tokens.values()))).study.items.count() if tokens else 0
    per_participant = Counter(dict(Response.objects.filter(participant__study__slug=slug, participant__status=
                                                           Participant.Status.COMPLETED)
                                   .values("participant_id").annotate(n=Count("pk")).values_list("participant_id", "n")))
    wrong = {pid: n for pid, n in per_participant.items() if n != items}
    if wrong:
        problems.append(f"{len(wrong)} completed participants without exactly {items} answers: {list(wrong.items())[:5]}")
    _write_out({"problems": problems, "completed_per_condition": verification.completed_per_condition,
                "responses": verification.responses, "revisions": verification.revisions, "items": items,
                "completed_participants": len(per_participant)})


def platform_query_probe(slug: str, participants: int = 3) -> None:
    """(Inside `manage.py shell`.) Where a page's time goes: walk a few participants in-process (Django's
    test client, the same form filling as the load client) and count the SQL queries, their time and the
    rest (Python, templates) of every request. The last participant's figures are the warm ones."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from studies.models import Item, Study

    study = Study.objects.get(slug=slug)
    attention = study.items.get(kind=Item.Kind.ATTENTION_CHECK)
    hints = {ITEM_FIELD_PREFIX + attention.key: str(attention.expected_answer)}
    rows = []
    for index in range(participants):
        client = Client(HTTP_HOST="127.0.0.1")
        label = f"PROBE{index:03d}"
        url, method, data = f"/s/{slug}/" + PLATFORM_ENTRY_QUERY.format(label=label), "GET", None
        for count in range(MAX_REQUESTS_PER_PARTICIPANT):
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                response = client.post(url, data) if method == "POST" else client.get(url)
                elapsed = time.perf_counter() - started
            sql = sum(float(q["time"]) for q in queries.captured_queries)
            rows.append({"participant": index, "request": "entry" if count == 0 else f"{method} {page_name(url)}",
                         "status": response.status_code, "queries": len(queries), "ms": elapsed * 1000,
                         "sql_ms": sql * 1000, "bytes": len(response.content)})
            if response.status_code in (301, 302, 303):
                target = urljoin("http://127.0.0.1" + url, response["Location"])
                if urlsplit(target).netloc != "127.0.0.1":
                    break
                url, method, data = target.split("127.0.0.1", 1)[1], "GET", None
                continue
            parser = PageParser()
            parser.feed(response.content.decode())
            form = next((f for f in parser.forms if f.method == "post" and f.submits), None)
            if form is None:
                break
            data, _ = fill(form, rng=random.Random(index), hints=hints, label=label)
            method = "POST"
    Participant = study.participants.model
    Participant.objects.filter(study=study, external_id__startswith="PROBE").update(is_simulated=True)
    _write_out({"rows": rows})


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


# --- the report ------------------------------------------------------------------------------------------------


PAGE_ORDER = ["entry", "consent", "instructions", "stimulus", "satisfaction", "freetext", "completion"]


def _label_rank(label: str) -> tuple[int, int, str]:
    kind, _, page = label.partition(" ")
    page = page or kind
    kinds = ["entry", "GET", "POST", "load"]
    return (PAGE_ORDER.index(page) if page in PAGE_ORDER else len(PAGE_ORDER), kinds.index(kind) if kind in kinds
            else len(kinds), label)


def latency_rows(result: RunResult) -> list[tuple[str, int, float, float, float]]:
    from bench.load import percentile

    by_label: dict[str, list[float]] = defaultdict(list)
    for timing in result.timings(pages_only=False):
        if timing.status:
            by_label[timing.label].append(timing.seconds * 1000)
    rows = []
    for label in sorted(by_label, key=_label_rank):
        values = sorted(by_label[label])
        rows.append((label, len(values), percentile(values, 50), percentile(values, 95), percentile(values, 99)))
    pages = sorted(t.seconds * 1000 for t in result.timings(pages_only=True) if t.status)
    rows.append(("all page requests", len(pages), percentile(pages, 50), percentile(pages, 95), percentile(pages, 99)))
    return rows


def summary(run: SystemRun) -> dict:
    from bench.load import percentile

    result = run.result
    pages = result.timings(pages_only=True)
    everything = result.timings(pages_only=False)
    page_ms = sorted(t.seconds * 1000 for t in pages if t.status)
    return {"participants_per_s": result.finished / result.elapsed_s,
            "page_requests_per_s": len(pages) / result.elapsed_s,
            "requests_per_s": len([t for t in everything if not t.label.startswith("load ")]) / result.elapsed_s,
            "p50": percentile(page_ms, 50), "p95": percentile(page_ms, 95), "p99": percentile(page_ms, 99)}


def print_report(runs: list[SystemRun], *, n: int, concurrency: int, assets: bool) -> None:
    print(f"\n=== {n} participants, {concurrency} at a time{', with images and static files' if assets else ''} ===")
    for run in runs:
        result = run.result
        print(f"\n--- {run.name}: {run.description}")
        print(f"wall {result.elapsed_s:.1f} s, finished {result.finished}/{len(result.participants)}, "
              f"errors {len(result.errors)}; load average before {run.load_before[0]:.1f}, after "
              f"{run.load_after[0]:.1f}")
        outcomes = sum((r.asset_outcomes for r in result.participants), Counter())
        if outcomes:
            print("subresources: " + ", ".join(f"{name} {count}" for name, count in sorted(outcomes.items())))
        print(f"{'request':<24}{'count':>7}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}")
        for label, count, p50, p95, p99 in latency_rows(result):
            print(f"{label:<24}{count:>7}{p50:>9.0f}{p95:>9.0f}{p99:>9.0f}")
        workers = ", ".join(f"{run.memory.last[pid]:.0f} (peak {run.memory.peak[pid]:.0f})"
                            + (" TORCH" if run.memory.torch.get(pid) else "") for pid in sorted(run.memory.last))
        print(f"web worker RSS MiB under load: {workers}")
        checks = {k: v for k, v in run.checks.items() if k != "problems"}
        print(f"stored data: {checks}; problems: {len(run.checks['problems'])}")
        for problem in run.checks["problems"][:10]:
            print("  " + problem)
        for error in result.errors[:10]:
            print("  error: " + error)
    figures = {run.name: summary(run) for run in runs}
    reference = figures.get("otree")
    print(f"\n{'system':<10}{'done/s':>8}{'req/s':>8}{'all req/s':>10}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}"
          f"{'x oTree done/s':>16}{'p95 / oTree':>13}{'errors':>8}")
    for run in runs:
        f = figures[run.name]
        ratio = f"{f['participants_per_s'] / reference['participants_per_s']:.2f}" if reference else "-"
        p95_ratio = f"{f['p95'] / reference['p95']:.2f}" if reference else "-"
        print(f"{run.name:<10}{f['participants_per_s']:>8.2f}{f['page_requests_per_s']:>8.1f}{f['requests_per_s']:>10.1f}"
              f"{f['p50']:>8.0f}{f['p95']:>8.0f}{f['p99']:>8.0f}{ratio:>16}{p95_ratio:>13}{len(run.result.errors):>8}")
    print("(req/s: page requests; all req/s: with subresources; latencies: page requests)")


def print_probe(name: str, rows: list[dict]) -> None:
    """Per request of the last (warm) probe participant: SQL queries, SQL time, total time, response size."""
    last = max(row["participant"] for row in rows)
    print(f"\n--- {name}: where a page's time goes (in-process, one warm participant)")
    print(f"{'request':<24}{'status':>7}{'queries':>9}{'SQL ms':>8}{'total ms':>10}{'KiB':>7}")
    for row in (r for r in rows if r["participant"] == last):
        print(f"{row['request']:<24}{row['status']:>7}{row['queries']:>9}{row['sql_ms']:>8.1f}{row['ms']:>10.1f}"
              f"{row['bytes'] / 1024:>7.1f}")
    warm = [r for r in rows if r["participant"] == last]
    print(f"{'whole flow':<24}{'':>7}{sum(r['queries'] for r in warm):>9}{sum(r['sql_ms'] for r in warm):>8.1f}"
          f"{sum(r['ms'] for r in warm):>10.1f}")


# --- main ---------------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--systems", default="otree,sqlite,postgres",
                        help="comma-separated, run in this order: otree, sqlite, postgres")
    parser.add_argument("--participants", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--assets", action="store_true", help="also load every image, script and stylesheet")
    parser.add_argument("--asset-connections", type=int, default=6, help="parallel connections per browser")
    parser.add_argument("--quick", action="store_true", help="20 participants, 5 at a time (a smoke run)")
    parser.add_argument("--preset", choices=["quick", "demo"], default="quick", help="model preset of the demo build")
    parser.add_argument("--admin-database-url", default=os.environ.get(
        "BENCH_ADMIN_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--keep", action="store_true", help="keep the bench databases and media")
    parser.add_argument("--no-probe", action="store_true",
                        help="skip the in-process probe of queries and time per request after the runs")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.quick:
        args.participants, args.concurrency = 20, 5
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = set(systems) - {"otree", "sqlite", "postgres"}
    if unknown or not systems:
        parser.error(f"unknown systems {sorted(unknown)}; choose from otree, sqlite, postgres")
    if args.participants < 1 or args.concurrency < 1:
        parser.error("--participants and --concurrency must be at least 1")
    BENCH_DIR.mkdir(parents=True, exist_ok=True)

    platforms = [PlatformSystem(name, preset=args.preset, admin_database_url=args.admin_database_url)
                 for name in ("sqlite", "postgres") if name in systems]
    # The oTree app shows the platform's grid images, so a platform study is built even for oTree alone.
    builders = platforms or [PlatformSystem("sqlite", preset=args.preset, admin_database_url=args.admin_database_url)]
    drive_options = dict(concurrency=args.concurrency, assets=args.assets, asset_connections=args.asset_connections,
                         seed=args.seed)
    runs: list[SystemRun] = []
    try:
        for platform in builders:
            started = time.monotonic()
            print(f"[build] {platform.name}: manage.py demo --no-serve --preset {args.preset} "
                  f"(log {platform.log.relative_to(REPO_ROOT)})", flush=True)
            study = platform.build()
            print(f"[build] {platform.name}: study {study['slug']!r}, {study['items']} items, "
                  f"{sum(len(r) for g in study['grids'].values() for r in g['rows'])} grid cells in "
                  f"{time.monotonic() - started:.0f} s", flush=True)
        if "otree" in systems:
            otree = OTreeSystem()
            print(f"[build] oTree: virtual environment {otree.venv.relative_to(REPO_ROOT)}", flush=True)
            version = otree.install()
            note = "" if version == OTREE_REQUIREMENT.split("==")[1] else f" (wanted {OTREE_REQUIREMENT})"
            print(f"[build] oTree {version}{note}: project {otree.project.relative_to(REPO_ROOT)}", flush=True)
            otree.create_project(builders[0].study)
        for name in systems:
            print(f"[run] {name}: {args.participants} participants, {args.concurrency} at a time", flush=True)
            if name == "otree":
                runs.append(otree.serve_and_drive(n=args.participants, **drive_options))
            else:
                platform = next(p for p in platforms if p.name == name)
                runs.append(platform.serve_and_drive(n=args.participants, **drive_options))
            last = runs[-1]
            print(f"[run] {name}: {last.result.finished} finished in {last.result.elapsed_s:.1f} s, "
                  f"{len(last.result.errors)} errors, {len(last.checks['problems'])} problems", flush=True)
        probes = {platform.name: platform.probe() for platform in platforms if not args.no_probe}
    finally:
        for platform in builders:
            try:
                platform.cleanup(args.keep)
            except Exception as error:  # cleaning up must not hide the real failure
                print(f"[cleanup] {platform.name}: {error}", file=sys.stderr)
    print_report(runs, n=args.participants, concurrency=args.concurrency, assets=args.assets)
    for name, rows in probes.items():
        print_probe(name, rows)
    failed = [run.name for run in runs if run.result.errors or run.checks["problems"]
              or run.result.finished != args.participants or any(run.memory.torch.values())]
    print("\nRESULT: " + (f"FAILED ({', '.join(failed)})" if failed else
                          "OK (0 errors; every participant finished; stored data checked; no torch in web workers)"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
