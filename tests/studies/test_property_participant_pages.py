"""Property-based: random and malformed requests against every participant page never cause a 5xx, and the
database stays consistent (answers only to the participant's own items, values within the scale, one
answer per item, the revision history ending in the stored value, nothing changed for anybody else)."""
from __future__ import annotations

import itertools
import json

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from studies import selectors
from studies.models import FREE_TEXT_MAX_LENGTH, Item, Participant, Response, ResponseRevision, Study
from studies.views import participant_url, sign_token
from tests.studies.factories import make_study, make_user

BOUNDED = settings(max_examples=25, deadline=None, database=None,
                   suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
PAGES = ["consent", "instructions", "stimulus", "satisfaction", "free_text", "complete"]
ITEM_KEYS = ["arms", "colour", "attn", "useful", "comments", "nope", "", "../arms", "arms\x00"]
_pids = itertools.count()

nasty_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", " ", "0", "-1", "1", "2", "7", "8", "99999999999999999999", "1.5", "1e3", " 3 ",
                     "\x00", "true", "null", "[]", "{}", "<script>alert(1)</script>", "' OR 1=1 --", "٣",
                     "x" * (FREE_TEXT_MAX_LENGTH + 1)]),
)
form_fields = st.dictionaries(
    keys=st.one_of(st.sampled_from([f"item-{key}" for key in ITEM_KEYS] + ["consent", "action", "page", "csrf"]),
                   st.text(max_size=12)),
    values=st.one_of(nasty_text, st.sampled_from(["yes", "no", "next", "back", "maybe"])),
    max_size=8,
)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=True), nasty_text),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=6,
)
save_bodies = st.one_of(
    st.builds(lambda answers: json.dumps({"answers": answers}),
              st.dictionaries(st.sampled_from(ITEM_KEYS) | st.text(max_size=8), json_values, max_size=5)),
    st.builds(json.dumps, json_values),
    st.binary(max_size=60).map(lambda b: b.decode("latin-1")),
)


@pytest.fixture
def studies(db):
    owner = make_user()
    target = make_study(owner=owner, slug="fuzz-target")
    bystander = make_study(owner=owner, slug="fuzz-bystander")
    return target, bystander


def _advance(client: Client, participant: Participant, stage: int) -> None:
    """Take the participant honestly through the first `stage` pages before the attack."""
    steps = [("consent", {"consent": "yes"}), ("instructions", {"action": "next"}),
             ("stimulus", {"item-arms": "5", "item-colour": "2", "item-attn": "2", "action": "next"}),
             ("satisfaction", {"item-useful": "6", "action": "next"}),
             ("free_text", {"item-comments": "fine", "action": "next"})]
    for page, data in steps[:stage]:
        client.post(participant_url(participant, page), data)


def _new_participant(study: Study, stage: int) -> tuple[Client, Participant]:
    client = Client()
    pid = f"fuzz-{next(_pids)}"
    client.get(f"/s/{study.slug}/", {"PROLIFIC_PID": pid, "STUDY_ID": "s", "SESSION_ID": pid})
    participant = Participant.objects.get(study=study, external_id=pid)
    _advance(client, participant, stage)
    participant.refresh_from_db()
    return client, participant


def _snapshot(study: Study) -> list[tuple]:
    return sorted(Response.objects.filter(participant__study=study).values_list(
        "participant_id", "item_id", "value_int", "value_text"))


def assert_consistent(participant: Participant) -> None:
    participant.refresh_from_db()
    assert participant.current_page in selectors.PAGE_SEQUENCE
    allowed = {item.pk: item for item in selectors.participant_items(participant=participant)}
    responses = list(Response.objects.filter(participant=participant))
    assert len({r.item_id for r in responses}) == len(responses)
    if responses:
        assert participant.condition_id is not None
    for response in responses:
        item = allowed.get(response.item_id)
        assert item is not None, "an answer to an item outside the participant's study or condition"
        if item.kind == Item.Kind.FREE_TEXT:
            assert response.value_int is None and len(response.value_text) <= FREE_TEXT_MAX_LENGTH
        else:
            assert response.value_text == "" and 1 <= response.value_int <= item.scale_points
        revisions = list(ResponseRevision.objects.filter(response=response).order_by("created_at", "pk"))
        assert revisions, "an answer without its revision history"
        assert (revisions[-1].value_int, revisions[-1].value_text) == (response.value_int, response.value_text)
    if participant.status == Participant.Status.DECLINED:
        assert not responses and participant.condition_id is None


@BOUNDED
@given(stage=st.integers(0, 5), page=st.sampled_from(PAGES + ["nope", "CONSENT", "save"]), data=form_fields,
       method=st.sampled_from(["GET", "POST", "POST", "HEAD"]))
def test_random_form_posts_never_error_and_keep_the_database_consistent(studies, stage, page, data, method):
    target, bystander = studies
    client, participant = _new_participant(target, stage)
    _, other = _new_participant(bystander, 3)
    before = _snapshot(bystander)
    url = f"/s/{target.slug}/p/{sign_token(participant)}/{page}/"
    response = client.post(url, data) if method == "POST" else client.generic(method, url)
    assert response.status_code < 500
    assert_consistent(participant)
    assert_consistent(other)
    assert _snapshot(bystander) == before


@BOUNDED
@given(stage=st.integers(0, 5), page=st.sampled_from(PAGES + ["nope"]), body=save_bodies,
       content_type=st.sampled_from(["application/json", "text/plain", "application/x-www-form-urlencoded"]))
def test_random_autosave_bodies_never_error_and_keep_the_database_consistent(studies, stage, page, body,
                                                                             content_type):
    target, bystander = studies
    client, participant = _new_participant(target, stage)
    before = _snapshot(bystander)
    response = client.post(participant_url(participant, page) + "save/", body, content_type=content_type)
    assert response.status_code < 500
    if response.status_code >= 400 and response["Content-Type"].startswith("application/json"):
        assert "errors" in response.json()
    assert_consistent(participant)
    assert _snapshot(bystander) == before


@BOUNDED
@given(query=st.dictionaries(
    st.sampled_from(["PROLIFIC_PID", "STUDY_ID", "SESSION_ID", "assignmentId", "hitId", "workerId",
                     "turkSubmitTo"]) | st.text(max_size=10),
    st.one_of(st.text(max_size=30), st.sampled_from(["", "ASSIGNMENT_ID_NOT_AVAILABLE", "x" * 300,
                                                     "javascript:alert(1)", "https://evil.example/"])),
    max_size=6),
    platform=st.sampled_from([Study.Platform.PROLIFIC, Study.Platform.MTURK, Study.Platform.LINK]))
def test_entry_with_weird_query_parameters_never_errors(studies, query, platform):
    target, _ = studies
    Study.objects.filter(pk=target.pk).update(platform=platform)
    before = Participant.objects.filter(study=target).count()
    response = Client().get(f"/s/{target.slug}/", query)
    assert response.status_code < 500
    created = Participant.objects.filter(study=target).count() - before
    assert created in (0, 1)
    if response.status_code == 302:
        assert response["Location"].startswith(f"/s/{target.slug}/p/")
    for participant in Participant.objects.filter(study=target).order_by("-pk")[:created]:
        assert participant.condition_id is None and not participant.responses.exists()
        assert len(participant.external_id) <= 128


# --- NUL bytes: found by running the properties above on PostgreSQL --------------------------------------

def _on_postgresql() -> bool:
    from django.db import connection

    return connection.vendor == "postgresql"


@pytest.mark.integration
@pytest.mark.skipif(not _on_postgresql(), reason="NUL bytes only break PostgreSQL text columns")
@pytest.mark.parametrize("where", ["form", "autosave", "entry"])
def test_a_nul_byte_is_refused_with_a_clear_message_not_a_server_error(studies, where):
    target, _ = studies
    client, participant = _new_participant(target, 4)
    client.raise_request_exception = False
    if where == "form":
        response = client.post(participant_url(participant, "free_text"), {"item-comments": "a\x00b",
                                                                          "action": "next"})
    elif where == "autosave":
        response = client.post(participant_url(participant, "free_text") + "save/",
                               json.dumps({"answers": {"comments": "a\x00b"}}), content_type="application/json")
    else:
        response = client.get(f"/s/{target.slug}/", {"PROLIFIC_PID": "nul\x00pid", "STUDY_ID": "s"})
    assert response.status_code == 400
    assert not Response.objects.filter(participant=participant, value_text__contains="b").exists()
