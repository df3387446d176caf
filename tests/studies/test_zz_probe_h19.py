import time, re
import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from PIL import Image

from tests.studies.factories import make_study, make_user
from studies.models import Item, Study

pytestmark = pytest.mark.django_db

def seed_study(settings):
    from explainers.models import Checkpoint, GridCell, StimulusGrid
    owner = make_user()
    study = make_study(owner=owner, slug="probe", conditions=2, with_items=False)
    for c in study.conditions.all():
        ck = Checkpoint.objects.create(owner=owner, name=f"ck{c.pk}", file="unused.pt", sha256="0" * 64)
        grid = StimulusGrid.objects.create(owner=owner, name="g", checkpoint=ck, method="counterfactual_interpolation",
            status="ready", progress=100, directory=f"grids/{c.pk}/abcdef012345", column_labels=["a","b","c","d","e"],
            provenance={"display_size": 112})
        GridCell.objects.bulk_create([GridCell(grid=grid, row=r, column=k, image=f"grids/{c.pk}/abcdef012345/r{r}c{k}.png",
                                               logit=0.0, is_original=k == 2, source_index=r) for r in range(30) for k in range(5)])
        c.stimulus_grid = grid; c.stimulus_image = ""; c.save()
    for i in range(6):
        Item.objects.create(study=study, key=f"p{i}", text=f"Pattern {i}", page="stimulus", order=i)
    Item.objects.create(study=study, key="attn", text="choose 2", page="stimulus", order=9, kind="attention_check", expected_answer=2)
    for i in range(5):
        Item.objects.create(study=study, key=f"s{i}", text=f"Sat {i}", page="satisfaction", order=i)
    for i in range(2):
        Item.objects.create(study=study, key=f"f{i}", text=f"Free {i}", page="free_text", order=i, kind="free_text")
    return study

def walk(study, label, verbose=False):
    c = Client()
    rows = []
    url = f"/s/{study.slug}/?PROLIFIC_PID={label}&STUDY_ID=x&SESSION_ID=y"
    method, data = "GET", None
    for n in range(30):
        with CaptureQueriesContext(connection) as q:
            t = time.perf_counter()
            r = c.post(url, data) if method == "POST" else c.get(url)
            ms = (time.perf_counter() - t) * 1000
        page = url.rstrip("/").split("/")[-1]
        rows.append((method, page, r.status_code, len(q), ms, len(r.content)))
        if verbose:
            print(f"--- {method} {page}")
            for x in q.captured_queries: print("   ", x["sql"][:130])
        if r.status_code in (301, 302):
            loc = r["Location"]
            if loc.startswith("http"): break
            url, method, data = loc, "GET", None
            continue
        if page == "complete": break
        html = r.content.decode()
        if page == "consent":
            data = {"consent": "yes"}
        else:
            names = set(re.findall(r'name="(item-[^"]+)"', html))
            data = {}
            for nm in names:
                data[nm] = "2" if "item-f" not in nm else "some text"
            data["action"] = "next"
        method = "POST"
    return rows

def test_probe(settings):
    study = seed_study(settings)
    walk(study, "A")
    rows = walk(study, "B")
    rows = walk(study, "C", verbose=True)
    for r in rows: print("%-5s %-14s %s q=%3d %6.1fms %6.1fKiB" % (r[0], r[1], r[2], r[3], r[4], r[5]/1024))
    print("total queries", sum(r[3] for r in rows), "ms", sum(r[4] for r in rows))
