"""Security checks across the apps: participants see only their own session, researchers only their own
studies, grids, checkpoints, analyses and exports (admin, API and guessed URLs alike), anonymous users only
participant pages, and production settings never show a debug page."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.core import signing
from django.test import Client, override_settings
from django.urls import path
from rest_framework.authtoken.models import Token

from explainers.models import Checkpoint, StimulusGrid
from stats.models import Analysis, Hypothesis
from studies.models import Condition, Item, Participant, Response, Study
from studies.views import participant_url, sign_token
from tests.studies.factories import GOOD_STIMULUS_ANSWERS, make_study, make_user

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def enter(client: Client, study: Study, pid: str) -> Participant:
    response = client.get(f"/s/{study.slug}/", {"PROLIFIC_PID": pid, "STUDY_ID": "s", "SESSION_ID": pid})
    assert response.status_code == 302
    participant = Participant.objects.get(study=study, external_id=pid)
    assert client.post(participant_url(participant, "consent"), {"consent": "yes"}).status_code == 302
    assert client.post(participant_url(participant, "instructions"), {"action": "next"}).status_code == 302
    return participant


def stimulus_post(answers: dict) -> dict:
    return {**{f"item-{k}": v for k, v in answers.items()}, "action": "next"}


def tampered(signed: str) -> list[str]:
    token, signature = signed.rsplit(":", 1)
    flip = "A" if token[0] != "A" else "B"
    return [
        f"{flip}{token[1:]}:{signature}",  # token changed, signature kept
        f"{token}:{signature[:-1]}{'x' if signature[-1] != 'x' else 'y'}",  # signature changed
        token,  # unsigned raw token
        signing.Signer(salt="another.salt").sign(token),  # signed for another purpose
        signing.Signer(key="not-the-secret-key", salt="studies.participant").sign(token),  # forged
    ]


# --- participants ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_tampered_participant_token_reads_and_writes_nothing():
    study = make_study(owner=make_user(), slug="tamper")
    alice = enter(Client(), study, "alice-pid")
    mallory = Client()
    for bad in tampered(sign_token(alice)):
        base = f"/s/{study.slug}/p/{bad}"
        assert mallory.get(f"{base}/").status_code == 404
        assert mallory.get(f"{base}/stimulus/").status_code == 404
        assert mallory.post(f"{base}/stimulus/", stimulus_post(GOOD_STIMULUS_ANSWERS)).status_code == 404
        save = mallory.post(f"{base}/stimulus/save/", {"answers": {"arms": 1}}, content_type="application/json")
        assert save.status_code == 404
    assert not Response.objects.filter(participant=alice).exists()
    alice.refresh_from_db()
    assert alice.current_page == "stimulus"


@pytest.mark.django_db
def test_a_participant_token_of_one_study_is_useless_in_another():
    owner = make_user()
    first, second = make_study(owner=owner, slug="first"), make_study(owner=owner, slug="second")
    alice = enter(Client(), first, "alice-pid")
    signed = sign_token(alice)
    client = Client()
    assert client.get(f"/s/{second.slug}/p/{signed}/").status_code == 404
    assert client.get(f"/s/{second.slug}/p/{signed}/stimulus/").status_code == 404
    assert client.post(f"/s/{second.slug}/p/{signed}/stimulus/",
                       stimulus_post(GOOD_STIMULUS_ANSWERS)).status_code == 404
    assert client.post(f"/s/{second.slug}/p/{signed}/stimulus/save/", {"answers": {"arms": 3}},
                       content_type="application/json").status_code == 404
    assert not Response.objects.exists()


@pytest.mark.django_db
def test_participants_never_see_each_others_answers_and_a_forged_resume_cookie_starts_afresh():
    study = make_study(owner=make_user(), slug="link-study", platform=Study.Platform.LINK)
    alice_client, bob_client = Client(), Client()
    alice_client.get(f"/s/{study.slug}/")
    alice = Participant.objects.get(study=study)
    alice_client.post(participant_url(alice, "consent"), {"consent": "yes"})
    alice_client.post(participant_url(alice, "instructions"), {"action": "next"})
    alice_client.post(participant_url(alice, "stimulus"), stimulus_post(GOOD_STIMULUS_ANSWERS))
    alice_client.post(participant_url(alice, "satisfaction"), stimulus_post({"useful": 7}))
    secret = "alice-wrote-this-secret"
    alice_client.post(participant_url(alice, "free_text"), {"item-comments": secret, "action": "back"})

    # Bob forges the resume cookie with Alice's raw token (unsigned) and with another study's cookie name.
    bob_client.cookies[f"study_{study.pk}"] = alice.token
    entry = bob_client.get(f"/s/{study.slug}/")
    assert entry.status_code == 302 and alice.token not in entry["Location"]
    bob = Participant.objects.exclude(pk=alice.pk).get(study=study)
    bob_client.post(participant_url(bob, "consent"), {"consent": "yes"})
    bob_client.post(participant_url(bob, "instructions"), {"action": "next"})
    page = bob_client.get(participant_url(bob, "stimulus"))
    assert page.status_code == 200 and secret.encode() not in page.content
    assert alice.token.encode() not in page.content
    assert Response.objects.filter(participant=bob).count() == 0


@pytest.mark.django_db
def test_csrf_protection_stays_on_for_participant_forms():
    study = make_study(owner=make_user(), slug="csrf-study")
    participant = enter(Client(), study, "csrf-pid")
    strict = Client(enforce_csrf_checks=True)
    response = strict.post(participant_url(participant, "stimulus"), stimulus_post(GOOD_STIMULUS_ANSWERS))
    assert response.status_code == 403
    save = strict.post(participant_url(participant, "stimulus") + "save/", {"answers": {"arms": 2}},
                       content_type="application/json")
    assert save.status_code == 403
    assert not Response.objects.filter(participant=participant).exists()


# --- researchers -----------------------------------------------------------------------------------------


@pytest.fixture
def two_researchers(db):
    """Alice owns a study with a participant, an analysis, a hypothesis, a checkpoint and a grid; Mallory is
    another researcher (staff, with every model permission the admin needs) who owns nothing of hers."""
    alice = make_user("alice-owner", is_staff=True)
    mallory = make_user("mallory", is_staff=True)
    mallory.user_permissions.set(Permission.objects.filter(
        content_type__app_label__in=["studies", "explainers", "stats"]))
    study = make_study(owner=alice, slug="alices-study", status=Study.Status.DRAFT)
    participant = Participant.objects.create(study=study, platform="prolific", external_id="ALICE-PID-SECRET",
                                             condition=study.conditions.first())
    Response.objects.create(participant=participant, item=study.items.get(key="arms"), value_int=5)
    analysis = Analysis.objects.create(study=study, parameters={}, data_hash="0" * 64, results={},
                                       created_by=alice)
    hypothesis = Hypothesis.objects.create(study=study, key="h1", kind=Hypothesis._meta.get_field("kind").choices[0][0],
                                           parameters={})
    checkpoint = Checkpoint.objects.create(owner=alice, name="alices-net", file="alice.pt", sha256="a" * 64)
    grid = StimulusGrid.objects.create(owner=alice, name="alices-grid", checkpoint=checkpoint,
                                       method="counterfactual_interpolation", status="ready")
    return {"alice": alice, "mallory": mallory, "study": study, "participant": participant,
            "analysis": analysis, "hypothesis": hypothesis, "checkpoint": checkpoint, "grid": grid}


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def token_client(user) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")


def test_another_researcher_cannot_reach_a_study_through_guessed_pages(two_researchers):
    t = two_researchers
    slug, analysis = t["study"].slug, t["analysis"]
    client = logged_in(t["mallory"])
    for url in (f"/studies/{slug}/dashboard/", f"/studies/{slug}/dashboard/live.json",
                f"/studies/{slug}/analysis/", f"/studies/{slug}/analysis/{analysis.pk}/",
                f"/studies/{slug}/analysis/{analysis.pk}/download/json/",
                f"/studies/{slug}/sample-size/", f"/grids/{t['grid'].pk}/progress.json"):
        response = client.get(url)
        assert response.status_code in (403, 404), (url, response.status_code)
        assert b"ALICE-PID-SECRET" not in response.content
    index = client.get("/studies/")
    assert index.status_code == 200 and slug.encode() not in index.content
    # The owner does reach them (the checks above are about ownership, not broken pages).
    owner = logged_in(t["alice"])
    assert owner.get(f"/studies/{slug}/dashboard/").status_code == 200
    assert owner.get(f"/grids/{t['grid'].pk}/progress.json").status_code == 200


def test_another_researcher_cannot_read_or_change_a_study_through_the_api(two_researchers):
    t = two_researchers
    study, slug = t["study"], t["study"].slug
    condition, item = study.conditions.first(), study.items.first()
    client = token_client(t["mallory"])
    reads = [f"/api/studies/{slug}/", f"/api/studies/{slug}/participants/", f"/api/studies/{slug}/responses/",
             f"/api/studies/{slug}/responses/csv/", f"/api/conditions/{condition.pk}/", f"/api/items/{item.pk}/",
             f"/api/studies/{slug}/analyses/", f"/api/studies/{slug}/analyses/{t['analysis'].pk}/",
             f"/api/studies/{slug}/hypotheses/", f"/api/studies/{slug}/hypotheses/h1/",
             f"/api/grids/{t['grid'].pk}/", f"/api/grids/{t['grid'].pk}/progress/",
             f"/api/checkpoints/{t['checkpoint'].pk}/"]
    for url in reads:
        response = client.get(url)
        assert response.status_code == 404, (url, response.status_code)
    for url in ("/api/studies/", "/api/conditions/", "/api/items/", "/api/grids/", "/api/checkpoints/"):
        listing = client.get(url)
        assert listing.status_code == 200 and slug.encode() not in listing.content
        assert b"alices-grid" not in listing.content and b"alices-net" not in listing.content
    writes = [("patch", f"/api/studies/{slug}/", {"title": "pwned"}),
              ("delete", f"/api/studies/{slug}/", None),
              ("post", f"/api/studies/{slug}/launch/", None), ("post", f"/api/studies/{slug}/close/", None),
              ("patch", f"/api/conditions/{condition.pk}/", {"name": "pwned"}),
              ("delete", f"/api/conditions/{condition.pk}/", None),
              ("patch", f"/api/items/{item.pk}/", {"text": "pwned"}),
              ("delete", f"/api/items/{item.pk}/", None),
              ("post", f"/api/studies/{slug}/analyses/", {}),
              ("patch", f"/api/studies/{slug}/hypotheses/h1/", {"description": "pwned"}),
              ("delete", f"/api/studies/{slug}/hypotheses/h1/", None),
              ("post", f"/api/grids/{t['grid'].pk}/regenerate/", None),
              ("delete", f"/api/grids/{t['grid'].pk}/", None)]
    for method, url, data in writes:
        response = getattr(client, method)(url, data, content_type="application/json")
        assert response.status_code == 404, (method, url, response.status_code)
    # Creating objects inside her study, or linking her grid to his own study, is refused too.
    own = make_study(owner=t["mallory"], slug="mallorys-study", status=Study.Status.DRAFT)
    created = client.post("/api/conditions/", {"study": slug, "name": "x", "slug": "x"}, content_type="application/json")
    assert created.status_code == 400
    created = client.post("/api/items/", {"study": slug, "key": "x", "text": "x"}, content_type="application/json")
    assert created.status_code == 400
    linked = client.post("/api/conditions/", {"study": own.slug, "name": "g", "slug": "g",
                                              "stimulus_grid": t["grid"].pk}, content_type="application/json")
    assert linked.status_code == 400
    study.refresh_from_db()
    assert study.title != "pwned" and study.status == Study.Status.DRAFT
    assert Condition.objects.filter(study=study).count() == 2 and not Condition.objects.filter(slug__in=["x", "g"]).exists()
    assert Item.objects.filter(study=study).count() == 5
    assert StimulusGrid.objects.filter(pk=t["grid"].pk).exists()
    assert Hypothesis.objects.get(pk=t["hypothesis"].pk).description != "pwned"
    assert Analysis.objects.filter(study=study).count() == 1


def test_another_researcher_cannot_export_a_study(two_researchers):
    t = two_researchers
    client = token_client(t["mallory"])
    for fmt in ("long", "wide", "json", "codebook"):
        response = client.get(f"/api/studies/{t['study'].slug}/export/", {"format": fmt, "include_simulated": 1})
        assert response.status_code == 404, (fmt, response.status_code)
        assert b"ALICE-PID-SECRET" not in response.content


def test_the_owner_and_a_superuser_can_export(two_researchers):
    t = two_researchers
    root = make_user("root", is_staff=True, is_superuser=True)
    for user in (t["alice"], root):
        response = token_client(user).get(f"/api/studies/{t['study'].slug}/export/", {"format": "long"})
        assert response.status_code == 200


def test_another_researcher_cannot_reach_a_study_through_the_admin(two_researchers):
    t = two_researchers
    client = logged_in(t["mallory"])
    objects = [("studies", "study", t["study"].pk), ("studies", "participant", t["participant"].pk),
               ("explainers", "stimulusgrid", t["grid"].pk), ("explainers", "checkpoint", t["checkpoint"].pk),
               ("stats", "analysis", t["analysis"].pk), ("stats", "hypothesis", t["hypothesis"].pk)]
    for app, model, pk in objects:
        for action in ("change", "delete", "history"):
            response = client.get(f"/admin/{app}/{model}/{pk}/{action}/")
            # The admin answers "does not exist" by redirecting to the index (or 403/404): never the object.
            assert response.status_code in (302, 403, 404), (app, model, action, response.status_code)
        listing = client.get(f"/admin/{app}/{model}/")
        assert listing.status_code in (200, 403)
        for secret in (b"alices-study", b"ALICE-PID-SECRET", b"alices-grid", b"alices-net"):
            assert secret not in listing.content, (app, model, secret)
    posted = client.post(f"/admin/studies/study/{t['study'].pk}/change/", {"title": "pwned", "slug": "pwned"})
    assert posted.status_code in (302, 403, 404)
    assert Study.objects.get(pk=t["study"].pk).title != "pwned"
    deleted = client.post(f"/admin/explainers/stimulusgrid/{t['grid'].pk}/delete/", {"post": "yes"})
    assert deleted.status_code in (302, 403, 404) and StimulusGrid.objects.filter(pk=t["grid"].pk).exists()


# --- anonymous visitors --------------------------------------------------------------------------------


def test_anonymous_visitors_reach_only_participant_pages(two_researchers):
    t = two_researchers
    live = make_study(owner=t["alice"], slug="open-study")
    client = Client()
    participant = enter(client, live, "anon-pid")
    assert client.get(participant_url(participant, "stimulus")).status_code == 200
    slug, grid = t["study"].slug, t["grid"].pk
    redirected = [f"/studies/", f"/studies/{slug}/dashboard/", f"/studies/{slug}/dashboard/live.json",
                  f"/studies/{slug}/analysis/", f"/studies/{slug}/sample-size/", f"/grids/{grid}/progress.json",
                  "/admin/", "/admin/studies/study/", f"/admin/studies/study/{t['study'].pk}/change/"]
    anonymous = Client()
    for url in redirected:
        response = anonymous.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"], (url, response.status_code)
    api = [f"/api/studies/", f"/api/studies/{slug}/", f"/api/studies/{slug}/responses/csv/",
           f"/api/studies/{slug}/export/", f"/api/studies/{slug}/analyses/", f"/api/grids/", f"/api/grids/{grid}/",
           "/api/checkpoints/", "/api/conditions/", "/api/items/"]
    for url in api:
        response = anonymous.get(url)
        assert response.status_code in (401, 403), (url, response.status_code)
        assert b"ALICE-PID-SECRET" not in response.content
    assert anonymous.post("/api/studies/", {"slug": "anon", "title": "x"},
                          content_type="application/json").status_code in (401, 403)
    assert anonymous.post("/api/sample-size/", {"d": 0.5}, content_type="application/json").status_code in (401, 403)
    assert not Study.objects.filter(slug="anon").exists()


def test_a_participant_account_that_is_not_staff_gets_no_researcher_api(two_researchers):
    visitor = make_user("just-a-user")
    client = token_client(visitor)
    assert client.get("/api/studies/").status_code == 403
    assert client.get(f"/api/studies/{two_researchers['study'].slug}/export/").status_code == 404


# --- production settings -------------------------------------------------------------------------------


def _boom(request):
    raise RuntimeError("secret-internal-detail")


urlpatterns = [path("boom/", _boom)]


@override_settings(DEBUG=False, ROOT_URLCONF=__name__)
def test_errors_under_production_settings_show_no_debug_page(db):
    client = Client(raise_request_exception=False)
    missing = client.get("/no-such-page/")
    assert missing.status_code == 404
    crash = client.get("/boom/")
    assert crash.status_code == 500
    for response in (missing, crash):
        body = response.content.decode()
        for leak in ("Traceback", "secret-internal-detail", "URLconf", "settings.py", "DEBUG = True", "File \""):
            assert leak not in body, leak


@override_settings(DEBUG=False)
@pytest.mark.django_db
def test_a_bad_participant_link_shows_a_plain_404():
    body = Client().get("/s/no-such-study/p/abc:def/stimulus/").content.decode()
    assert "Traceback" not in body and "URLconf" not in body


def test_debug_is_off_unless_explicitly_enabled():
    code = "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)"
    env = {key: value for key, value in os.environ.items() if key != "DEBUG"}
    env["DJANGO_SETTINGS_MODULE"] = "studyserver.settings"
    for debug in (None, "0", "false"):
        if debug is not None:
            env["DEBUG"] = debug
        output = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True,
                                text=True, timeout=60)
        assert output.stdout.strip() == "False", (debug, output.stderr[-500:])
