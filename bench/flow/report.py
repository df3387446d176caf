"""The figures: per system completed participants/s, requests/s, p50/p95/p99 per page, the ratio to oTree,
and the in-process probe of queries and time per request."""
from __future__ import annotations

from collections import Counter, defaultdict

from bench.flow.client import RunResult
from bench.flow.systems import SystemRun

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
    # With --assets: each page as a participant waits for it, the GET and everything it loads.
    load_ms = sorted(t.seconds * 1000 for t in everything if t.label.startswith("load "))
    return {"participants_per_s": result.finished / result.elapsed_s,
            "page_requests_per_s": len(pages) / result.elapsed_s,
            "requests_per_s": len([t for t in everything if not t.label.startswith("load ")]) / result.elapsed_s,
            "p50": percentile(page_ms, 50), "p95": percentile(page_ms, 95), "p99": percentile(page_ms, 99),
            "load_p50": percentile(load_ms, 50) if load_ms else None,
            "load_p95": percentile(load_ms, 95) if load_ms else None}


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
    if assets:
        print(f"\n{'system':<10}{'page load p50 ms':>18}{'page load p95 ms':>18}{'p95 / oTree':>13}")
        for run in runs:
            f = figures[run.name]
            ratio = f"{f['load_p95'] / reference['load_p95']:.2f}" if reference and reference["load_p95"] else "-"
            print(f"{run.name:<10}{f['load_p50']:>18.0f}{f['load_p95']:>18.0f}{ratio:>13}")
        print("(page load: a page's GET and every subresource it loads, as a participant waits for it)")


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

