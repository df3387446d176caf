"""Speed of the analysis: 10 000 participants x 12 Likert items, two conditions.

1. Pure functions (stats.analysis.analyze_items) on in-memory answers.
2. The whole service (stats.services.analysis_run: load from the database, exclusions, sha256, tests,
   hypotheses, persist) on a throw-away SQLite database, plus the long-CSV export and chart rendering.

Run: python bench/stats.py [--participants 10000] [--items 12] [--skip-db]
Prints seconds; nothing is asserted (record the figures in docs/BENCHMARKS.md, section "## Stats").
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def synthetic_answers(participants: int, items: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    agree = np.array([0.02, 0.03, 0.05, 0.1, 0.2, 0.3, 0.3])
    undecided = np.array([0.1, 0.15, 0.15, 0.2, 0.15, 0.15, 0.1])
    half = participants // 2
    answers = {}
    for index in range(items):
        answers[f"item{index:02d}"] = {
            "cf": rng.choice(np.arange(1, 8), size=half, p=agree if index % 3 == 0 else undecided).tolist(),
            "bl": rng.choice(np.arange(1, 8), size=participants - half, p=undecided).tolist(),
        }
    return answers


def bench_pure(participants: int, items: int) -> None:
    from stats.analysis import ItemSpec, analyze_items

    answers = synthetic_answers(participants, items)
    specs = [ItemSpec(key, group="pattern" if i < items // 2 else "satisfaction", reverse_coded=i == 1)
             for i, key in enumerate(answers)]
    start = time.perf_counter()
    results = analyze_items(items=specs, conditions=["cf", "bl"], answers=answers)
    elapsed = time.perf_counter() - start
    significant = sum(item["test"]["significant"] for item in results["items"])
    print(f"pure analyze_items: {participants} participants x {items} items: {elapsed:.3f} s "
          f"({significant} significant)")


def bench_service(participants: int, items: int) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="stats-bench-"))
    os.environ["DATABASE_URL"] = f"sqlite:///{workdir / 'bench.sqlite3'}"
    os.environ.setdefault("STUDYSERVER_VAR_DIR", str(workdir))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studyserver.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.utils import timezone

    from stats.reports import analysis_html
    from stats.services import AnalysisParameters, analysis_run
    from stats.services.exports import responses_export
    from studies.models import Condition, Item, PageVisit, Participant, Response, Study

    call_command("migrate", verbosity=0)
    owner = get_user_model().objects.create_user("bench")
    study = Study.objects.create(owner=owner, slug="bench", title="Bench")
    conditions = {slug: Condition.objects.create(study=study, slug=slug, name=slug, order=i)
                  for i, slug in enumerate(["cf", "bl"])}
    answers = synthetic_answers(participants, items)
    item_rows = {key: Item.objects.create(study=study, key=key, text=key, order=i,
                                          group="pattern" if i < items // 2 else "satisfaction")
                 for i, key in enumerate(answers)}
    start = time.perf_counter()
    now = timezone.now()
    half = participants // 2
    people = Participant.objects.bulk_create(
        [Participant(study=study, condition=conditions["cf" if i < half else "bl"], platform="link",
                     status="completed", token=f"t{i}", completed_at=now) for i in range(participants)],
        batch_size=2000,
    )
    responses = []
    for key, per_condition in answers.items():
        values = per_condition["cf"] + per_condition["bl"]
        responses.extend(Response(participant=p, item=item_rows[key], value_int=v) for p, v in zip(people, values))
    Response.objects.bulk_create(responses, batch_size=5000)
    PageVisit.objects.bulk_create([PageVisit(participant=p, page="stimulus", entered_at=now, left_at=now, seconds=60)
                                   for p in people], batch_size=5000)
    print(f"setup: {participants} participants, {len(responses)} responses inserted in "
          f"{time.perf_counter() - start:.1f} s (SQLite)")
    for label, params in (("service analysis_run (min_stimulus_seconds=30)",
                           AnalysisParameters(min_stimulus_seconds=30)),
                          ("service analysis_run again (same data)", AnalysisParameters(min_stimulus_seconds=30))):
        start = time.perf_counter()
        analysis = analysis_run(study=study, parameters=params)
        print(f"{label}: {time.perf_counter() - start:.3f} s (hash {analysis.data_hash[:12]}, "
              f"{analysis.results['exclusions']['included']} included)")
    start = time.perf_counter()
    analysis_html(analysis.results)
    print(f"HTML report with both charts: {time.perf_counter() - start:.3f} s")
    start = time.perf_counter()
    content, _, _ = responses_export(study=study, fmt="long")
    print(f"long CSV export: {time.perf_counter() - start:.3f} s ({len(content) / 1e6:.1f} MB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=10_000)
    parser.add_argument("--items", type=int, default=12)
    parser.add_argument("--skip-db", action="store_true")
    args = parser.parse_args()
    bench_pure(args.participants, args.items)
    if not args.skip_db:
        bench_service(args.participants, args.items)


if __name__ == "__main__":
    main()
