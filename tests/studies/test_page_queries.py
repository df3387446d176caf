"""What a participant page costs: SQL queries per request pinned, and the per-process structure caches
(a study's items, a grid's HTML) rebuilt when what they were built from changes.

The seed study's shape: two conditions with a 30 × 5 grid each, seven stimulus items (six statements and
an attention check), five satisfaction items, two free texts.
"""
from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client

from explainers.models import Checkpoint, GridCell, StimulusGrid
from studies.models import Item, Participant, Response, ResponseRevision, Study
from studies.selectors import participant_page_items, participant_pages
from studies.structure import study_structure

from .factories import make_study, make_user

pytestmark = pytest.mark.django_db

GRID_ROWS, GRID_COLUMNS = 30, 5

#: Most SQL statements per request of the seed flow (entry, then GET and POST of each page), counted on
#: SQLite where BEGIN IMMEDIATE and COMMIT are statements of their own (two per transaction). Before the
#: caches and bulk writes the flow took 144 queries on PostgreSQL (the POST of the stimulus page alone 30).
#: Pages without questions read no answers; only the stimulus page reads the condition's grid; opening a
#: page's visit is one INSERT (ignored while the page is open), closing it one UPDATE.
QUERY_BUDGET = {
    "entry": 3,
    "GET consent": 2, "POST consent": 12,
    "GET instructions": 2, "POST instructions": 6,
    "GET stimulus": 4, "POST stimulus": 9,
    "GET satisfaction": 3, "POST satisfaction": 9,
    "GET free_text": 3, "POST free_text": 9,
    "GET complete": 1,
}


def _seed_shaped_study() -> Study:
    owner = make_user()
    study = make_study(owner=owner, slug="seed-shaped", conditions=2, with_items=False)
    checkpoint = Checkpoint.objects.create(owner=owner, name="unused", file="unused.pt", sha256="0" * 64)
    for condition in study.conditions.all():
        directory = f"grids/{condition.pk}/0123456789ab"
        grid = StimulusGrid.objects.create(
            owner=owner, name=f"grid {condition.slug}", checkpoint=checkpoint, method="counterfactual_interpolation",
            status=StimulusGrid.Status.READY, progress=100, directory=directory,
            column_labels=["very sure A", "sure A", "unsure", "sure B", "very sure B"], provenance={"display_size": 112})
        GridCell.objects.bulk_create([
            GridCell(grid=grid, row=row, column=column, image=f"{directory}/r{row}c{column}.png", logit=column - 2.0,
                     is_original=column == 2, source_index=row)
            for row in range(GRID_ROWS) for column in range(GRID_COLUMNS)])
        condition.stimulus_grid = grid
        condition.save()
    for index in range(6):
        Item.objects.create(study=study, key=f"pattern{index}", text=f"Statement {index}", page=Item.Page.STIMULUS,
                            order=index)
    Item.objects.create(study=study, key="attention", text="Please choose 2.", page=Item.Page.STIMULUS, order=9,
                        kind=Item.Kind.ATTENTION_CHECK, expected_answer=2)
    for index in range(5):
        Item.objects.create(study=study, key=f"satisfaction{index}", text=f"Satisfaction {index}",
                            page=Item.Page.SATISFACTION, order=index)
    for index in range(2):
        Item.objects.create(study=study, key=f"comment{index}", text=f"Comment {index}", page=Item.Page.FREE_TEXT,
                            order=index, kind=Item.Kind.FREE_TEXT)
    return study


def _walk(client: Client, study: Study, label: str, on_request=None) -> dict[str, str]:
    """One participant from the Prolific link to the completion page; returns what they answered."""
    url = f"/s/{study.slug}/?PROLIFIC_PID={label}&STUDY_ID=s&SESSION_ID=x"
    request, data, sent = "entry", None, {}
    for _ in range(20):
        def send():
            return client.post(url, data) if data is not None else client.get(url)

        response = on_request(request, send) if on_request else send()
        assert response.status_code in (200, 302), (request, response.status_code)
        if response.status_code == 302:
            url, data = response["Location"], None
            if url.startswith("http"):  # back to Prolific
                return sent
            request = "GET " + url.rstrip("/").rsplit("/", 1)[-1]
            continue
        page = request.split(" ", 1)[1]
        if page == "complete":
            return sent
        html = response.content.decode()
        if page in ("consent",):
            data = {"consent": "yes"}
        else:
            fields = sorted(set(re.findall(r'name="(item-[^"]+)"', html)))
            data = {name: ("2" if "comment" not in name else f"{label} says hello") for name in fields}
            data["action"] = "next"
            sent.update({name[len("item-"):]: value for name, value in data.items() if name.startswith("item-")})
        request = "POST " + page
    raise AssertionError("the participant never finished")


@pytest.mark.django_db(transaction=True)  # real transactions: no test savepoints among the counted queries
def test_each_page_stays_within_its_query_budget(django_assert_max_num_queries, settings):
    settings.PROCESS_CACHE_MAX_AGE = 3600  # a slow machine must not expire the warm caches mid-test
    study = _seed_shaped_study()
    for label in ("WARMUP1", "WARMUP2"):  # one per condition: they fill this process's caches
        _walk(Client(), study, label)
    seen = []

    def counted(request, send):
        seen.append(request)
        # PostgreSQL: no BEGIN/COMMIT statements, but the allocation's SET LOCAL synchronous_commit.
        extra = 1 if request == "POST consent" and connection.vendor == "postgresql" else 0
        with django_assert_max_num_queries(QUERY_BUDGET[request] + extra, info=request):
            return send()

    sent = _walk(Client(), study, "COUNTED", on_request=counted)
    assert set(seen) == set(QUERY_BUDGET)
    participant = Participant.objects.get(external_id="COUNTED")
    assert participant.status == Participant.Status.COMPLETED
    stored = {r.item.key: (r.value_text or str(r.value_int)) for r in participant.responses.select_related("item")}
    assert stored == sent and len(stored) == 14
    assert ResponseRevision.objects.filter(response__participant=participant).count() == 14


def test_the_grid_html_is_rendered_once_per_process_and_follows_an_edited_cell(django_assert_max_num_queries):
    study = _seed_shaped_study()
    client = Client()
    _walk(client, study, "FIRST")
    participant = Participant.objects.get(external_id="FIRST")
    grid = participant.condition.stimulus_grid
    cell = grid.cells.get(row=0, column=0)
    cell.image = f"{grid.directory}/replaced.png"
    cell.save()
    other = Client()
    pages = []

    def record(request, send):
        response = send()
        if request == "GET stimulus":
            pages.append(response.content.decode())
        return response

    _walk(other, study, "SECOND", on_request=record)
    if Participant.objects.get(external_id="SECOND").condition_id == participant.condition_id:
        assert "replaced.png" in pages[0]
    assert pages[0].count('class="stimulus-grid__image') >= GRID_ROWS * GRID_COLUMNS


def test_a_draft_studys_items_are_read_again_once_they_change():
    study = _seed_shaped_study()
    Study.objects.filter(pk=study.pk).update(status=Study.Status.DRAFT)
    before = study_structure(study_id=study.pk)
    assert len(before.items) == 14
    participant = Participant(study=study, condition=study.conditions.first())
    assert [i.key for i in participant_page_items(participant=participant, page=Item.Page.FREE_TEXT)] == [
        "comment0", "comment1"]

    added = Item.objects.create(study=study, key="comment2", text="More?", page=Item.Page.FREE_TEXT, order=5,
                                kind=Item.Kind.FREE_TEXT)
    assert [i.key for i in participant_page_items(participant=participant, page=Item.Page.FREE_TEXT)] == [
        "comment0", "comment1", "comment2"]

    added.text = "Anything more?"
    added.save()
    texts = {item.key: item.text for item in study_structure(study_id=study.pk).items}
    assert texts["comment2"] == "Anything more?"

    Item.objects.filter(page=Item.Page.SATISFACTION).delete()
    assert "satisfaction" not in participant_pages(participant=participant)
    assert len(study_structure(study_id=study.pk).items) == 10


def test_a_changed_answer_keeps_every_revision_when_written_in_bulk():
    from studies.services import responses_save

    study = _seed_shaped_study()
    participant = Participant.objects.create(study=study, condition=study.conditions.first(), platform="prolific",
                                             current_page=Item.Page.STIMULUS)
    responses_save(participant=participant, page=Item.Page.STIMULUS, answers={"pattern0": "2", "pattern1": "2"})
    responses_save(participant=participant, page=Item.Page.STIMULUS, answers={"pattern0": "5", "pattern1": "2"})
    responses_save(participant=participant, page=Item.Page.STIMULUS, answers={"pattern0": "6", "pattern2": "7"})
    response = Response.objects.get(participant=participant, item__key="pattern0")
    assert response.value_int == 6
    assert list(response.revisions.values_list("value_int", flat=True)) == [2, 5, 6]
    assert list(response.revisions.values_list("page", flat=True)) == [Item.Page.STIMULUS] * 3
    unchanged = Response.objects.get(participant=participant, item__key="pattern1")
    assert unchanged.revisions.count() == 1  # the same answer again is no new revision
    assert Response.objects.filter(participant=participant).count() == 3
    assert ResponseRevision.objects.filter(response__participant=participant).count() == 5
