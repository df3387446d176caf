"""`python -m bench.flow` (or `python bench/flow`): build, serve and drive each system, then report."""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # `python bench/flow`: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.flow import BENCH_DIR, OTREE_REQUIREMENT, REPO_ROOT, __doc__ as FLOW_DOC  # noqa: E402
from bench.flow.report import print_probe, print_report  # noqa: E402
from bench.flow.systems import OTreeSystem, PlatformSystem, SystemRun  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=FLOW_DOC.split("\n\n")[0])
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
