"""The seed study's stimulus page in a real browser: the grid drawn from its sprite against one image per cell.

`python bench/grid_browser.py [--participants 12] [--concurrency 3] [--preset demo|quick]` builds the demo
study (`manage.py demo --no-serve`, on SQLite in var/bench/platform-grid-browser/), then serves it twice with
gunicorn and studyserver/gunicorn_conf.py, once with STIMULUS_GRID_SPRITES=1 (the default: every cell drawn
from the grid's sprite) and once with 0 (one lazily loading <img> per cell file), and walks participants
through consent and instructions to the stimulus page in headless Chromium (Debian's /usr/bin/chromium),
each in a fresh browser context (an empty cache), ``--concurrency`` at a time.

On the stimulus page the participant scrolls through the grid at once (700 px a frame, so lazy images
are all requested as early as a browser would) and the page records, from the navigation's start (the click on Next):
- ``grid ready``: every cell displayable: the sprite loaded and decoded, or every cell's <img> complete;
- ``load``: the load event; requests and bytes transferred for the page (Resource Timing).
Printed per variant: median and p90 of each, and the ratio sprite / cells side by side.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.flow.systems import PlatformSystem  # noqa: E402

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]

#: Runs in the stimulus page: scroll through the grid, wait until every cell can be shown, report timings.
MEASURE_GRID = """async () => {
  const sleep = ms => new Promise(done => setTimeout(done, ms));
  const grid = document.querySelector(".stimulus-grid");
  const sprite = grid && getComputedStyle(grid).getPropertyValue("--sprite-image").trim();
  const frame = () => new Promise(done => requestAnimationFrame(done));
  for (let y = 0; y < document.documentElement.scrollHeight; y += 700) { window.scrollTo(0, y); await frame(); }
  const images = [...document.querySelectorAll(".stimulus-grid img")];
  if (sprite) {
    const url = new URL(sprite.replace(/^url\\(["']?|["']?\\)$/g, ""), location.href).href;
    const image = new Image(); image.src = url; await image.decode();  // from the cache the page filled
  } else {
    while (!images.every(i => i.complete && i.naturalWidth > 0)) await sleep(10);
  }
  const ready = performance.now();
  while (performance.getEntriesByType("navigation")[0].loadEventEnd === 0) await sleep(10);
  const navigation = performance.getEntriesByType("navigation")[0];
  const resources = performance.getEntriesByType("resource");
  return {grid_ready_ms: ready, load_ms: navigation.loadEventEnd,
          requests: 1 + resources.length, image_requests: resources.filter(r => r.initiatorType === "img"
              || r.initiatorType === "css").length,
          kib: (navigation.transferSize + resources.reduce((s, r) => s + r.transferSize, 0)) / 1024,
          cells: document.querySelectorAll(".stimulus-grid__image").length, sprite: Boolean(sprite)};
}"""


async def _participant(browser, entry_url: str) -> dict:
    context = await browser.new_context(viewport={"width": 1366, "height": 768})
    try:
        page = await context.new_page()
        await page.goto(entry_url)
        await page.click("#agree")
        await page.wait_for_url("**/instructions/")
        await page.click("#next")
        await page.wait_for_url("**/stimulus/", wait_until="domcontentloaded")
        return await page.evaluate(MEASURE_GRID)
    finally:
        await context.close()


async def _drive(entry: str, participants: int, concurrency: int, offset: int) -> list[dict]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        gate = asyncio.Semaphore(concurrency)

        async def one(index: int) -> dict:
            async with gate:
                return await _participant(browser, entry.format(label=f"browser-{offset + index}"))

        try:
            return await asyncio.gather(*(one(i) for i in range(participants)))
        finally:
            await browser.close()


def _summary(rows: list[dict], key: str) -> tuple[float, float]:
    values = sorted(row[key] for row in rows)
    return statistics.median(values), values[min(len(values) - 1, int(round(0.9 * (len(values) - 1))))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--participants", type=int, default=12, help="per variant")
    parser.add_argument("--concurrency", type=int, default=3, help="browser contexts at a time")
    parser.add_argument("--preset", choices=["quick", "demo"], default="demo",
                        help="demo: the shipped seed model's 64 px grids; quick: a tiny model's 32 px grids")
    args = parser.parse_args(argv)
    platform = PlatformSystem("grid-browser", preset=args.preset, admin_database_url="")
    started = time.monotonic()
    study = platform.build()
    print(f"[build] study {study['slug']!r} in {time.monotonic() - started:.0f} s", flush=True)
    results: dict[str, list[dict]] = {}
    try:
        for offset, (variant, flag) in enumerate((("sprite", "1"), ("cells", "0"))):
            with platform.serving(STIMULUS_GRID_SPRITES=flag) as (server, _):
                rows = asyncio.run(_drive(platform.entry_url(server), args.participants, args.concurrency,
                                          offset * 10_000))
            if any(row["sprite"] != (flag == "1") for row in rows):
                raise SystemExit(f"{variant}: the page did not draw the grid as asked: {rows}")
            results[variant] = rows
            print(f"[run] {variant}: {len(rows)} participants, {rows[0]['cells']} cells", flush=True)
    finally:
        platform.cleanup(keep=False)
    print(f"\nStimulus page in headless Chromium {'(' + os.uname().nodename + ')'}, 1366 x 768, an empty cache per "
          f"participant, {args.participants} participants per variant, {args.concurrency} at a time, "
          f"gunicorn on SQLite")
    print("| measure | sprite median (p90) | one image per cell median (p90) | sprite / cells (medians) |")
    print("|---|---|---|---|")
    for key, label in (("grid_ready_ms", "grid ready, ms from Next"), ("load_ms", "load event, ms from Next"),
                       ("requests", "requests"), ("image_requests", "image requests"), ("kib", "KiB transferred")):
        sprite, cells = _summary(results["sprite"], key), _summary(results["cells"], key)
        ratio = sprite[0] / cells[0] if cells[0] else float("nan")
        print(f"| {label} | {sprite[0]:.0f} ({sprite[1]:.0f}) | {cells[0]:.0f} ({cells[1]:.0f}) | {ratio:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
