"""The demo as its users meet it: `manage.py demo --quick --no-serve`, then a participant in headless Chromium
from the printed URL to the Prolific redirect, and the researcher from the printed login to the analysis page.
Screenshots go to artifacts/."""
from __future__ import annotations

import io
import re

import pytest
from django.core.management import call_command

from studies.study_templates import seed_template
from tests.browser.conftest import ARTIFACTS
from tests.browser.test_participant_flow import PROLIFIC_BASE

SEED = seed_template()
ATTENTION = next(item for item in SEED.items if item.kind == "attention_check")

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture
def demo_summary(live_server, settings, tmp_path):
    """Run the demo command against the live server's database and return its printed summary."""
    settings.VAR_DIR = tmp_path / "var"
    settings.STATIC_ROOT = tmp_path / "static"
    settings.PROLIFIC_COMPLETION_BASE_URL = PROLIFIC_BASE
    host, port = re.match(r"http://([^:]+):(\d+)", live_server.url).groups()
    out = io.StringIO()
    call_command("demo", "--quick", "--no-serve", "--host", host, "--port", port, stdout=out)
    return out.getvalue()


def _printed(summary: str, label: str) -> str:
    match = re.search(rf"{re.escape(label)}:\s+(\S+)", summary)
    assert match, f"the demo summary has no {label!r} line:\n{summary}"
    return match.group(1)


def test_the_demo_walks_from_the_printed_url_to_prolific_and_to_the_analysis(demo_summary, chromium,
                                                                            browser_page):
    from studies.models import Participant, Study

    page = browser_page
    # The seed study asks for 30 s on the stimulus page; the walkthrough should not wait that long.
    Study.objects.filter(slug=SEED.slug).update(min_stimulus_seconds=0)

    page.goto(_printed(demo_summary, "Participant URL"))
    page.click("#agree")
    page.wait_for_url("**/instructions/")
    assert "golden frame" in page.content()
    page.click("#next")
    page.wait_for_url("**/stimulus/")
    # Whichever condition was assigned, its pregenerated 30 x 5 grid is on the page with its headers.
    assert page.locator(".stimulus-grid__image").count() == 150
    assert "Stretchy, very confident" in page.content() and "Sticky, very confident" in page.content()
    for key in [item.key for item in SEED.items if item.group == "pattern"]:
        page.check(f'input[name="item-{key}"][value="6"]')
    page.check(f'input[name="item-{ATTENTION.key}"][value="{ATTENTION.expected_answer}"]')
    page.screenshot(path=str(ARTIFACTS / "demo_participant_stimulus.png"))
    page.click("#next")
    page.wait_for_url("**/satisfaction/")
    for key in [item.key for item in SEED.items if item.group == "satisfaction"]:
        page.check(f'input[name="item-{key}"][value="5"]')
    page.click("#next")
    page.wait_for_url("**/free_text/")
    reasoning = next(item.key for item in SEED.items if item.kind == "free_text")
    page.fill(f'textarea[name="item-{reasoning}"]', "The arms and the colour change.")
    page.screenshot(path=str(ARTIFACTS / "demo_participant_free_text.png"))
    with page.expect_request(lambda request: request.url.startswith(PROLIFIC_BASE)) as prolific:
        page.click("#next")
    study = Study.objects.get(slug=SEED.slug)
    assert prolific.value.url == f"{PROLIFIC_BASE}?cc={study.completion_code}"
    participant = Participant.objects.get(study=study, is_simulated=False)
    assert participant.status == Participant.Status.COMPLETED and not participant.attention_failed

    # The researcher signs in with the printed login and opens the printed analysis URL, in a tab of their own
    # (the participant's tab is still busy with the unreachable Prolific page).
    username, password = re.search(r"Researcher login:\s+(\S+) / (\S+)", demo_summary).groups()
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    page.goto(_printed(demo_summary, "Admin"))
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click('input[type="submit"]')
    page.wait_for_url("**/admin/")
    page.goto(_printed(demo_summary, "Dashboard"))
    assert "counterfactual" in page.content().lower()
    page.screenshot(path=str(ARTIFACTS / "demo_researcher_dashboard.png"), full_page=True)
    # Simulated participants (answering with the seed's reported shares) give the analysis data to show;
    # they are excluded unless the researcher asks for them.
    call_command("simulate_participants", SEED.slug, "--n", "12", stdout=io.StringIO())
    # The walkthrough skipped the 30 s on the stimulus page, but the plan frozen at launch still excludes
    # anyone faster: give every visit the viewing time the plan asks for, as real participants would take.
    from django.db.models import F

    from studies.models import PageVisit

    PageVisit.objects.filter(participant__study__slug=SEED.slug, page="stimulus").update(seconds=F("seconds") + 60)
    page.goto(_printed(demo_summary, "Analysis") + "?include_simulated=1")
    # The study is live: the page analyses nothing until the researcher confirms an interim look (logged).
    assert "Nothing has been analysed or stored" in page.locator("#interim-warning").inner_text()
    page.check('#interim-warning input[name="confirm"]')
    page.fill('#interim-warning input[name="reason"]', "demo walkthrough")
    page.check('#interim-warning input[name="include_simulated"]')
    page.click('#interim-warning button[type="submit"]')
    page.wait_for_load_state()
    body = page.locator("body").inner_text()
    assert "Kruskal" in body or "H(" in body, body[:2000]
    assert "H7" in body  # the preregistered hypotheses of appendix E are evaluated
    page.screenshot(path=str(ARTIFACTS / "demo_researcher_analysis.png"), full_page=True)
