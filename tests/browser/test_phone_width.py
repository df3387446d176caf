"""Every participant page at phone size (390 × 844): nothing wider than the screen (the grid's 96 px cells
scroll sideways inside their own box), Likert scales standing vertically with their labels, every control on
screen and clickable, Continue never covered.
Screenshots go to artifacts/phone_<page>.png."""
from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from tests.browser.conftest import ARTIFACTS
from tests.studies.factories import make_study, make_user

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

PHONE = {"width": 390, "height": 844}
AGREEMENT_LABELS = ["Strongly disagree", "Disagree", "Somewhat disagree", "Neither agree nor disagree",
                    "Somewhat agree", "Agree", "Strongly agree"]
GRID_ROWS, GRID_COLUMNS = 4, 5
COLUMN_LABELS = ["Stretchy, very confident", "Stretchy, confident", "Unsure either way",
                 "Sticky, confident", "Sticky, very confident"]


def _grid(owner, media_root: Path):
    """A ready 4 × 5 grid of 112 px images, as pregeneration leaves it (files under MEDIA_ROOT)."""
    from explainers.models import Checkpoint, GridCell, StimulusGrid

    checkpoint = Checkpoint.objects.create(owner=owner, name="phone-test", file="unused.pt", sha256="0" * 64)
    grid = StimulusGrid.objects.create(
        owner=owner, name="phone grid", checkpoint=checkpoint, method="counterfactual_interpolation",
        status=StimulusGrid.Status.READY, progress=100, directory="grids/phone", column_labels=COLUMN_LABELS,
        provenance={"display_size": 112},
    )
    (media_root / "grids/phone").mkdir(parents=True)
    for row in range(GRID_ROWS):
        for column in range(GRID_COLUMNS):
            image = f"grids/phone/r{row}c{column}.png"
            Image.new("RGB", (112, 112), (40 * column, 60 * row, 120)).save(media_root / image)
            GridCell.objects.create(grid=grid, row=row, column=column, image=image, logit=column - 2.0,
                                    is_original=column == 2, source_index=row)
    return grid


def _phone_study(settings):
    from studies.models import Item, Study

    owner = make_user()
    # A plain-link study ends on the completion page itself (Prolific's redirects away from the server).
    study = make_study(owner=owner, slug="phone-study", conditions=1, with_items=False, platform=Study.Platform.LINK,
                       title="Which patterns does the network use to tell the two animals apart?")
    study.consent_text = ("You may stop at any time. " * 20 + "https://example.org/a-very-long-privacy-policy-"
                          "address-that-has-no-spaces-at-all-and-must-wrap/index.html")
    study.instructions_text = ("Look at the images carefully. Each column shows what the network predicts; "
                               "a golden frame marks an original image.")
    study.save()
    condition = study.conditions.get()
    condition.stimulus_grid = _grid(owner, Path(settings.MEDIA_ROOT))
    condition.save()
    stimulus = Item.Page.STIMULUS
    Item.objects.create(study=study, key="arms", page=stimulus, order=1, labels=AGREEMENT_LABELS,
                        text="The network uses the arms' positions (stretched out or close to the body).")
    Item.objects.create(study=study, key="colour", page=stimulus, order=2, reverse_coded=True,
                        text="The network ignores the colour of the blocks.")
    Item.objects.create(study=study, key="attn", page=stimulus, order=3, kind=Item.Kind.ATTENTION_CHECK,
                        expected_answer=2, text="To show you read this, please choose 2 here.")
    Item.objects.create(study=study, key="useful", page=Item.Page.SATISFACTION, order=1, labels=AGREEMENT_LABELS,
                        text="The explanation helped me understand what the network looks at.")
    Item.objects.create(study=study, key="comments", page=Item.Page.FREE_TEXT, order=1, kind=Item.Kind.FREE_TEXT,
                        required=False, text="Anything else you noticed?")
    return study


def _check_fits(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"phone_{name}.png"), full_page=True)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the {name} page is {width} px wide at {PHONE['width']} px"
    # Nothing hidden past the right edge either (scrollWidth misses content clipped by overflow: hidden).
    # Content of a box that scrolls sideways and itself fits the screen is reachable by scrolling that box
    # (the grid on a phone), so it does not count.
    wide = page.evaluate("""w => {
        const inFittingScroller = e => { for (let a = e.parentElement; a; a = a.parentElement) {
            if (['auto', 'scroll'].includes(getComputedStyle(a).overflowX))
                return a.getBoundingClientRect().right <= w + 0.5; } return false; };
        return [...document.querySelectorAll('body *')]
        .filter(e => e.getClientRects().length && e.getBoundingClientRect().right > w + 0.5 && !inFittingScroller(e))
        .map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right)); }""",
                         PHONE["width"])
    assert wide == [], f"{name}: {wide[:5]}"


def _check_reachable(page, selector: str) -> None:
    """Each control lies within the screen's width and is the element a tap at its centre lands on (or its
    own label), so no other element covers it."""
    controls = page.locator(selector)
    assert controls.count() > 0, selector
    for index in range(controls.count()):
        control = controls.nth(index)
        control.scroll_into_view_if_needed()
        box = control.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], (selector, index, box)
        hit = control.evaluate("""c => { const r = c.getBoundingClientRect();
            const hit = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
            return hit === c || c.contains(hit) || (hit && hit.contains(c) && hit.closest('label') !== null); }""")
        assert hit, f"{selector} #{index} is covered"


def test_every_participant_page_fits_a_phone(live_server, chromium, settings):
    from studies.models import Participant

    study = _phone_study(settings)
    context = chromium.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    page = context.new_page()
    media_root = Path(settings.MEDIA_ROOT)
    page.route("**/media/**", lambda route: route.fulfill(
        path=str(media_root / route.request.url.split(settings.MEDIA_URL, 1)[1])))

    page.goto(f"{live_server.url}/s/{study.slug}/")
    _check_fits(page, "consent")
    _check_reachable(page, "#agree, #decline")
    page.click("#agree")
    page.wait_for_url("**/instructions/")
    _check_fits(page, "instructions")
    _check_reachable(page, "#next")
    page.click("#next")

    page.wait_for_url("**/stimulus/")
    page.wait_for_function("[...document.querySelectorAll('.stimulus-grid img')].every(i => i.complete)")
    _check_fits(page, "stimulus")
    assert page.locator(".stimulus-grid__image").count() == GRID_ROWS * GRID_COLUMNS
    # Cells stay at least 96 px on the phone: the grid scrolls sideways in its own box, which fits the screen.
    for index in (0, GRID_COLUMNS * GRID_ROWS - 1):
        cell = page.locator(".stimulus-grid__image").nth(index).bounding_box()
        assert cell["width"] >= 96 and cell["height"] >= 96, cell
    scroller = page.locator(".stimulus-grid__scroller")
    box = scroller.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
    assert scroller.evaluate("s => s.scrollWidth > s.clientWidth")  # the columns are reached by scrolling it
    assert page.locator(".stimulus-grid__swipe-hint").is_visible()
    # The scale stands vertically: its points one above the other, each label beside its radio.
    points = page.locator("#item-arms .likert-point")
    first, second = points.nth(0).bounding_box(), points.nth(1).bounding_box()
    assert second["y"] >= first["y"] + first["height"] - 1 and abs(second["x"] - first["x"]) < 1
    radio, label = (points.nth(3).locator(part).bounding_box() for part in ("input", ".likert-label"))
    assert label["x"] > radio["x"] + radio["width"] and abs(label["y"] - radio["y"]) < label["height"]
    assert points.nth(0).bounding_box()["height"] >= 44  # a touch target
    # Without per-point labels, the anchors stand at the ends of the column.
    low, high = (page.locator("#item-colour .likert-anchors span").nth(i).bounding_box() for i in (0, 1))
    colour_points = page.locator("#item-colour .likert-point")
    assert low["y"] < colour_points.first.bounding_box()["y"]
    assert high["y"] > colour_points.last.bounding_box()["y"]
    _check_reachable(page, ".stimulus-grid td > button")
    _check_reachable(page, "#page-form input[type=radio]")
    _check_reachable(page, "#next")
    page.locator(".stimulus-grid td > button").nth(7).click()
    assert page.locator("dialog.stimulus-grid__dialog").evaluate("d => d.open")
    _check_fits(page, "stimulus_enlarged")
    page.click(".stimulus-grid__close")
    for key, value in (("arms", 6), ("colour", 3), ("attn", 2)):
        page.check(f'input[name="item-{key}"][value="{value}"]')
    page.wait_for_function("document.getElementById('save-status').textContent === 'Saved.'")
    page.click("#next")

    page.wait_for_url("**/satisfaction/")
    _check_fits(page, "satisfaction")
    _check_reachable(page, "#page-form input[type=radio], #back, #next")
    page.check('input[name="item-useful"][value="5"]')
    page.click("#next")

    page.wait_for_url("**/free_text/")
    _check_fits(page, "free_text")
    _check_reachable(page, "textarea, #back, #next")
    page.fill('textarea[name="item-comments"]', "The arms decide it. " * 10)
    page.click("#next")

    page.wait_for_url("**/complete/")
    assert Participant.objects.get(study=study).status == Participant.Status.COMPLETED
    assert "DONE123" in page.locator(".completion-code").inner_text()
    _check_fits(page, "complete")
    context.close()
