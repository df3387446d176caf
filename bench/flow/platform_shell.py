"""What runs inside this platform's `manage.py shell` (Django set up on the bench database): the study made
ready for load and exported for oTree, the checks of the stored data, the in-process query probe. Each
function writes its result as JSON to $BENCH_FLOW_OUT."""
from __future__ import annotations

import json
import os
import random
import time
from collections import Counter, defaultdict
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from bench.flow import ITEM_FIELD_PREFIX, MAX_REQUESTS_PER_PARTICIPANT, PLATFORM_ENTRY_QUERY
from bench.flow.client import PageParser, fill, page_name

def _write_out(payload: dict) -> None:
    Path(os.environ["BENCH_FLOW_OUT"]).write_text(json.dumps(payload))


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
    # One client for all: a Client loads the middleware at its first request (WhiteNoise indexes every static
    # file then), which a web process does once at start, not per participant.
    client = Client(HTTP_HOST="127.0.0.1")
    for index in range(participants):
        client.cookies.clear()
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


