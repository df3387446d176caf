"""Response exports: one implementation, so the admin, the API and the command give the same files with
the same columns and the same default (completed, real participants); owners only."""
from __future__ import annotations

import csv
import io
import json

import pytest
from django.core.management import call_command

from stats.services.exports import (
    COLUMN_MEANINGS,
    LONG_COLUMNS,
    PARTICIPANT_COLUMNS,
    ExportError,
    export_flags,
    response_rows,
    responses_export,
)
from studies.models import Item

from ..factories import make_item, make_participant, make_user, seed_like_study

pytestmark = pytest.mark.django_db


@pytest.fixture
def study():
    study = seed_like_study(slug="patterns", n_per_condition=2)
    answers = {"arms": 4, "color": 4, "bg": 4, "helpful": 4, "check": 2}
    make_participant(study, "cf", answers, status="active")
    make_participant(study, "bl", answers, status="returned")
    make_participant(study, "cf", answers, is_simulated=True)
    make_participant(study, "bl", answers, status="failed_attention", attention_failed=True)
    return study


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def _command(*args: str) -> str:
    out = io.StringIO()
    call_command("export_responses", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def _admin(client, study, action: str) -> bytes:
    study.owner.is_staff = True
    study.owner.save()
    client.force_login(study.owner)
    response = client.post("/admin/stats/studyexport/", {"action": action, "_selected_action": [study.pk]})
    assert response.status_code == 200
    return response.content


def test_default_is_finished_real_participants_and_flags_add_the_others(study):
    rows = response_rows(study=study)
    assert {row["status"] for row in rows} == {"completed", "failed_attention"}
    assert {row["is_simulated"] for row in rows} == {False}
    assert len({row["participant"] for row in rows}) == 5
    assert len({r["participant"] for r in response_rows(study=study, include_unfinished=True)}) == 7
    assert len({r["participant"] for r in response_rows(study=study, include_simulated=True)}) == 6
    everyone = response_rows(study=study, include_simulated=True, include_unfinished=True)
    assert len({row["participant"] for row in everyone}) == 8
    assert all(list(row) == LONG_COLUMNS for row in everyone)


def test_admin_api_and_command_give_the_same_long_file(client, study):
    from_command = _command("patterns", "--format", "long")
    from_admin = _admin(client, study, "export_long").decode()
    from_export = client.get("/api/studies/patterns/export/?format=long").content.decode()
    from_csv_endpoint = client.get("/api/studies/patterns/responses/csv/").content.decode()
    assert from_command == from_admin == from_export == from_csv_endpoint
    rows = _csv(from_command)
    assert list(rows[0]) == LONG_COLUMNS
    assert {row["status"] for row in rows} == {"completed", "failed_attention"}
    json_rows = client.get("/api/studies/patterns/responses/").json()
    assert [list(row) for row in json_rows] == [LONG_COLUMNS] * len(rows)
    assert [str(row["value"]) for row in json_rows] == [row["value"] for row in rows]


def test_the_flags_mean_the_same_on_every_path(client, study):
    everyone = _command("patterns", "--format", "long", "--include-simulated", "--include-unfinished")
    client.force_login(study.owner)
    flags = {"format": "long", "include_simulated": "true", "include_unfinished": "1"}
    assert client.get("/api/studies/patterns/export/", flags).content.decode() == everyone
    assert _admin(client, study, "export_long_all_participants").decode() == everyone
    json_rows = client.get("/api/studies/patterns/responses/", {"include_simulated": "yes",
                                                                 "include_unfinished": "on"}).json()
    assert len(json_rows) == len(_csv(everyone)) == 8 * 5
    only_bots = _command("patterns", "--format", "long", "--include-simulated")
    assert {row["is_simulated"] for row in _csv(only_bots)} == {"True", "False"}
    assert export_flags({"include_simulated": "0", "include_unfinished": "TRUE"}) == {
        "include_simulated": False, "include_unfinished": True}


def test_wide_and_json_hold_the_same_participants_as_long(study):
    long_participants = {row["participant"] for row in _csv(responses_export(study=study, fmt="long").content)}
    wide = _csv(responses_export(study=study, fmt="wide").content)
    assert list(wide[0])[: len(PARTICIPANT_COLUMNS)] == PARTICIPANT_COLUMNS
    assert {row["participant"] for row in wide} == long_participants
    data = json.loads(responses_export(study=study, fmt="json").content)
    assert {str(p["participant"]) for p in data["participants"]} == long_participants
    assert data["include_simulated"] is False and data["include_unfinished"] is False
    assert data["codebook"]["participants_included"]["include_unfinished"] is False


def test_the_codebook_explains_every_column(study):
    codebook = json.loads(responses_export(study=study, fmt="codebook", include_unfinished=True).content)
    assert set(codebook["columns"]) == set(LONG_COLUMNS) == set(COLUMN_MEANINGS)
    assert codebook["participants_included"] == {
        "rule": codebook["participants_included"]["rule"], "include_unfinished": True, "include_simulated": False}
    assert [c["slug"] for c in codebook["conditions"]] == ["cf", "bl"]


def test_free_text_and_items_named_like_a_column_are_exported_as_given(study):
    make_item(study, "status", group="other", kind=Item.Kind.FREE_TEXT, page=Item.Page.FREE_TEXT)
    make_participant(study, "cf", {"arms": 6, "status": "liked it, 100%"})
    header, *rows = list(csv.reader(io.StringIO(responses_export(study=study, fmt="wide").content)))
    participant_status, item_status = [i for i, name in enumerate(header) if name == "status"]
    assert participant_status == PARTICIPANT_COLUMNS.index("status") and item_status >= len(PARTICIPANT_COLUMNS)
    assert rows[-1][participant_status] == "completed" and rows[-1][item_status] == "liked it, 100%"
    assert len(rows) == 6
    rows = response_rows(study=study)
    assert {row["value"] for row in rows if row["item"] == "status"} == {"liked it, 100%"}


def test_an_unknown_format_is_refused_everywhere(client, study):
    with pytest.raises(ExportError, match="Unknown export format 'xlsx'"):
        responses_export(study=study, fmt="xlsx")
    client.force_login(study.owner)
    assert client.get("/api/studies/patterns/export/?format=xlsx").status_code == 400


def test_every_export_endpoint_needs_owner_rights(client, study):
    urls = ["/api/studies/patterns/export/?format=long", "/api/studies/patterns/responses/",
            "/api/studies/patterns/responses/csv/"]
    for url in urls:
        assert client.get(url).status_code in (401, 403), url
    client.force_login(make_user("staffer", is_staff=True))
    for url in urls:
        assert client.get(url).status_code == 404, url
    stranger = make_user("stranger", is_staff=True, is_superuser=False)
    client.force_login(stranger)
    response = client.post("/admin/stats/studyexport/", {"action": "export_long", "_selected_action": [study.pk]})
    assert response.status_code != 200 or b"arms" not in response.content
    client.force_login(study.owner)
    for url in urls:
        assert client.get(url).status_code == 200, url
