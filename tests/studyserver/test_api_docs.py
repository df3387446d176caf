"""/api/docs/: served entirely by the platform (no CDN), and a login page for anonymous visitors."""
from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client

from tests.browser.conftest import chromium  # noqa: F401  (the shared headless Chromium fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture
def researcher_client():
    user = get_user_model().objects.create_user("docs-reader", password="pw-for-tests-only", is_staff=True)
    client = Client()
    client.force_login(user)
    return client


def test_anonymous_visitors_are_sent_to_the_login_page_and_back():
    response = Client().get("/api/docs/")
    assert response.status_code == 302
    assert response["Location"] == f"{settings.LOGIN_URL}?next=/api/docs/"
    login = Client().get(response["Location"])
    assert login.status_code == 200 and b'name="password"' in login.content
    # The machine-readable schema stays an API endpoint: a status code, not a redirect.
    assert Client().get("/api/schema/").status_code in (401, 403)


def test_every_script_and_stylesheet_of_the_docs_comes_from_this_server(researcher_client):
    response = researcher_client.get("/api/docs/")
    assert response.status_code == 200
    page = response.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert any(asset.endswith("swagger-ui-bundle.js") for asset in assets), assets
    assert any(asset.endswith("swagger-ui.css") for asset in assets), assets
    for asset in assets:
        assert not urlsplit(asset).netloc, f"{asset} is loaded from another host"
        served = researcher_client.get(asset)
        assert served.status_code == 200, asset
        served.close()
    schema_url = re.search(r'"(/api/schema/[^"]*)"', page).group(1)
    assert researcher_client.get(schema_url).status_code == 200


@pytest.mark.browser
@pytest.mark.timeout(120)
def test_the_docs_render_in_chromium_with_the_internet_cut_off(live_server, chromium):
    get_user_model().objects.create_user("docs-reader", password="pw-for-tests-only", is_staff=True)
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    foreign = []

    def offline(route):
        if route.request.url.startswith(live_server.url):
            route.continue_()
        else:
            foreign.append(route.request.url)
            route.abort()

    page.route("**/*", offline)
    page.goto(f"{live_server.url}/api/docs/")
    assert "/admin/login/" in page.url
    page.fill("#id_username", "docs-reader")
    page.fill("#id_password", "pw-for-tests-only")
    page.click('input[type="submit"]')
    page.wait_for_url("**/api/docs/")
    page.wait_for_selector(".swagger-ui .info .title", timeout=30_000)
    assert settings.SPECTACULAR_SETTINGS["TITLE"] in page.locator(".swagger-ui .info .title").inner_text()
    assert page.locator(".opblock").count() > 10  # the operations were read from /api/schema/
    assert foreign == []
