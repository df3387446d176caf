"""One annotator in headless Chromium: consent, instructions, a pair and a row of images, the Prolific redirect."""
from __future__ import annotations

import pytest

from tests.browser.conftest import ARTIFACTS, chromium  # noqa: F401 (the shared Chromium fixture)

from .factories import WHAT_CHANGES, image, make_annotation_study

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

PROLIFIC_BASE = "https://app.prolific.com/submissions/complete"
VIEWPORTS = {"laptop": (1366, 768), "phone": (390, 844)}


@pytest.mark.parametrize("screen", sorted(VIEWPORTS))
def test_an_annotator_reaches_the_completion_redirect(live_server, chromium, settings, screen):
    from studies.designs.annotation import services
    from studies.designs.annotation.models import AnnotationVote
    from studies.models import Participant

    settings.PROLIFIC_COMPLETION_BASE_URL = PROLIFIC_BASE
    study = make_annotation_study(items=1, k=1, per_participant=1)
    task = services.annotation_task_create(study=study, key="changing", title="Task-2", order=1,
                                           question="What is changing in the images?", choices=WHAT_CHANGES)
    services.annotation_item_create(task=task, key="row", ground_truth="arms",
                                    images=[image((40 * i, 90, 160)) for i in range(5)])
    services.annotation_settings_save(study=study, votes_per_item=1, items_per_participant=2)
    width, height = VIEWPORTS[screen]
    page = chromium.new_page(viewport={"width": width, "height": height})
    page.goto(f"{live_server.url}/s/{study.slug}/?PROLIFIC_PID=annotator-{screen}&STUDY_ID=st&SESSION_ID=se")
    page.click("#agree")
    page.wait_for_url("**/instructions/")
    page.click("#next")
    page.wait_for_url("**/annotate/")
    for _ in range(2):
        heading = page.locator("h1").inner_text()
        assert page.locator(".annotation-images img").first.evaluate("img => img.naturalWidth") > 0
        # Nothing may overflow the screen sideways (phones).
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        last = _ == 1
        if "stretchy" in heading:
            page.screenshot(path=str(ARTIFACTS / f"annotation_pair_{screen}.png"), full_page=True)
            target = page.locator(".annotation-image-choice").first
        else:
            page.screenshot(path=str(ARTIFACTS / f"annotation_row_{screen}.png"), full_page=True)
            target = page.locator(".annotation-choice", has_text="arms")
        if last:
            with page.expect_request(lambda request: request.url.startswith(PROLIFIC_BASE)) as prolific:
                target.click()
            assert prolific.value.url == f"{PROLIFIC_BASE}?cc=DONE"
        else:
            target.click()
            page.wait_for_function("document.querySelector('.annotation-count').textContent.includes('2 of 2')")
    participant = Participant.objects.get(study=study)
    assert participant.status == Participant.Status.COMPLETED
    assert AnnotationVote.objects.filter(participant=participant).count() == 2
