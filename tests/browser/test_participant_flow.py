"""A participant takes the whole study in headless Chromium, ending at the Prolific completion redirect."""
from __future__ import annotations

import pytest

from tests.browser.conftest import ARTIFACTS
from tests.studies.factories import make_study, make_user

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

PROLIFIC_BASE = "https://app.prolific.com/submissions/complete"


def test_a_participant_completes_the_study_in_chromium(live_server, browser_page, settings):
    from studies.models import Participant

    settings.PROLIFIC_COMPLETION_BASE_URL = PROLIFIC_BASE
    study = make_study(owner=make_user(), slug="browser-study", title="Which patterns does the network use?")
    page = browser_page
    page.goto(f"{live_server.url}/s/{study.slug}/?PROLIFIC_PID=browser-pid&STUDY_ID=st&SESSION_ID=se")
    page.click("#agree")
    page.wait_for_url("**/instructions/")
    page.click("#next")
    page.wait_for_url("**/stimulus/")
    assert page.locator("img.stimulus-image").evaluate("img => img.naturalWidth") > 0
    for key, value in (("arms", 6), ("colour", 3), ("attn", 2)):
        page.check(f'input[name="item-{key}"][value="{value}"]')
    page.wait_for_function("document.getElementById('save-status').textContent === 'Saved.'")
    page.screenshot(path=str(ARTIFACTS / "participant_flow_stimulus.png"), full_page=True)
    page.click("#next")
    page.wait_for_url("**/satisfaction/")
    page.check('input[name="item-useful"][value="5"]')
    # Back keeps the answers of both pages.
    page.click("#back")
    page.wait_for_url("**/stimulus/")
    assert page.is_checked('input[name="item-arms"][value="6"]')
    # A reload resumes on the same page with the answers.
    page.reload()
    assert page.url.endswith("/stimulus/") and page.is_checked('input[name="item-attn"][value="2"]')
    page.click("#next")
    page.wait_for_url("**/satisfaction/")
    assert page.is_checked('input[name="item-useful"][value="5"]')
    page.click("#next")
    page.wait_for_url("**/free_text/")
    page.fill('textarea[name="item-comments"]', "The arms decide it.")
    page.screenshot(path=str(ARTIFACTS / "participant_flow.png"), full_page=True)
    # The completion redirect leaves the server for Prolific. The browser's request to Prolific is captured
    # and never resolved (host-resolver rule below): with this Chromium build, Playwright routes are not
    # consulted for redirect targets, so the request is observed instead of fulfilled.
    with page.expect_request(lambda request: request.url.startswith(PROLIFIC_BASE)) as prolific:
        page.click("#next")
    assert prolific.value.url == f"{PROLIFIC_BASE}?cc=DONE123"
    assert prolific.value.is_navigation_request()
    participant = Participant.objects.get(study=study)
    assert participant.status == Participant.Status.COMPLETED
    assert participant.responses.count() == 5
    assert participant.page_visits.filter(page="stimulus").count() >= 2
