"""Participant links follow the host serving them unless PUBLIC_BASE_URL says otherwise, and the dashboard
warns when it names another host than the one the researcher is looking at."""
from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from studies.recruitment import RUNSERVER_BASE_URL, study_entry_url

pytestmark = pytest.mark.django_db
HOST = "lab-server.example:8123"
MISMATCH_ID = 'id="base-url-mismatch"'


@pytest.fixture(autouse=True)
def _lab_host(settings):
    settings.ALLOWED_HOSTS = ["lab-server.example", "testserver"]


def _dashboard(study) -> str:
    client = Client(HTTP_HOST=HOST)
    client.force_login(study.owner)
    response = client.get(f"/studies/{study.slug}/dashboard/")
    assert response.status_code == 200
    return response.content.decode()


def test_unset_links_use_the_host_the_dashboard_is_served_from(study, settings):
    settings.PUBLIC_BASE_URL = ""
    page = _dashboard(study)
    assert f"http://{HOST}/s/pattern-study/?PROLIFIC_PID={{{{%PROLIFIC_PID%}}}}" in page
    assert "127.0.0.1:8000" not in page and MISMATCH_ID not in page


def test_a_matching_public_base_url_raises_no_warning(study, settings):
    settings.PUBLIC_BASE_URL = f"http://{HOST}/"
    page = _dashboard(study)
    assert f"http://{HOST}/s/pattern-study/" in page and MISMATCH_ID not in page


@pytest.mark.parametrize("configured", ["http://127.0.0.1:8000", "https://studies.example.org",
                                        "http://lab-server.example:9000"])
def test_a_public_base_url_naming_another_host_is_reported_on_the_dashboard(study, settings, configured):
    settings.PUBLIC_BASE_URL = configured
    page = _dashboard(study)
    assert f"{configured}/s/pattern-study/" in page  # the configured address is still what is used ...
    notice = page[page.index(MISMATCH_ID):]
    notice = notice[:notice.index("</p>")]
    assert configured in notice and f"http://{HOST}" in notice  # ... and the difference is spelled out


def test_the_api_reports_the_participant_url_of_the_requested_host(study, settings):
    settings.PUBLIC_BASE_URL = ""
    api = APIClient(HTTP_HOST=HOST)
    api.force_authenticate(study.owner)
    assert api.get("/api/studies/pattern-study/").json()["participant_url"].startswith(
        f"http://{HOST}/s/pattern-study/?PROLIFIC_PID=")


def test_printed_links_without_a_request_use_runservers_address_unless_configured(study, settings):
    settings.PUBLIC_BASE_URL = ""
    assert study_entry_url(study).startswith(f"{RUNSERVER_BASE_URL}/s/pattern-study/")
    settings.PUBLIC_BASE_URL = "https://studies.example.org/"
    assert study_entry_url(study).startswith("https://studies.example.org/s/pattern-study/")
