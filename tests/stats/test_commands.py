"""analyze, export_responses and plan_sample_size: output formats and clear failures."""
from __future__ import annotations

import csv
import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from stats.models import Analysis

from .factories import make_item, make_study, seed_like_study

pytestmark = pytest.mark.django_db


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_analyze_writes_json_csv_and_html(tmp_path):
    study = seed_like_study(slug="patterns")
    out, _ = run("analyze", "patterns", "--format", "json")
    results = json.loads(out)
    assert results["study"]["slug"] == "patterns" and results["items"][0]["test"]["status"] == "ok"
    csv_out, _ = run("analyze", "patterns", "--format", "csv", "--correction", "holm")
    rows = list(csv.DictReader(io.StringIO(csv_out)))
    assert len(rows) == 4 * 2 and {row["correction"] for row in rows} == {"holm"}
    target = tmp_path / "report.html"
    run("analyze", "patterns", "--format", "html", "--out", str(target))
    html = target.read_text()
    assert "H(1, N = 16)" in html.replace("<i>", "").replace("</i>", "") and "data:image/svg+xml;base64," in html
    assert Analysis.objects.filter(study=study).count() == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nosuch"], "No study with slug 'nosuch'"),
        (["patterns", "--correction", "sidak"], "Unknown correction method 'sidak'"),
        (["patterns", "--format", "xml"], "Unknown format 'xml'"),
    ],
)
def test_analyze_refuses_bad_arguments(args, message):
    seed_like_study(slug="patterns", n_per_condition=2)
    with pytest.raises(CommandError, match=message):
        run("analyze", *args)
    assert not Analysis.objects.exists()


def test_analyze_on_an_empty_study_fails_with_a_message():
    make_study(slug="empty")
    make_item(make_study(slug="other"), "arms")
    with pytest.raises(CommandError, match="no Likert items"):
        run("analyze", "empty")


def test_analyze_exits_non_zero_when_an_item_has_no_answers(tmp_path):
    study = seed_like_study(slug="patterns", n_per_condition=3)
    make_item(study, "maturity")
    with pytest.raises(CommandError, match="1 item\\(s\\) could not be tested") as raised:
        run("analyze", "patterns", "--out", str(tmp_path / "r.json"))
    assert raised.value.returncode == 2
    assert json.loads((tmp_path / "r.json").read_text())["problems"]


def test_export_responses_long_wide_json_and_codebook():
    seed_like_study(slug="patterns", n_per_condition=2)
    long_rows = list(csv.DictReader(io.StringIO(run("export_responses", "patterns", "--format", "long")[0])))
    assert len(long_rows) == 4 * 5 and {"participant", "condition", "item", "value", "is_simulated"} <= set(long_rows[0])
    wide = list(csv.DictReader(io.StringIO(run("export_responses", "patterns", "--format", "wide")[0])))
    assert len(wide) == 4 and wide[0]["arms"] in {"7", "5"}
    data = json.loads(run("export_responses", "patterns", "--format", "json")[0])
    assert len(data["participants"]) == 4 and data["codebook"]["items"][0]["key"]
    codebook = json.loads(run("export_responses", "patterns", "--format", "codebook")[0])
    assert {item["key"] for item in codebook["items"]} == {"arms", "color", "bg", "helpful", "check"}
    with pytest.raises(CommandError, match="Unknown format"):
        run("export_responses", "patterns", "--format", "xlsx")


def test_plan_sample_size_from_d_and_distributions():
    out, _ = run("plan_sample_size", "--d", "0.5", "--family-size", "6")
    assert out.startswith("104 participants per condition")
    plan = json.loads(run("plan_sample_size", "--distributions",
                          "[[0.02,0.03,0.05,0.1,0.2,0.3,0.3],[0.1,0.15,0.15,0.2,0.15,0.15,0.1]]",
                          "--simulations", "200", "--json")[0])
    assert plan["method"] == "simulation" and plan["n_per_condition"] > 2
    with pytest.raises(CommandError, match="either --d or --distributions"):
        run("plan_sample_size")
    with pytest.raises(CommandError, match="positive"):
        run("plan_sample_size", "--d", "0")
