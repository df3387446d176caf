"""The participant's stimulus page on a 1366 × 768 laptop and a 390 × 844 phone: cells of at least 96 px on
both (on the laptop the statements stand beside the grid and stay in view while it scrolls; on the phone the
grid scrolls sideways and down in its own box under sticky headers, the page no wider than the screen), Markdown instructions shown as
formatting, a tap enlarging a cell. Screenshots go to artifacts/screens_<size>_<page>.png."""
from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from tests.browser.conftest import ARTIFACTS
from tests.browser.test_phone_width import _phone_study

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

ROWS, COLUMNS = 30, 5
INSTRUCTIONS = ("Each column shows what the network predicts: **Stretchy** on the left, *Sticky* on the right.\n\n"
                "* far left: very confident\n* middle: unsure\n\n<b>not bold</b>")


def _tall_grid(grid, media_root: Path) -> None:
    """Give the study's grid 30 rows of 64 px images, as the seed64 model's grids have."""
    from explainers.models import GridCell

    grid.cells.all().delete()
    for row in range(ROWS):
        for column in range(COLUMNS):
            image = f"grids/phone/t{row}c{column}.png"
            Image.new("RGB", (64, 64), (40 * column, 8 * row, 120)).save(media_root / image)
            GridCell.objects.create(grid=grid, row=row, column=column, image=image, logit=column - 2.0,
                                    is_original=column == row % COLUMNS, source_index=row)


def _walk_to_stimulus(page, url: str, name: str):
    page.goto(url)
    page.click("#agree")
    page.wait_for_url("**/instructions/")
    text = page.locator(".instructions-text")
    assert text.locator("strong").inner_text() == "Stretchy" and text.locator("li").count() == 2
    assert "**" not in text.inner_text() and "<b>not bold</b>" in text.inner_text()
    page.screenshot(path=str(ARTIFACTS / f"screens_{name}_instructions.png"))
    page.click("#next")
    page.wait_for_url("**/stimulus/")
    page.wait_for_function("[...document.querySelectorAll('.stimulus-grid img')].slice(0, 10).every(i => i.complete)")


@pytest.mark.parametrize("name, viewport", [("laptop", {"width": 1366, "height": 768}),
                                            ("phone", {"width": 390, "height": 844})])
def test_the_stimulus_page_on_a_laptop_and_a_phone(live_server, chromium, settings, name, viewport):
    study = _phone_study(settings)
    study.instructions_text = INSTRUCTIONS
    study.save()
    media_root = Path(settings.MEDIA_ROOT)
    _tall_grid(study.conditions.get().stimulus_grid, media_root)
    context = chromium.new_context(viewport=viewport, is_mobile=name == "phone", has_touch=name == "phone")
    page = context.new_page()
    page.route("**/media/**", lambda route: route.fulfill(
        path=str(media_root / route.request.url.split(settings.MEDIA_URL, 1)[1])))
    _walk_to_stimulus(page, f"{live_server.url}/s/{study.slug}/", name)
    page.screenshot(path=str(ARTIFACTS / f"screens_{name}_stimulus.png"))

    cell = page.locator(".stimulus-grid__image").first.bounding_box()
    table = page.locator(".stimulus-grid__table").bounding_box()
    form = page.locator("#page-form")
    if name == "laptop":
        assert cell["width"] >= 96 and cell["height"] >= 96
        assert form.bounding_box()["x"] >= table["x"] + table["width"]  # the statements stand beside the grid
        page.mouse.wheel(0, 2500)  # far down the 30 rows
        page.wait_for_timeout(300)
        box = form.bounding_box()
        assert 0 <= box["y"] <= viewport["height"] // 2, box  # the statements stayed in view
        first_statement = page.locator("#item-arms").bounding_box()
        assert first_statement["y"] + first_statement["height"] <= viewport["height"]
        assert abs(page.locator(".stimulus-grid__header").first.bounding_box()["y"]) < 2  # so did the headers
        page.screenshot(path=str(ARTIFACTS / f"screens_{name}_stimulus_scrolled.png"))
    else:
        assert cell["width"] >= 96 and cell["height"] >= 96  # not shrunk to fit: the grid's box scrolls instead
        scroller = page.locator(".stimulus-grid__scroller")
        box = scroller.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"]  # the box fits the screen
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]  # so does the page
        assert scroller.evaluate("s => s.scrollWidth > s.clientWidth")  # sideways in the box
        scroller.evaluate("s => { s.scrollLeft = s.scrollWidth; s.scrollTop = 600; }")  # far right, rows down
        page.wait_for_timeout(200)
        header = page.locator(".stimulus-grid__header").last.bounding_box()
        assert abs(header["y"] - box["y"]) < 3 and header["x"] + header["width"] <= viewport["width"] + 1
        page.screenshot(path=str(ARTIFACTS / f"screens_{name}_stimulus_scrolled.png"))
        scroller.evaluate("s => { s.scrollLeft = 0; s.scrollTop = 0; }")
        assert form.bounding_box()["y"] >= box["y"] + box["height"]  # statements below the grid
    page.locator(".stimulus-grid td > button").nth(6).click()
    enlarged = page.locator(".stimulus-grid__dialog-image").bounding_box()
    assert enlarged["width"] > max(cell["width"] * 2.5, 250)  # larger on click
    page.screenshot(path=str(ARTIFACTS / f"screens_{name}_enlarged.png"))
    context.close()
