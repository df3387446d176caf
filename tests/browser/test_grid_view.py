"""The participant's grid in headless Chromium: sticky headers, golden frames, enlarge dialog, no blank page."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.browser.conftest import ARTIFACTS
from tests.explainers.test_grids import (  # noqa: F401  (shared fixtures)
    SMALL, _grid_cache, _shared_grid_cache, checkpoint, researcher, tiny_checkpoint_file)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

def _screenshot_array(locator) -> np.ndarray:
    from io import BytesIO

    from PIL import Image

    return np.asarray(Image.open(BytesIO(locator.screenshot())).convert("RGB"), dtype=np.float64)


def _assert_cells_show_their_own_files(page, grid, cells) -> None:
    """A few cells drawn from the sprite look like their own PNG drawn at the same size by an <img>, and
    unlike the other cells of their row (a wrong background position shows another picture)."""
    from django.conf import settings

    stored = list(grid.cells.order_by("row", "column"))
    box = cells.first.bounding_box()
    page.evaluate("""([urls, size]) => Promise.all(urls.map((url, i) => new Promise(done => {
        const img = document.createElement("img");
        img.id = "reference-" + i; img.src = url; img.onload = done;
        img.style.cssText = `position: fixed; left: ${i * (size + 4)}px; top: 0; width: ${size}px; height: ${size}px; z-index: 9`;
        document.body.appendChild(img);
    })))""", [[f"{settings.MEDIA_URL}{cell.image}" for cell in stored[:5]], box["width"]])
    references = [_screenshot_array(page.locator(f"#reference-{i}")) for i in range(5)]
    page.evaluate("() => document.querySelectorAll('[id^=reference-]').forEach(e => e.remove())")
    for index in range(5):  # the first row: five different pictures
        drawn = _screenshot_array(cells.nth(index))
        errors = []
        for reference in references:  # sub-pixel placement: compare the common inner part
            h, w = min(drawn.shape[0], reference.shape[0]) - 2, min(drawn.shape[1], reference.shape[1]) - 2
            errors.append(np.abs(drawn[1:h + 1, 1:w + 1] - reference[1:h + 1, 1:w + 1]).mean())
        assert errors[index] < 2.5, errors  # resampling differs a little between a background and an <img>
        assert errors[index] == min(errors), errors


def test_a_ready_grid_renders_with_sticky_headers_and_an_enlarge_dialog(live_server, laptop_page, researcher,  # noqa: F811
                                                                        checkpoint, settings):  # noqa: F811
    from django.template import engines
    from PIL import Image

    from explainers.services.grid_generation import grid_pregenerate
    from explainers.services.grids import grid_create

    grid = grid_create(owner=researcher, checkpoint=checkpoint, method="counterfactual_interpolation",
                       layout={**SMALL, "rows": 15}, enqueue=False)
    grid = grid_pregenerate(grid.pk)
    assert grid.is_ready, grid.error
    html = engines["django"].from_string(
        '{% extends "base.html" %}{% block content %}<h1>Study the images</h1>'
        '{% load stimulus_grids %}{% stimulus_grid grid %}{% endblock %}'
    ).render({"grid": grid})
    media_root = Path(settings.MEDIA_ROOT)
    page = laptop_page

    def serve_media(route):  # the grid's files live in this test's MEDIA_ROOT
        relative = route.request.url.split(settings.MEDIA_URL, 1)[1]
        route.fulfill(path=str(media_root / relative))

    page.route("**/media/**", serve_media)
    page.goto(f"{live_server.url}/healthz/")
    page.set_content(html.replace("<head>", f'<head><base href="{live_server.url}/">', 1), wait_until="load")

    header = page.locator(".stimulus-grid__header").first
    assert page.locator(".stimulus-grid__header").all_inner_texts()[0] == "Stretchy, very confident"
    assert header.evaluate("th => getComputedStyle(th).position") == "sticky"
    cells = page.locator(".stimulus-grid__image")
    assert cells.count() == 75
    assert page.locator(".stimulus-grid img").count() == 0  # drawn from the grid's sprite: one request
    sprite_url = f"{settings.MEDIA_URL}{grid.provenance['sprite']['file']}"
    page.evaluate("url => new Promise((done, fail) => { const i = new Image(); i.onload = done; i.onerror = fail; "
                  "i.src = url; })", sprite_url)
    _assert_cells_show_their_own_files(page, grid, cells)
    assert page.locator(".stimulus-grid__original").count() == 15
    border = page.locator(".stimulus-grid__original > button").first.evaluate(
        "b => getComputedStyle(b).borderTopColor")
    assert border == "rgb(212, 160, 23)"  # the golden frame
    grid_box = page.locator(".stimulus-grid__table").bounding_box()
    assert grid_box["width"] <= 1366  # five columns fit the laptop without horizontal scrolling

    # Headers stay visible after scrolling far down the grid.
    page.mouse.wheel(0, 1500)
    page.wait_for_timeout(200)
    assert abs(header.bounding_box()["y"]) < 2

    shot = ARTIFACTS / "grid_view.png"
    page.screenshot(path=str(shot))
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=np.float64)
    assert pixels.std() > 10, "the screenshot is blank"

    page.locator(".stimulus-grid td > button").nth(3).click()
    dialog = page.locator("dialog.stimulus-grid__dialog")
    assert dialog.evaluate("d => d.open")
    assert page.locator(".stimulus-grid__dialog-image").get_attribute("src").endswith(".png")
    page.keyboard.press("Escape")
    assert not dialog.evaluate("d => d.open")
