"""The participant flow side by side: this platform (SQLite and PostgreSQL) against oTree, same client.

    python -m bench.flow [--systems otree,sqlite,postgres] [--participants 200] [--concurrency 50]
                         [--assets] [--quick] [--preset quick|demo] [--keep]

(`python bench/flow ...` runs the same.) The package: `client.py` the browser-like client that no system
wrote, `systems.py` the systems under test, `platform_shell.py` what runs inside this platform's
`manage.py shell` (build for load, checks, the query probe), `report.py` the figures, `__main__.py` the run.

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
   studyserver/gunicorn_conf.py (its worker and thread counts as the server's environment gives them;
   recycling off during the run) on each database, the load starting once every worker logged its warm-up;
4. drives N participants, C at a time, with the same generic client: GET a page, parse its form (inputs,
   radios, selects, textareas, hidden fields incl. the CSRF token, submit buttons), fill in valid answers
   (random Likert points, free text; the attention check answered as instructed), POST, follow redirects
   until a page without a submit button or a redirect to another site (the recruiting platform). With
   --assets each participant is also a fresh browser: it loads every image, script and stylesheet a page
   references (and the url()s of stylesheets and style attributes), honouring Cache-Control, Expires, ETag and Last-Modified
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

On a machine shared with other jobs, run everything of the bench at a higher priority than those jobs, the
database included, so that they do not decide the result: e.g. a private cluster started with
`nice -n -10 su postgres -c "pg_ctl -D DIR -o '-p 55432' start"` and
`nice -n -10 python -m bench.flow --admin-database-url postgres://postgres@127.0.0.1:55432/postgres`.
"""
from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

BENCH_DIR = REPO_ROOT / "var" / "bench"
OTREE_REQUIREMENT = "otree==6.0.15"
OTREE_APP_SOURCE = Path(__file__).resolve().parents[1] / "otree_seed"
OTREE_APP = "otree_seed"
PLATFORM_ENTRY_QUERY = "?PROLIFIC_PID={label}&STUDY_ID=bench-flow&SESSION_ID=bench-{label}"
ITEM_FIELD_PREFIX = "item-"
FREE_TEXTS = (
    "I looked at how the arms changed from left to right.",
    "Mostly colour, a bit of rotation.",
    "Die Arme \u00e4ndern sich am st\u00e4rksten \u2013 glaube ich.",
)
MAX_REQUESTS_PER_PARTICIPANT = 60
