"""Launch-day load: N participants arrive within seconds and complete the study against gunicorn + PostgreSQL.

    python bench/load.py [--n 200] [--workers 4] [--threads 4] [--arrival-seconds 5]

What it does, in order:
1. creates its own database studyserver_load_<pid> on the PostgreSQL server of --admin-database-url,
   migrates it and loads the example study (`manage.py load_example_study`), made unlimited;
2. starts gunicorn (studyserver/gunicorn_conf.py, gthread workers) as a subprocess on a free port;
3. drives N simulated participants (the studies.simulation bot over HTTP, one requests.Session each) on
   threads, starting uniformly within --arrival-seconds; every participant takes the real flow (entry,
   consent, instructions, stimulus, satisfaction, free text, complete), checks each page's form, posts it
   with the CSRF token and records what it sent; every request is timed;
4. prints throughput, p50/p95/p99 latency per page type and the error count;
5. verifies from the database that every answer each participant sent is stored exactly once (one
   Response with the sent value and one revision, nothing else) and that completed counts per condition
   differ by at most 1;
6. reports the resident memory (VmRSS) of every gunicorn worker and whether any of them mapped libtorch;
7. stops gunicorn and drops the database (unless --keep-database).

Participants are flagged simulated (Participant.is_simulated) right after entering, before consent, by the
simulation's registry, its queries funnelled through one thread so that N participants share one database
connection. The driver and the checks are importable
(tests/integration/test_load.py runs a 40-participant version against the pytest test database).

One cohesive benchmark kept in one file (a little over the house limit): its database lifecycle, gunicorn
runner, driver, checks and report are imported together by the integration tests and bench/flow/.
"""
from __future__ import annotations

import argparse
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator
from urllib.parse import urlsplit

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from studies.simulation import (  # noqa: E402  (importing the package needs no Django)
    BotOutcome,
    RequestsTransport,
    ResponsePolicy,
    Timing,
)

EXAMPLE_SLUG = "example-study"
FREE_TEXTS = (
    "I looked at how the arms changed from left to right.",
    "Mostly colour, a bit of rotation.",
    "Hard to say; the rows looked alike.",
    "Die Arme \u00e4ndern sich am st\u00e4rksten \u2013 glaube ich.",
)


# --- the participants --------------------------------------------------------------------------------


class LoadPolicy(ResponsePolicy):
    """The seed study's answer shares; free texts carry non-ASCII text and the participant's number, so a
    text stored under the wrong participant cannot pass the verification."""

    free_texts = FREE_TEXTS

    def free_text(self, rng, participant: int) -> str:
        return super().free_text(rng, participant) + f" #{participant}"


@dataclass
class ParticipantRun:
    index: int
    token: str = ""
    finished: bool = False
    sent: dict[str, str] = field(default_factory=dict)  # item key -> value of the accepted form posts
    timings: list[Timing] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    retries: int = 0

    @classmethod
    def of(cls, outcome: BotOutcome, transport: RequestsTransport) -> ParticipantRun:
        return cls(index=outcome.index, token=outcome.token, finished=outcome.finished, sent=dict(outcome.sent),
                   timings=list(transport.timings), errors=[outcome.error] if outcome.status == "stuck" else [],
                   retries=transport.retried)


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


def drive(*, base_url: str, slug: str, n: int, registry, arrival_seconds: float = 5.0, retries: int = 0,
          seed: int = 0, pause: Callable[[str], None] | None = None) -> LoadResult:
    """Run n simulated participants (the studies.simulation bot over HTTP) at once, their starts spread
    uniformly over arrival_seconds; `registry` flags them simulated (a SingleConnectionRegistry, so the
    n threads share one database connection); `pause(page)` runs before each page's POST."""
    from django.conf import settings

    from studies.models import Study
    from studies.simulation import Bot, BotPlan, bot_plans, bots_run, policy_default, study_spec_from

    spec = study_spec_from(Study.objects.get(slug=slug))
    policy = LoadPolicy(policy_default(spec))
    plans = bot_plans(n, seed=seed)
    chooser = random.Random(seed)
    offsets = sorted(chooser.uniform(0, arrival_seconds) for _ in range(n))
    transports: dict[int, RequestsTransport] = {}

    def make_bot(plan: BotPlan) -> Bot:
        transport = transports[plan.index] = RequestsTransport(base_url, timeout=60.0, retries=retries)
        return Bot(plan=plan, spec=spec, policy=policy, transport=transport, registry=registry,
                   completion_base_url=settings.PROLIFIC_COMPLETION_BASE_URL, before_submit=pause)

    outcomes, elapsed = bots_run(plans, make_bot, concurrency=n, arrival_offsets=offsets)
    for transport in transports.values():
        transport.close()
    return LoadResult([ParticipantRun.of(outcome, transports[outcome.index]) for outcome in outcomes], elapsed)


# --- checks against the database (Django ORM) --------------------------------------------------------


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

    from studies.models import Item, Participant, Response, ResponseRevision, Study
    from studies.selectors import condition_completed_counts

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
    completed = condition_completed_counts(study=Study.objects.get(slug=slug))
    if completed and max(completed.values()) - min(completed.values()) > 1:
        problems.append(f"completed counts per condition differ by more than 1: {completed}")
    return Verification(problems=problems, completed_per_condition=completed,
                        responses=sum(len(v) for a in stored.values() for v in a.values()),
                        revisions=sum(revisions.values()))


def _libpq_url(url: str) -> str:
    return "postgresql://" + url.split("://", 1)[1] if url.startswith("postgres://") else url


# --- gunicorn ----------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


#: What studyserver/gunicorn_conf.py logs when a worker is ready for requests.
WORKER_READY = "warmed up"


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

    def workers_ready(self) -> int:
        """How many workers finished their warm-up (studyserver/gunicorn_conf.py logs it)."""
        try:
            return self.log_path.read_text(errors="replace").count(WORKER_READY)
        except OSError:
            return 0

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
                # Every worker warmed up, so the load meets the server as a live study would.
                if requests.get(server.base_url + "/healthz/", timeout=2).status_code == 200 \
                        and len(server.worker_pids()) >= workers and server.workers_ready() >= workers:
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
        # Hundreds of simulated people arrive from this one address: the per-address limits would stop them.
        "PARTICIPANT_ENTRY_LIMIT_PER_MINUTE": "0",
        "PARTICIPANT_POST_LIMIT_PER_MINUTE": "0",
        "API_ANON_RATE": "100000/min",
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
        from django.db import connections

        from studies.simulation import ParticipantRegistry, SingleConnectionRegistry

        connections.close_all()
        registry = SingleConnectionRegistry(ParticipantRegistry(EXAMPLE_SLUG))
        with gunicorn(env=server_env(database_url, media_root), workers=args.workers, threads=args.threads) as server:
            print(f"gunicorn at {server.base_url}, workers {server.worker_pids()}; driving {args.n} participants")
            result = drive(base_url=server.base_url, slug=EXAMPLE_SLUG, n=args.n, registry=registry,
                           arrival_seconds=args.arrival_seconds, seed=args.seed)
            memory = [(pid, *process_memory(pid)) for pid in server.worker_pids()]
        registry.close()
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
