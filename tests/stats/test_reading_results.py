"""Results read the way participants read: reverse-coded items in their wording with the scoring direction,
the study's own families and titles, an exclusion table of the analysis's participants only; exports an
owner can act on (platform ids, a pseudonymised variant, wide columns in presentation order)."""
from __future__ import annotations

import base64
import csv
import io
import re

import pytest

from stats.reports import analysis_csv, analysis_html
from stats.services import analysis_compute
from stats.services.exports import IDENTITY_COLUMNS, responses_export
from studies.models import Item, Participant

from .factories import make_item, make_participant, seed_like_study

pytestmark = pytest.mark.django_db


@pytest.fixture
def study():
    study = seed_like_study(slug="patterns", n_per_condition=4)
    study.title = "Robot study"
    study.save(update_fields=["title"])
    Item.objects.filter(study=study, key="bg").update(text="The background was confusing.")
    return study


def _chart_svgs(html: str) -> list[str]:
    return [base64.b64decode(uri).decode() for uri in re.findall(r'src="data:image/svg\+xml;base64,([^"]+)"', html)]


def test_reverse_coded_items_are_shown_in_the_participants_wording_with_the_direction(study):
    _, _, results = analysis_compute(study=study)
    html = analysis_html(results)
    assert "Participants read: &ldquo;The background was confusing.&rdquo;" in html
    assert "reverse-coded: agree = not &quot;bg&quot;" in html
    assert "agree = agreed with the statement as worded" in html  # the other items say how they read too
    rows = list(csv.DictReader(io.StringIO(analysis_csv(results))))
    bg = next(row for row in rows if row["item"] == "bg")
    assert bg["wording"] == "The background was confusing."
    assert bg["scoring"].startswith('reverse-coded: agree = not "bg"')
    charts = "".join(_chart_svgs(html))
    assert "(reversed: agree" in charts and "= not bg)" in charts


def test_chart_titles_come_from_the_study_not_the_seed(study):
    html = analysis_html(analysis_compute(study=study)[2])
    charts = _chart_svgs(html)
    assert charts and "seed Figure" not in html and not any("seed Figure" in svg for svg in charts)
    assert "Robot study: pattern statements" in html and "Robot study: satisfaction statements" in html


def test_the_sample_size_page_uses_the_studys_own_families(client, study):
    Item.objects.filter(study=study, group="pattern").update(group="trust")
    make_item(study, "calm", group="trust")
    client.force_login(study.owner)
    page = client.get("/studies/patterns/sample-size/").content.decode()
    assert "the family <strong>trust</strong> has 4 statements" in page
    assert 'name="family_size" value="4"' in page and "pattern statement" not in page
    chosen = client.get("/studies/patterns/sample-size/", {"family": "satisfaction"}).content.decode()
    assert "the family <strong>satisfaction</strong> has 1 statement" in chosen


def test_the_exclusion_table_counts_only_the_participants_of_the_analysis(study):
    # Three simulated participants fail the attention check; one real participant does.
    for _ in range(3):
        make_participant(study, "cf", {"arms": 4, "check": 7}, is_simulated=True)
    make_participant(study, "bl", {"arms": 4, "check": 7})
    counts = analysis_compute(study=study)[2]["exclusions"]["counts"]
    assert counts["failed_attention"] == 1 and counts["simulated"] == 3


def test_the_owners_identified_export_carries_platform_ids_and_the_default_one_does_not(client, study):
    participants = list(Participant.objects.filter(study=study).order_by("pk"))
    for n, participant in enumerate(participants):
        participant.external_id, participant.platform_session_id = f"PID{n}", f"SESSION{n}"
        participant.save()
    owner = list(csv.DictReader(io.StringIO(responses_export(study=study, fmt="wide", identified=True).content)))
    shared = list(csv.DictReader(io.StringIO(responses_export(study=study, fmt="wide").content)))
    assert {row["platform_participant_id"] for row in owner} == {f"PID{n}" for n in range(len(participants))}
    assert {row["platform_submission_id"] for row in owner} == {f"SESSION{n}" for n in range(len(participants))}
    assert all(row["platform"] == "prolific" for row in owner)
    assert list(owner[0])[:4] == ["participant", *IDENTITY_COLUMNS]
    assert not set(IDENTITY_COLUMNS) & set(shared[0])
    assert "PID0" not in responses_export(study=study, fmt="long").content
    # The same pseudonyms in both: the owner's file is the mapping, kept on the server.
    assert [row["participant"] for row in owner] == [row["participant"] for row in shared]
    client.force_login(study.owner)
    shared_api = client.get("/api/studies/patterns/export/", {"format": "wide"}).content.decode()
    assert "PID0" not in shared_api and "platform_participant_id" not in shared_api
    assert "PID0" in client.get("/api/studies/patterns/export/", {"format": "wide", "identified": "1"}).content.decode()
    rows = client.get("/api/studies/patterns/responses/", {"identified": "1"}).json()
    assert {row["platform_participant_id"] for row in rows} == {f"PID{n}" for n in range(len(participants))}
    codebook = responses_export(study=study, fmt="codebook", identified=True).content
    assert '"platform_participant_id"' in codebook and '"identified": true' in codebook
    dashboard = client.get("/studies/patterns/dashboard/").content.decode()
    assert "format=wide&amp;identified=1" in dashboard


def test_wide_columns_follow_the_order_participants_answer_in(study):
    make_item(study, "why", group="feedback", kind=Item.Kind.FREE_TEXT, page=Item.Page.FREE_TEXT)
    Item.objects.filter(study=study, key="helpful").update(order=-5)  # a low number, but on a later page
    header = next(csv.reader(io.StringIO(responses_export(study=study, fmt="wide").content)))
    items = header[header.index("completed_at") + 1:]
    assert items == ["arms", "color", "bg", "check", "helpful", "why"]
