"""Launch-day load: N participants arrive within seconds and complete the study against gunicorn + PostgreSQL.

    python bench/load.py [--n 200] [--workers 4] [--threads 4] [--arrival-seconds 5]

What it does, in order:
1. creates its own database studyserver_load_<pid> on the PostgreSQL server of --admin-database-url,
   migrates it and loads the example study (`manage.py load_example_study`), made unlimited;
2. starts gunicorn (studyserver/gunicorn_conf.py, gthread workers) as a subprocess on a free port;
3. drives N participants on threads, one requests.Session each, starting uniformly within
   --arrival-seconds; every participant takes the real flow (entry, consent, instructions, stimulus,
   satisfaction, free text, complete), posts the forms with their CSRF token and records what it sent;
4. prints throughput, p50/p95/p99 latency per page type and the error count;
5. verifies from the database that every answer each participant sent is stored exactly once (one
   Response with the sent value and one revision, nothing else) and that completed counts per condition
   differ by at most 1;
6. reports the resident memory (VmRSS) of every gunicorn worker and whether any of them mapped libtorch;
7. stops gunicorn and drops the database (unless --keep-database).

Participants are flagged simulated (Participant.is_simulated) right after entering, before consent, through
one shared database connection, as the simulation runner does. The driver and the checks are importable
(tests/integration/test_load.py runs a 40-participant version against the pytest test database).
"""
from __future__ import annotations

import argparse
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator
from urllib.parse import unquote, urljoin, urlsplit

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from studies.simulation import page_parse  # noqa: E402  (stdlib only at import time)

EXAMPLE_SLUG = "example-study"
ITEM_FIELD_PREFIX = "item-"
RETRYABLE_STATUSES = (502, 503, 504)
FREE_TEXTS = (
    "I looked at how the arms changed from left to right.",
    "Mostly colour, a bit of rotation.",
    "Hard to say; the rows looked alike.",
    "Die Arme \u00e4ndern sich am st\u00e4rksten \u2013 glaube ich.",
)


# --- the driver --------------------------------------------------------------------------------------


@dataclass
class Timing:
    label: str  # "GET entry", "GET stimulus", "POST stimulus", ...
    seconds: float
    status: int  # 0 for a transport error


@dataclass
class ParticipantRun:
    index: int
    token: str = ""
    finished: bool = False
    completion_code: str = ""
    sent: dict[str, str] = field(default_factory=dict)  # item key -> value of the accepted form posts
    timings: list[Timing] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    retries: int = 0


@dataclass
class LoadResult:
    participants: list[ParticipantRun]
    elapsed_s: float

    @property
    def timings(self) -> list[Timing]:
        return [t for run in self.participants for t in run.timings]

    @property
    def errors(self) -> list[str]:
        return [error for run in self.participants for error in run.errors]

    @property
    def finished(self) -> int:
        return sum(run.finished for run in self.participants)

    @property
    def retries(self) -> int:
        return sum(run.retries for run in self.participants)

    def latency_table(self) -> list[tuple[str, int, float, float, float, float]]:
        """(label, count, p50, p95, p99, max) in milliseconds, in flow order."""
        by_label: dict[str, list[float]] = defaultdict(list)
        for timing in self.timings:
            if timing.status:
                by_label[timing.label].append(timing.seconds * 1000)
        order = ["entry", "consent", "instructions", "stimulus", "satisfaction", "free_text", "complete"]

        def rank(label: str) -> tuple[int, str]:
            page = label.split(" ", 1)[1]
            return (order.index(page) if page in order else len(order), label)

        rows = []
        for label in sorted(by_label, key=rank):
            values = sorted(by_label[label])
            rows.append((label, len(values), percentile(values, 50), percentile(values, 95),
                         percentile(values, 99), values[-1]))
        return rows


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return float("nan")
    rank = max(1, int(-(-q * len(sorted_values) // 100)))  # ceil(q/100 * n)
    return sorted_values[min(rank, len(sorted_values)) - 1]


class _Stop(Exception):
    pass


def _page_of(url: str) -> tuple[str, str]:
    """(signed token, page) from /s/<slug>/p/<signed token>/<page>/; ("", "") for other URLs."""
    parts = [unquote(part) for part in urlsplit(url).path.split("/") if part]
    if len(parts) >= 5 and parts[0] == "s" and parts[2] == "p":
        return parts[3], parts[4]
    return "", ""


class ParticipantDriver:
    """One participant over HTTP: GET a page, fill its form, POST, follow the redirect; times every request.

    `retries` > 0 makes the participant behave like a person who reloads after an error: a request that
    fails at the transport level or with 502/503/504 is sent again (the same form data) after a short wait.
    A repeated POST of a page that was already stored is harmless: the server redirects to the current page.
    """

    def __init__(self, *, base_url: str, slug: str, index: int, expected: dict[str, int], seed: int,
                 retries: int = 0, timeout: float = 60.0, on_enter: Callable[[str], None] | None = None,
                 pause: Callable[[str], None] | None = None) -> None:
        import requests

        self.base_url = base_url.rstrip("/") + "/"
        self.slug = slug
        self.expected = expected  # attention-check key -> expected answer: load participants pay attention
        self.rng = random.Random(seed)
        self.retries = retries
        self.timeout = timeout
        self.on_enter = on_enter
        self.pause = pause  # called before each page's POST (tests inject faults here)
        self.session = requests.Session()
        self.session.headers["User-Agent"] = "studyserver-load/1"
        self.run_record = ParticipantRun(index=index)

    def _request(self, method: str, url: str, label: str, data: dict[str, str] | None = None):
        import requests

        attempt = 0
        while True:
            started = time.perf_counter()
            try:
                response = self.session.request(method, urljoin(self.base_url, url), data=data,
                                                allow_redirects=False, timeout=self.timeout,
                                                headers={"Referer": urljoin(self.base_url, url)})
            except requests.RequestException as error:
                self.run_record.timings.append(Timing(label, time.perf_counter() - started, 0))
                if attempt < self.retries:
                    attempt += 1
                    self.run_record.retries += 1
                    time.sleep(0.2 * attempt)
                    continue
                raise _Stop(f"{label}: {type(error).__name__}: {error}") from None
            self.run_record.timings.append(Timing(label, time.perf_counter() - started, response.status_code))
            if response.status_code in RETRYABLE_STATUSES and attempt < self.retries:
                attempt += 1
                self.run_record.retries += 1
                time.sleep(0.2 * attempt)
                continue
            if response.status_code >= 500:
                raise _Stop(f"{label}: HTTP {response.status_code}")
            return response

    def run(self) -> ParticipantRun:
        try:
            self._run()
        except _Stop as stop:
            self.run_record.errors.append(f"participant {self.run_record.index}: {stop}")
        except Exception as error:  # a bug in the driver must show up as an error, not vanish in a thread
            self.run_record.errors.append(f"participant {self.run_record.index}: {type(error).__name__}: {error}")
        finally:
            self.session.close()
        return self.run_record

    def _run(self) -> None:
        entry = self._request("GET", f"/s/{self.slug}/", "GET entry")
        location = entry.headers.get("Location", "")
        signed, page = _page_of(location)
        if entry.status_code != 302 or not signed:
            raise _Stop(f"entry answered HTTP {entry.status_code} without a participant page")
        self.run_record.token = signed.rsplit(":", 1)[0]
        if self.on_enter is not None:
            self.on_enter(self.run_record.token)
        url = location
        for _ in range(40):
            _, page = _page_of(url)
            if not page:
                raise _Stop(f"redirected off the participant pages to {url}")
            response = self._request("GET", url, f"GET {page}")
            if response.status_code in (301, 302, 303):
                url = self._follow(response, page)
                if not url:
                    return
                continue
            if response.status_code != 200:
                raise _Stop(f"GET {page}: HTTP {response.status_code}")
            parsed = page_parse(response.text)
            if page == "complete":
                self.run_record.finished = True
                self.run_record.completion_code = parsed.completion_code
                return
            url = self._submit(url, page, parsed)
            if not url:
                return
        raise _Stop("more than 40 pages: a redirect loop?")

    def _follow(self, response, page: str) -> str:
        target = response.headers.get("Location", "")
        if urlsplit(target).netloc and urlsplit(target).netloc != urlsplit(self.base_url).netloc:
            self.run_record.finished = True  # Prolific completion redirect
            return ""
        return target

    def _submit(self, url: str, page: str, parsed) -> str:
        form = parsed.post_form()
        if form is None or not form.hidden("csrfmiddlewaretoken"):
            raise _Stop(f"page {page!r} offers no form with a CSRF token")
        data = {"csrfmiddlewaretoken": form.hidden("csrfmiddlewaretoken")}
        answers: dict[str, str] = {}
        if page == "consent":
            data["consent"] = "yes"
        else:
            data["action"] = "next"
            for name, offered in form.fields.items():
                if not name.startswith(ITEM_FIELD_PREFIX):
                    continue
                key = name[len(ITEM_FIELD_PREFIX):]
                if offered.kind == "radio":
                    value = str(self.expected[key]) if key in self.expected else self.rng.choice(offered.values)
                elif offered.kind == "textarea":
                    value = self.rng.choice(FREE_TEXTS) + f" #{self.run_record.index}"
                else:
                    continue
                answers[key] = value
                data[name] = value
        if self.pause is not None:
            self.pause(page)
        response = self._request("POST", url, f"POST {page}", data=data)
        if response.status_code not in (301, 302, 303):
            messages = "; ".join(page_parse(response.text).messages)[:200]
            raise _Stop(f"POST {page}: HTTP {response.status_code} {messages}")
        self.run_record.sent.update(answers)
        target = self._follow(response, page)
        if target and _page_of(target)[1] == page:
            raise _Stop(f"POST {page} did not move on")
        return target


def drive(*, base_url: str, slug: str, n: int, expected: dict[str, int], arrival_seconds: float = 5.0,
          retries: int = 0, seed: int = 0, on_enter: Callable[[str], None] | None = None,
          pause: Callable[[str], None] | None = None) -> LoadResult:
    """Run n participants on n threads, their starts spread uniformly over arrival_seconds."""
    chooser = random.Random(seed)
    offsets = sorted(chooser.uniform(0, arrival_seconds) for _ in range(n))
    drivers = [ParticipantDriver(base_url=base_url, slug=slug, index=i, expected=expected,
                                 seed=chooser.randrange(2**32), retries=retries, on_enter=on_enter,
                                 pause=pause) for i in range(n)]
    start = time.perf_counter() + 0.2

    def run(index: int) -> None:
        delay = start + offsets[index] - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        drivers[index].run()

    threads = [threading.Thread(target=run, args=(i,), name=f"participant-{i}") for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return LoadResult([driver.run_record for driver in drivers], time.perf_counter() - start)


# --- checks against the database (Django ORM) --------------------------------------------------------


def attention_answers(slug: str) -> dict[str, int]:
    from studies.models import Item

    return dict(Item.objects.filter(study__slug=slug, kind=Item.Kind.ATTENTION_CHECK)
                .values_list("key", "expected_answer"))


@dataclass
class Verification:
    problems: list[str]
    completed_per_condition: dict[str, int]
    responses: int
    revisions: int

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(*, slug: str, result: LoadResult) -> Verification:
    """Every answer each participant sent is stored exactly once; completed counts per condition are balanced."""
    from django.db.models import Count

    from studies.models import Condition, Item, Participant, Response, ResponseRevision

    problems: list[str] = []
    tokens = [run.token for run in result.participants if run.token]
    participants = {p.token: p for p in Participant.objects.filter(study__slug=slug, token__in=tokens)}
    stored: dict[int, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    rows = Response.objects.filter(participant__in=participants.values()).values_list(
        "participant_id", "item__key", "item__kind", "value_int", "value_text", "pk")
    revisions = dict(ResponseRevision.objects.filter(response__participant__in=participants.values())
                     .values("response_id").annotate(n=Count("pk")).values_list("response_id", "n"))
    for participant_id, key, kind, value_int, value_text, pk in rows:
        value = value_text if kind == Item.Kind.FREE_TEXT else str(value_int)
        stored[participant_id][key].append((value, revisions.get(pk, 0)))
    for run in result.participants:
        if not run.token:
            continue
        participant = participants.get(run.token)
        if participant is None:
            problems.append(f"participant {run.index}: no record for its token")
            continue
        if run.finished and participant.status != Participant.Status.COMPLETED:
            problems.append(f"participant {run.index}: finished but stored as {participant.status}")
        if not participant.is_simulated:
            problems.append(f"participant {run.index}: not flagged simulated")
        answers = stored.get(participant.pk, {})
        for key, sent in run.sent.items():
            copies = answers.get(key, [])
            if len(copies) != 1:
                problems.append(f"participant {run.index}: item {key!r} stored {len(copies)} times")
            elif copies[0][0] != sent.strip():
                problems.append(f"participant {run.index}: item {key!r} stored {copies[0][0]!r}, sent {sent!r}")
            elif copies[0][1] != 1:
                problems.append(f"participant {run.index}: item {key!r} has {copies[0][1]} revisions, not 1")
        extra = sorted(set(answers) - set(run.sent))
        if extra:
            problems.append(f"participant {run.index}: answers stored that it never sent: {extra}")
    completed = dict(Condition.objects.filter(study__slug=slug).annotate(
        done=Count("participants", filter=Q_completed())).values_list("slug", "done"))
    if completed and max(completed.values()) - min(completed.values()) > 1:
        problems.append(f"completed counts per condition differ by more than 1: {completed}")
    return Verification(problems=problems, completed_per_condition=completed,
                        responses=sum(len(v) for a in stored.values() for v in a.values()),
                        revisions=sum(revisions.values()))


def Q_completed():  # noqa: N802 - reads like the Q object it returns
    from django.db.models import Q

    from studies.models import Participant

    return Q(participants__status=Participant.Status.COMPLETED)


class SimulatedFlagger:
    """Flags each new participant simulated through ONE shared connection (not one per driver thread)."""

    def __init__(self, database_url: str, slug: str) -> None:
        import psycopg

        self._connection = psycopg.connect(_libpq_url(database_url), autocommit=True)
        self._lock = threading.Lock()
        self._slug = slug

    def __call__(self, token: str) -> None:
        with self._lock:
            updated = self._connection.execute(
                "UPDATE studies_participant SET is_simulated = true WHERE token = %s AND study_id = "
                "(SELECT id FROM studies_study WHERE slug = %s)", (token, self._slug)).rowcount
        if updated != 1:
            raise _Stop(f"could not flag participant {token[:8]}... simulated")

    def close(self) -> None:
        self._connection.close()


def _libpq_url(url: str) -> str:
    return "postgresql://" + url.split("://", 1)[1] if url.startswith("postgres://") else url


# --- gunicorn ----------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Server:
    process: subprocess.Popen
    base_url: str
    log_path: Path

    def worker_pids(self) -> list[int]:
        try:
            children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        except OSError:
            return []
        return [int(pid) for pid in children]

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@contextmanager
def gunicorn(*, env: dict[str, str], workers: int = 4, threads: int = 4, worker_class: str = "gthread",
             timeout: int = 30, log_dir: Path | None = None) -> Iterator[Server]:
    """gunicorn on a free local port with studyserver/gunicorn_conf.py; stopped (SIGTERM, then KILL) on exit."""
    import requests

    port = free_port()
    log_dir = Path(log_dir or tempfile.mkdtemp(prefix="studyserver-gunicorn-"))
    log_path = log_dir / "gunicorn.log"
    command = [sys.executable, "-m", "gunicorn", "-c", str(REPO_ROOT / "studyserver" / "gunicorn_conf.py"),
               "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--threads", str(threads),
               "--worker-class", worker_class, "--timeout", str(timeout), "--max-requests", "0",
               "studyserver.wsgi:application"]
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    server = Server(process, f"http://127.0.0.1:{port}", log_path)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {process.returncode}:\n{server.log_tail()}")
            try:
                if requests.get(server.base_url + "/healthz/", timeout=2).status_code == 200 \
                        and len(server.worker_pids()) >= workers:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not answer /healthz/ within 60 s:\n{server.log_tail()}")
            time.sleep(0.3)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)


def process_memory(pid: int) -> tuple[float, bool]:
    """(resident MiB, whether libtorch is mapped) of a process, from /proc."""
    rss_kib = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss_kib = int(line.split()[1])
    maps = Path(f"/proc/{pid}/maps").read_text()
    return rss_kib / 1024, ("libtorch" in maps or "/torch/_C" in maps)


def server_env(database_url: str, media_root: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "MEDIA_ROOT": media_root,
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECRET_KEY": os.environ.get("SECRET_KEY") or "load-" + os.urandom(24).hex(),
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


# --- the benchmark -----------------------------------------------------------------------------------


def _create_database(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(_libpq_url(admin_url), autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')


def _drop_database(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(_libpq_url(admin_url), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _database_url(admin_url: str, name: str) -> str:
    parts = urlsplit(admin_url)
    return parts._replace(path="/" + name).geturl()


def print_report(result: LoadResult, verification: Verification, memory: list[tuple[int, float, bool]],
                 *, n: int, workers: int, threads: int) -> None:
    timings = [t for t in result.timings if t.status]
    print(f"\nParticipants: {n} arriving, {result.finished} finished, {len(result.errors)} errors, "
          f"{result.retries} retries; gunicorn {workers} gthread workers x {threads} threads")
    print(f"Wall time: {result.elapsed_s:.1f} s; {len(timings)} requests = {len(timings) / result.elapsed_s:.1f} "
          f"requests/s; {result.finished / result.elapsed_s:.2f} completed participants/s")
    statuses = Counter(t.status for t in result.timings)
    print("Statuses: " + ", ".join(f"{status or 'transport error'}: {count}" for status, count in sorted(statuses.items())))
    print(f"\n{'request':<22}{'count':>7}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    for label, count, p50, p95, p99, worst in result.latency_table():
        print(f"{label:<22}{count:>7}{p50:>9.0f}{p95:>9.0f}{p99:>9.0f}{worst:>9.0f}")
    everything = sorted(t.seconds * 1000 for t in timings)
    print(f"{'all requests':<22}{len(everything):>7}{percentile(everything, 50):>9.0f}"
          f"{percentile(everything, 95):>9.0f}{percentile(everything, 99):>9.0f}{everything[-1]:>9.0f}")
    print(f"\nDatabase: {verification.responses} responses, {verification.revisions} revisions; completed per "
          f"condition {verification.completed_per_condition}; problems: {len(verification.problems)}")
    for problem in verification.problems[:20]:
        print("  " + problem)
    for error in result.errors[:20]:
        print("  error: " + error)
    print("\nWeb workers (after the run):")
    for pid, rss, torch_mapped in memory:
        print(f"  pid {pid}: RSS {rss:.0f} MiB, libtorch mapped: {'YES' if torch_mapped else 'no'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200, help="participants (default 200)")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--arrival-seconds", type=float, default=5.0, help="all arrive within this window")
    parser.add_argument("--admin-database-url", default=os.environ.get(
        "LOAD_ADMIN_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres"),
        help="a PostgreSQL database on the server where studyserver_load_<pid> is created")
    parser.add_argument("--keep-database", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.n < 1 or args.workers < 1 or args.threads < 1:
        parser.error("--n, --workers and --threads must be at least 1")

    name = f"studyserver_load_{os.getpid()}"
    database_url = _database_url(args.admin_database_url, name)
    media_root = tempfile.mkdtemp(prefix="studyserver-load-media-")
    _create_database(args.admin_database_url, name)
    print(f"Database {name} created; media in {media_root}")
    try:
        os.environ.update(DATABASE_URL=database_url, MEDIA_ROOT=media_root, DJANGO_SETTINGS_MODULE="studyserver.settings")
        os.environ.pop("CELERY_BROKER_URL", None)
        import django

        django.setup()
        from django.core.management import call_command

        from studies.models import Study

        call_command("migrate", verbosity=0)
        call_command("load_example_study", verbosity=0)
        Study.objects.filter(slug=EXAMPLE_SLUG).update(target_per_condition=None, status=Study.Status.LIVE)
        expected = attention_answers(EXAMPLE_SLUG)
        from django.db import connections

        connections.close_all()
        flagger = SimulatedFlagger(database_url, EXAMPLE_SLUG)
        with gunicorn(env=server_env(database_url, media_root), workers=args.workers, threads=args.threads) as server:
            print(f"gunicorn at {server.base_url}, workers {server.worker_pids()}; driving {args.n} participants")
            result = drive(base_url=server.base_url, slug=EXAMPLE_SLUG, n=args.n, expected=expected,
                           arrival_seconds=args.arrival_seconds, seed=args.seed, on_enter=flagger)
            memory = [(pid, *process_memory(pid)) for pid in server.worker_pids()]
        flagger.close()
        verification = verify(slug=EXAMPLE_SLUG, result=result)
        connections.close_all()
        print_report(result, verification, memory, n=args.n, workers=args.workers, threads=args.threads)
        failed = bool(result.errors or verification.problems or any(mapped for _, _, mapped in memory))
        print("\nRESULT: " + ("FAILED" if failed else "OK (zero errors, every answer stored once, balanced, "
                                                         "no torch in web workers)"))
        return 1 if failed else 0
    finally:
        if not args.keep_database:
            try:
                from django.db import connections

                connections.close_all()
            except Exception:
                pass
            _drop_database(args.admin_database_url, name)
            print(f"Database {name} dropped")


if __name__ == "__main__":
    sys.exit(main())
