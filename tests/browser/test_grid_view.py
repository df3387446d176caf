"""The participant's grid in headless Chromium: sticky headers, golden frames, enlarge dialog, no blank page."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.browser.conftest import ARTIFACTS
from tests.explainers.test_grids import (  # noqa: F401  (shared fixtures)
    SMALL, _grid_cache, _shared_grid_cache, checkpoint, researcher, tiny_checkpoint_file)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

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
        '{% include "explainers/grid_stimulus.html" with grid=grid %}{% endblock %}'
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
    images = page.locator(".stimulus-grid img")
    assert images.count() == 75
    first = images.first
    assert first.get_attribute("loading") == "lazy"
    assert first.get_attribute("width") and first.get_attribute("height")
    page.wait_for_function("document.querySelector('.stimulus-grid img').naturalWidth > 0")
    assert page.locator(".stimulus-grid__cell--original").count() == 15
    border = page.locator(".stimulus-grid__cell--original .stimulus-grid__enlarge").first.evaluate(
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

    page.locator(".stimulus-grid__enlarge").nth(3).click()
    dialog = page.locator("dialog.stimulus-grid__dialog")
    assert dialog.evaluate("d => d.open")
    assert page.locator(".stimulus-grid__dialog-image").get_attribute("src").endswith(".png")
    page.keyboard.press("Escape")
    assert not dialog.evaluate("d => d.open")
