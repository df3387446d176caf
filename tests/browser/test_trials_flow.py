"""A participant takes a within-subject trials study in headless Chromium: instructions with a reading time,
each trial's Explanation 2 revealed after the first rating, Back and reload, the Prolific completion redirect.
Screenshots at 1366 × 768 and 390 × 844 go to artifacts/trials_<page>_<width>.png."""
from __future__ import annotations

import pytest

from tests.browser.conftest import ARTIFACTS
from tests.studies.designs.trials.factories import make_trials_study
from tests.studies.factories import make_user

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

PROLIFIC_BASE = "https://app.prolific.com/submissions/complete"
SIZES = {"laptop": {"width": 1366, "height": 768}, "phone": {"width": 390, "height": 844}}


def _shoot(page, name: str) -> None:
    for label, size in SIZES.items():
        page.set_viewport_size(size)
        page.screenshot(path=str(ARTIFACTS / f"trials_{name}_{size['width']}.png"), full_page=True)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= size["width"], f"the {name} page is {width} px wide on a {label} ({size['width']} px)"
    page.set_viewport_size(SIZES["laptop"])


def test_a_participant_completes_the_trials_in_chromium(live_server, laptop_page, settings):
    from studies.designs.trials.models import Trial
    from studies.models import Participant

    settings.PROLIFIC_COMPLETION_BASE_URL = PROLIFIC_BASE
    study = make_trials_study(owner=make_user(), slug="browser-trials", pool=8, trials=6, min_instructions_seconds=2,
                              title="How useful are these explanations?")
    page = laptop_page
    page.goto(f"{live_server.url}/s/{study.slug}/?PROLIFIC_PID=browser-trials&STUDY_ID=st&SESSION_ID=se")
    page.click("#agree")
    page.wait_for_url("**/instructions/")
    assert page.is_disabled("#next")  # the reading time counts down first
    _shoot(page, "instructions")
    page.wait_for_function("!document.getElementById('next').disabled", timeout=10000)
    page.click("#next")
    page.wait_for_url("**/trials/")
    for position in range(1, 7):
        assert page.locator(".trial").get_attribute("data-trial") == str(position)
        assert page.locator("#explanation-2").count() == 0
        page.check('input[name="first"][value="4"]')
        page.click("#show-second")
        page.wait_for_selector("#explanation-2")
        if position == 1:
            _shoot(page, "trial")
            # Back, then the reload resumes on the same trial with the first rating kept.
            page.reload()
            assert page.is_checked('input[name="first"][value="4"]')
        page.check('input[name="second"][value="2"]')
        if position == 2:
            page.click("#back")
            page.wait_for_function("document.querySelector('.trial').dataset.trial === '1'")
            assert page.is_checked('input[name="second"][value="2"]')
            page.check('input[name="second"][value="3"]')
            page.click("#next")
            page.wait_for_function("document.querySelector('.trial').dataset.trial === '2'")
            page.check('input[name="second"][value="2"]')
        if position < 6:
            page.click("#next")
            page.wait_for_function(f"document.querySelector('.trial').dataset.trial === '{position + 1}'")
    with page.expect_request(lambda request: request.url.startswith(PROLIFIC_BASE)) as prolific:
        page.click("#next")
    assert prolific.value.url == f"{PROLIFIC_BASE}?cc=DONE123"
    participant = Participant.objects.get(study=study)
    assert participant.status == Participant.Status.COMPLETED
    trials = Trial.objects.filter(participant=participant)
    assert trials.filter(second_rating__isnull=False).count() == 6
    assert list(trials.get(position=1).revisions.values_list("question", "value")) == [
        ("first", 4), ("second", 2), ("second", 3)]
