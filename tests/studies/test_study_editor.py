"""The study editor: items in participant order with editable labels, free text without a scale, uploads kept
across a validation error, page texts per study and condition, duplicates, a time limit, launch and pause from
the dashboard."""
from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from studies import services
from studies.models import Condition, Item, Study

from .factories import make_study, make_user, png_upload
from .test_admin import _change_form, researcher_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def draft(researcher):
    return make_study(owner=researcher, status=Study.Status.DRAFT, slug="draft-study")


def _item_index(data: dict, key: str) -> int:
    return next(i for i in range(20) if data.get(f"items-{i}-key") == key)


def test_the_admin_lists_items_in_the_order_participants_see_them(draft):
    client = researcher_client(draft.owner)
    page = client.get(f"/admin/studies/study/{draft.pk}/change/")
    keys = [form.instance.key for form in page.context["inline_admin_formsets"][1].formset.forms]
    # Pages in the flow's order (alphabetically free_text would come first), then by "order".
    assert keys == ["arms", "colour", "attn", "useful", "comments"]


def test_per_point_labels_are_edited_one_per_line_and_checked_against_the_scale(draft):
    client = researcher_client(draft.owner)
    data = _change_form(client, draft)
    index = _item_index(data, "arms")
    data[f"items-{index}-scale_points"] = 5
    data[f"items-{index}-labels"] = "Never\nRarely\nSometimes\nOften\nAlways"
    response = client.post(f"/admin/studies/study/{draft.pk}/change/", data)
    assert response.status_code == 302, response.content[:3000]
    assert Item.objects.get(study=draft, key="arms").labels == ["Never", "Rarely", "Sometimes", "Often", "Always"]
    data[f"items-{index}-labels"] = "Never\nAlways"
    response = client.post(f"/admin/studies/study/{draft.pk}/change/", data)
    assert response.status_code == 200 and b"Give exactly 5 labels" in response.content
    assert len(Item.objects.get(study=draft, key="arms").labels) == 5


def test_a_free_text_item_needs_no_scale_but_a_likert_item_does(draft):
    item = services.item_create(study=draft, key="why", text="Why?", kind=Item.Kind.FREE_TEXT,
                                page=Item.Page.FREE_TEXT, scale_points=None)
    assert item.pk and not item.is_scaled
    with pytest.raises(ValidationError, match="needs its number of scale points"):
        services.item_create(study=draft, key="how", text="How much?", scale_points=None)
    assert not Item.objects.filter(key="how").exists()


def test_an_uploaded_image_survives_a_validation_error_elsewhere_on_the_page(draft):
    client = researcher_client(draft.owner)
    data = _change_form(client, draft)
    data["conditions-TOTAL_FORMS"] = 3
    data.update({"conditions-2-name": "Third", "conditions-2-slug": "third", "conditions-2-order": 2,
                 "conditions-2-study": draft.pk, "conditions-2-shows_explanation": "on",
                 "conditions-2-stimulus_image": png_upload("third.png")})
    invalid = {**data, "title": ""}  # an error in the study form, far from the upload
    response = client.post(f"/admin/studies/study/{draft.pk}/change/", invalid)
    assert response.status_code == 200 and b"This field is required" in response.content
    assert not Condition.objects.filter(slug="third").exists()
    form = response.context["inline_admin_formsets"][0].formset.forms[2]
    staged = form.data[form.add_prefix("staged_stimulus_image")]
    assert staged and "Already uploaded: third" in response.content.decode()
    # The corrected page is sent again without the file (browsers never re-send one): the upload is kept.
    fixed = {k: v for k, v in data.items() if k != "conditions-2-stimulus_image"}
    fixed["conditions-2-staged_stimulus_image"] = staged
    response = client.post(f"/admin/studies/study/{draft.pk}/change/", fixed)
    assert response.status_code == 302, response.content[:3000]
    third = Condition.objects.get(study=draft, slug="third")
    assert third.stimulus_image.name.startswith("stimuli/third") and third.stimulus_image.size > 0
    # A forged staged name (another researcher's file) is ignored, not attached.
    forged = {**fixed, "conditions-2-staged_stimulus_image": "stimuli/c0.png:forged"}
    forged["conditions-TOTAL_FORMS"] = 4
    forged.update({"conditions-3-name": "Fourth", "conditions-3-slug": "fourth", "conditions-3-order": 3,
                   "conditions-3-study": draft.pk,
                   "conditions-3-staged_stimulus_image": "stimuli/c0.png:forged"})
    forged["conditions-2-id"] = third.pk
    forged["conditions-INITIAL_FORMS"] = 3
    client.post(f"/admin/studies/study/{draft.pk}/change/", forged)
    assert not Condition.objects.get(study=draft, slug="fourth").stimulus_image


def test_page_texts_per_study_and_condition_reach_the_participant_pages(client, researcher):
    study = make_study(owner=researcher, slug="worded", page_texts={"stimulus_heading": "Look closely",
                                                                     "continue_button": "Next please"})
    control = study.conditions.get(slug="c1")
    services.condition_update(condition=control, data={"shows_explanation": False})
    consent = client.get(f"/s/{study.slug}/", {"PROLIFIC_PID": "p1", "STUDY_ID": "s", "SESSION_ID": "x"})["Location"]
    client.post(consent, {"consent": "yes"})
    participant = study.participants.get()
    condition = participant.condition
    services.condition_update(condition=condition, data={"page_texts": {"satisfaction_heading": "Your view"}})
    base = consent.rsplit("/", 2)[0]
    instructions = client.get(f"{base}/instructions/").content.decode()
    assert ">Next please</button>" in instructions
    client.post(f"{base}/instructions/", {"action": "next"})
    assert "<h1>Look closely</h1>" in client.get(f"{base}/stimulus/").content.decode()
    client.post(f"{base}/stimulus/", {"action": "next", "item-arms": 5, "item-colour": 5, "item-attn": 2})
    assert "<h1>Your view</h1>" in client.get(f"{base}/satisfaction/").content.decode()


def test_a_control_group_without_explanation_never_reads_about_the_explanation(client, researcher):
    study = make_study(owner=researcher, slug="control")
    Condition.objects.filter(study=study).update(shows_explanation=False)
    client.force_login(researcher)
    page = client.get(f"/studies/{study.slug}/preview/c0/satisfaction/").content.decode()
    assert "About the explanation" not in page and "<h1>A few more questions</h1>" in page
    Condition.objects.filter(study=study).update(shows_explanation=True)
    assert "<h1>About the explanation</h1>" in client.get(
        f"/studies/{study.slug}/preview/c0/satisfaction/").content.decode()


def test_unknown_or_empty_page_texts_are_refused(draft):
    for texts, message in (({"headline": "x"}, "Unknown page text 'headline'"),
                           ({"finish_button": "  "}, "must be a non-empty string"), (["x"], "must map a key")):
        with pytest.raises(ValidationError, match=message):
            services.study_update(study=draft, data={"page_texts": texts})
    draft.refresh_from_db()
    assert draft.page_texts == {}


def test_a_time_limit_is_shown_to_participants_and_in_the_prolific_snippet(client, researcher):
    study = make_study(owner=researcher, slug="timed", time_limit_minutes=25)
    consent = client.get(f"/s/{study.slug}/", {"PROLIFIC_PID": "p1", "STUDY_ID": "s", "SESSION_ID": "x"})
    assert "at most 25 minutes" in client.get(consent["Location"]).content.decode()
    owner = Client()
    owner.force_login(researcher)
    dashboard = owner.get(f"/studies/{study.slug}/dashboard/").content.decode()
    assert "Time limit: <strong>25 minutes</strong>" in dashboard and "maximum time on Prolific" in dashboard


def test_a_time_limit_of_zero_is_refused_everywhere(client, draft):
    with pytest.raises(ValidationError, match="at least 1 minute"):
        services.study_update(study=draft, data={"time_limit_minutes": 0})
    client.force_login(draft.owner)
    draft.owner.is_staff = True
    draft.owner.save()
    response = client.patch(f"/api/studies/{draft.slug}/", {"time_limit_minutes": 0},
                            content_type="application/json")
    assert response.status_code == 400 and "at least 1 minute" in str(response.json())
    draft.refresh_from_db()
    assert draft.time_limit_minutes is None


def test_a_duplicate_is_a_draft_copy_under_a_new_slug(researcher):
    study = make_study(owner=researcher, slug="original", time_limit_minutes=20,
                       page_texts={"finish_button": "Send"})
    Item.objects.filter(study=study, key="arms").update(condition=study.conditions.get(slug="c1"))
    copy = services.study_duplicate(study=study, slug="original-v2", owner=researcher)
    assert (copy.status, copy.launched_at, copy.owner) == (Study.Status.DRAFT, None, researcher)
    assert (copy.time_limit_minutes, copy.page_texts) == (20, {"finish_button": "Send"})
    assert [c.slug for c in copy.conditions.all()] == ["c0", "c1"]
    assert copy.conditions.get(slug="c0").stimulus_image.name == study.conditions.get(slug="c0").stimulus_image.name
    assert sorted(copy.items.values_list("key", flat=True)) == sorted(study.items.values_list("key", flat=True))
    assert copy.items.get(key="arms").condition == copy.conditions.get(slug="c1")
    assert not copy.participants.exists() and not copy.consent_versions.exists()


def test_a_duplicate_with_a_slug_in_use_is_refused_everywhere_and_changes_nothing(client, researcher, study):
    make_study(owner=researcher, slug="taken")
    before = Study.objects.count()
    with pytest.raises(ValidationError, match="'taken' is already used"):
        services.study_duplicate(study=study, slug="taken", owner=researcher)
    client.force_login(researcher)
    api = client.post(f"/api/studies/{study.slug}/duplicate/", {"slug": "taken"}, content_type="application/json")
    assert api.status_code == 400 and "already used" in str(api.json())
    dashboard = client.post(f"/studies/{study.slug}/dashboard/duplicate/", {"slug": "taken"}, follow=True)
    assert "Not duplicated" in dashboard.content.decode()
    assert Study.objects.count() == before
    made = client.post(f"/api/studies/{study.slug}/duplicate/", {}, content_type="application/json")
    assert made.status_code == 201 and made.json()["slug"] == "pattern-study-copy" and made.json()["status"] == "draft"
    admin = researcher_client(researcher)
    admin.post("/admin/studies/study/", {"action": "duplicate", "_selected_action": [study.pk]})
    assert Study.objects.filter(slug="pattern-study-copy-2").exists()


def test_launch_and_pause_from_the_dashboard_are_owner_only_posts(researcher, draft):
    owner = Client(enforce_csrf_checks=True)
    owner.force_login(researcher)
    page = owner.get(f"/studies/{draft.slug}/dashboard/")
    token = page.context["csrf_token"]
    assert 'id="launch"' in page.content.decode()
    assert owner.post(f"/studies/{draft.slug}/dashboard/launch/").status_code == 403  # no CSRF token
    stranger = Client()
    stranger.force_login(make_user("stranger"))
    assert stranger.post(f"/studies/{draft.slug}/dashboard/launch/").status_code == 404
    assert owner.get(f"/studies/{draft.slug}/dashboard/launch/").status_code == 405
    draft.refresh_from_db()
    assert draft.status == Study.Status.DRAFT
    owner.post(f"/studies/{draft.slug}/dashboard/launch/", {"csrfmiddlewaretoken": str(token)})
    draft.refresh_from_db()
    assert draft.status == Study.Status.LIVE
    page = owner.post(f"/studies/{draft.slug}/dashboard/pause/", {"csrfmiddlewaretoken": str(token)}, follow=True)
    draft.refresh_from_db()
    assert draft.status == Study.Status.PAUSED and "The study is paused" in page.content.decode()
    refused = owner.post(f"/studies/{draft.slug}/dashboard/pause/", {"csrfmiddlewaretoken": str(token)}, follow=True)
    assert "Not paused: Only a live study can be paused" in refused.content.decode()


def test_launch_problems_are_shown_on_the_dashboard_and_nothing_changes(client, researcher):
    study = make_study(owner=researcher, status=Study.Status.DRAFT, slug="no-code", completion_code="")
    client.force_login(researcher)
    page = client.post(f"/studies/{study.slug}/dashboard/launch/", follow=True).content.decode()
    assert "Not launched: Prolific studies need a completion code." in page
    study.refresh_from_db()
    assert study.status == Study.Status.DRAFT


def test_a_completion_message_of_ones_own_is_shown_on_every_platform(client, researcher):
    study = make_study(owner=researcher, slug="thanks", page_texts={"completion_message": "Thanks, see you soon."})
    client.force_login(researcher)
    page = client.get(f"/studies/{study.slug}/preview/c0/complete/").content.decode()
    assert "Thanks, see you soon." in page and "DONE123" in page
    study.page_texts = {}
    study.save()
    default = client.get(f"/studies/{study.slug}/preview/c0/complete/").content.decode()
    assert "You can close this window now" not in default  # the plain-link default does not suit Prolific
