"""Exports are safe to open in a spreadsheet: a cell that starts with =, +, -, @ or a tab is shown as text,
not run as a formula (OWASP, "CSV Injection": prefix such cells with an apostrophe)."""
from __future__ import annotations

import csv
import io

import pytest

from stats.services.exports import responses_export
from stats.spreadsheet import spreadsheet_safe
from studies.models import Item

from ..factories import make_item, make_participant, seed_like_study

pytestmark = pytest.mark.django_db

HOSTILE = ['=HYPERLINK("http://evil.example","click")', "+1+2", "-2+3", "@SUM(A1:A2)", "\tcmd", "\r=1"]


@pytest.mark.parametrize("value", HOSTILE)
def test_a_formula_trigger_gets_an_apostrophe(value):
    assert spreadsheet_safe(value) == "'" + value


@pytest.mark.parametrize("value", ["fine", "", "a=b", "3 - 2", 5, -3, 0.5, None, True])
def test_everything_else_is_unchanged(value):
    assert spreadsheet_safe(value) == value


@pytest.mark.parametrize("fmt", ["long", "wide"])
def test_free_text_answers_and_item_keys_are_neutralised_in_csv_exports(fmt):
    study = seed_like_study(slug="hostile", n_per_condition=1)
    make_item(study, "why", kind=Item.Kind.FREE_TEXT, page=Item.Page.FREE_TEXT, group="feedback")
    for value in HOSTILE:
        make_participant(study, "cf", {"arms": 4, "color": 4, "bg": 4, "helpful": 4, "check": 2, "why": value})
    content = responses_export(study=study, fmt=fmt).content
    cells = [cell for row in csv.reader(io.StringIO(content, newline="")) for cell in row]
    dangerous = [cell for cell in cells if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert dangerous == []
    for value in HOSTILE:
        assert "'" + value.replace("\r", "\n") in cells
    # One row per answer or participant: a carriage return inside an answer does not break a row.
    rows = list(csv.reader(io.StringIO(content, newline="")))
    assert len({len(row) for row in rows}) == 1
    # Numbers stay numbers: the Likert answers are not prefixed.
    assert "4" in cells


def test_the_analysis_table_is_neutralised_too():
    from stats.reports import analysis_csv

    row = {"key": "=HYPERLINK(\"x\")", "family": "pattern", "text": "@risky", "test": {
        key: None for key in ("H", "df", "N", "p", "p_adjusted", "correction", "family_size", "epsilon_squared",
                              "eta_squared_h", "significant", "status", "message")},
        "conditions": {"-a": {key: 1 for key in ("n", "median", "q1", "q3", "iqr", "mean", "mean_rank",
                                                  "pct_disagree", "pct_neutral", "pct_agree")}}}
    text = analysis_csv({"items": [row]})
    assert "'=HYPERLINK" in text and "'@risky" in text and ",'-a," in text
    assert ",=HYPERLINK" not in text
