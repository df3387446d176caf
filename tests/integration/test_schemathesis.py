"""Schemathesis against the live researcher API: no 5xx and no response that violates the OpenAPI schema.

Runs every operation of /api/schema/ against pytest-django's live server with token authentication, as a
researcher who owns a draft study (with a condition, items and a participant answer). Positive and negative
(schema-violating) examples, a bounded number per operation.

Checks: not_a_server_error, response_schema_conformance, content_type_conformance. status_code_conformance is
left out on purpose: drf-spectacular documents only the success status, so every correct 400/404 would count
as a failure.
"""
from __future__ import annotations

import re
import warnings

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from rest_framework.authtoken.models import Token
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)
from schemathesis.checks import not_a_server_error

from studies.models import Participant, Response
from tests.studies.factories import make_study, make_user

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

MAX_EXAMPLES = 25
# Operations with a known, reported 5xx (each with a test reproducing it); empty since all were fixed.
KNOWN_FINDINGS: dict[str, str] = {}


@pytest.fixture
def researcher_token(transactional_db):
    researcher = make_user("schemathesis-researcher", is_staff=True)
    study = make_study(owner=researcher, slug="fuzzed-study", status="draft")
    participant = Participant.objects.create(study=study, platform="prolific", external_id="FUZZ-PID",
                                             condition=study.conditions.first())
    Response.objects.create(participant=participant, item=study.items.get(key="arms"), value_int=4)
    return Token.objects.create(user=researcher).key


def test_the_api_never_errors_and_matches_its_schema(live_server, researcher_token):
    headers = {"Authorization": f"Token {researcher_token}"}
    raw = requests.get(f"{live_server.url}/api/schema/?format=json", headers=headers, timeout=30).json()
    schema = schemathesis.openapi.from_dict(raw)
    checks = [not_a_server_error, response_schema_conformance, content_type_conformance]
    failures: list[str] = []
    tested: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        tested.append(operation.label)

        @given(case=operation.as_strategy())
        @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
        def exercise(case):
            case.call_and_validate(base_url=live_server.url, headers=headers, checks=checks)

        try:
            exercise()
        except (Exception, BaseExceptionGroup) as error:  # collect every operation's failure, then report them together
            if operation.label in KNOWN_FINDINGS:
                warnings.warn(f"known finding {operation.label}: {KNOWN_FINDINGS[operation.label]}")
                continue
            failures.append(f"{operation.label}: {type(error).__name__}: {str(error)[:1500]}")
    assert len(tested) >= 30, tested  # the schema really was loaded (studies, conditions, items, grids, stats)
    assert failures == [], "\n\n".join(failures)


URI_CHARACTERS = re.compile(r"^[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]*$")
PERCENT_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def test_the_participant_url_matches_its_declared_format(live_server, researcher_token):
    headers = {"Authorization": f"Token {researcher_token}"}
    raw = requests.get(f"{live_server.url}/api/schema/?format=json", headers=headers, timeout=30).json()
    declared = raw["components"]["schemas"]["Study"]["properties"]["participant_url"].get("format")
    url = requests.get(f"{live_server.url}/api/studies/fuzzed-study/", headers=headers, timeout=30).json()[
        "participant_url"]
    if declared == "uri":
        assert URI_CHARACTERS.match(url.replace("%", "")) and not PERCENT_ESCAPE.search(url), url
