"""Study templates: the shipped files load, bad files are refused with a message naming the entry (and create
nothing), the seed template builds the seed study, and `manage.py study_from_template` copies a template into
a researcher's own draft study."""
from __future__ import annotations

import copy
import hashlib
import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.forms.models import model_to_dict

from stats.models import Hypothesis
from studies.models import Condition, Item, Study
from studies.study_templates import (
    SEED_TEMPLATE,
    StudyTemplateError,
    seed_template,
    study_from_template,
    template_load,
    template_names,
    template_parse,
    template_path,
)

# sha256 of the seed study as `manage.py demo` built it from studyserver/seed_study.py, before the seed became a
# template file (see _content below), plus the `design` field (between_group) that studies gained since: the
# digest without it is the pre-template d7d44bff... Change it only on purpose, with the seed template's wording.
# The hypotheses then became all of appendix E.1 (H1-H11, multi-statement ones as "compound"; it was
# d187ff59... with the twelve single statements before).
SEED_STUDY_DIGEST = "7a8fdfbe1e4d765573300cbd8824e9e4929c8ed2a7a5fba343db88077af65bd8"


def _seed_data() -> dict:
    return json.loads(template_path(SEED_TEMPLATE).read_text(encoding="utf-8"))


def _parse(data: dict):
    return template_parse(data, source="mine.json")


def _content(study: Study) -> dict:
    """Everything a participant sees and an analysis reads, without ids, slugs of its own and timestamps."""
    def fields(obj, *skip: str) -> dict:
        return {k: v for k, v in model_to_dict(obj).items() if k not in {"id", "study", *skip}}

    return {
        # The codes for declined and screened-out participants came later and are empty in the seed.
        "study": fields(study, "slug", "owner", "created_at", "launched_at", "status", "declined_code",
                        "screened_out_code"),
        "conditions": [fields(c, "stimulus_grid", "stimulus_image") for c in study.conditions.order_by("order")],
        "items": [fields(i) for i in study.items.order_by("order")],
        "hypotheses": [fields(h, "created_at") for h in Hypothesis.objects.filter(study=study).order_by("key")],
    }


def _digest(content: dict) -> str:
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


@pytest.fixture
def owner(django_user_model):
    return django_user_model.objects.create(username="ada", is_staff=True)


def test_every_shipped_template_loads():
    assert {"two4two_counterfactuals", "example_study"} <= set(template_names())
    for name in template_names():
        template = template_load(name)
        assert template.name == name
        if template.study["design"] == "between_group":  # the other designs bring their own stimuli and questions
            assert template.conditions and template.items


def test_the_seed_template_describes_the_seed_study():
    seed = seed_template()
    assert seed.slug == "two4two-counterfactuals"
    assert [c.method for c in seed.conditions] == ["example_based", "counterfactual_interpolation"]
    groups = [item.group for item in seed.items]
    assert groups == ["pattern"] * 6 + ["attention"] + ["satisfaction"] * 5 + ["feedback"] * 2
    assert [item.key for item in seed.items if item.group == "pattern"] == [
        "arms", "colour", "rotation", "background", "blocks", "maturity"]
    assert len(seed.hypotheses) == 11 and {h.kind for h in seed.hypotheses} == {"proportion_agree",
                                                                                 "condition_greater", "compound"}
    assert seed.answer_shares.per_item["counterfactual"]["arms"] == (97, 0, 3)
    assert seed.answer_shares.satisfaction_keys == {"complete", "detailed", "helpful", "illustrative", "satisfying"}
    assert "golden frame" in seed.study["instructions_text"] and "\n\n" in seed.study["instructions_text"]


@pytest.mark.django_db
def test_the_seed_template_builds_the_study_the_demo_built_before(owner):
    study = study_from_template(seed_template(), owner=owner)
    assert (study.conditions.count(), study.items.count(), study.hypotheses.count()) == (2, 14, 11)
    assert study.items.get(key="attention").expected_answer == 3
    assert list(study.items.get(key="arms").labels) == [
        "Strongly disagree", "Disagree", "Somewhat disagree", "Neither agree nor disagree", "Somewhat agree",
        "Agree", "Strongly agree"]
    assert study.items.get(key="arms").text.startswith("The network uses the spatial arrangement of the blocks")
    assert not study.items.get(key="feedback").required and study.items.get(key="reasoning").required
    assert _digest(_content(study)) == SEED_STUDY_DIGEST


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(template_version=2), "template.template_version: this platform reads template version 1"),
        (lambda d: d.pop("name"), "template.name: this field is required"),
        (lambda d: d.update(colour="red"), "template: unknown field(s) 'colour'"),
        (lambda d: d["study"].update(platform="email"), "study.platform: 'email' is not one of prolific, mturk, link"),
        (lambda d: d["study"].update(target_per_condition="30"), "target_per_condition: expected an integer or null"),
        (lambda d: d["study"].update(randomize_items=1), "study.randomize_items: expected true or false"),
        (lambda d: d["items"][0].update(kind="slider"), "template.items[0].kind: 'slider' is not one of"),
        (lambda d: d["items"][0].update(scale="stars"), "template.items[0].scale: name one of the template's scales"),
        (lambda d: d["items"][6].pop("expected_answer"), "template.items[6].expected_answer: an attention check"),
        (lambda d: d["items"][1].update(key="arms"), "template.items: item key 'arms' appears twice"),
        (lambda d: d["conditions"][0].update(image="x.png"), "give either a method"),
        (lambda d: d["scales"]["agreement"]["labels"].pop(), "scales.agreement.labels: give one non-empty label"),
        (lambda d: d["hypotheses"][0].update(kind="bayes"), "hypotheses[0]: kind: Value 'bayes' is not a valid"),
        (lambda d: d["hypotheses"][0]["parameters"].update(threshold=2), "template.hypotheses[0]: parameters:"),
        (lambda d: d["simulated_answer_shares"]["per_item"]["baseline"].update(arms=[1, 2]),
         "simulated_answer_shares.per_item.baseline.arms: expected [agree, neutral, disagree]"),
        (lambda d: d["simulated_answer_shares"]["satisfaction"].update(gradcam=[1, 0, 0]),
         "'gradcam' is not a condition of the template"),
    ],
)
def test_a_bad_template_is_refused_naming_the_entry(change, message):
    data = copy.deepcopy(_seed_data())
    change(data)
    with pytest.raises(StudyTemplateError) as raised:
        _parse(data)
    assert str(raised.value).startswith("mine.json: ") and message in str(raised.value)


def test_unreadable_files_get_a_clear_message(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"template_version": 1,')
    with pytest.raises(StudyTemplateError, match=r"broken.json: not valid JSON: .*\(line 1, column 24\)"):
        template_load(broken)
    with pytest.raises(StudyTemplateError, match="no such template file"):
        template_load(tmp_path / "missing.json")
    with pytest.raises(StudyTemplateError, match="No template named 'nope'; the shipped templates are .*"
                                                 "two4two_counterfactuals"):
        template_load("nope")


@pytest.mark.django_db
def test_a_template_the_study_refuses_creates_nothing(owner):
    """Problems only the built study can show (a hypothesis naming an item the template lacks, a slug that is
    taken) roll everything back."""
    data = _seed_data()
    data["hypotheses"][-1]["parameters"]["item"] = "gone"
    with pytest.raises(StudyTemplateError, match="hypothesis 'H11': parameters: 'gone' is not a Likert item"):
        study_from_template(_parse(data), owner=owner)
    assert not (Study.objects.exists() or Condition.objects.exists() or Item.objects.exists()
                or Hypothesis.objects.exists())

    study_from_template(seed_template(), owner=owner, slug="taken")
    with pytest.raises(StudyTemplateError, match="study: slug: Study with this Slug already exists"):
        study_from_template(seed_template(), owner=owner, slug="taken")
    assert Study.objects.count() == 1 and Item.objects.count() == 14


@pytest.mark.django_db
def test_a_grid_of_another_method_is_refused(owner):
    class Grid:
        method = "counterfactual_interpolation"

    with pytest.raises(StudyTemplateError, match="condition 'baseline' shows 'example_based', but the grid"):
        study_from_template(seed_template(), owner=owner, grids={"example_based": Grid()})
    assert not Study.objects.exists()


def _command(*args: str) -> str:
    out = io.StringIO()
    call_command("study_from_template", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.mark.django_db
def test_study_from_template_creates_a_separate_draft_owned_by_the_researcher(owner, django_user_model):
    other = django_user_model.objects.create(username="grace", is_staff=True)
    call_command("load_example_study", stdout=io.StringIO())
    out = _command(SEED_TEMPLATE, "--slug", "my-study", "--owner", "grace", "--title", "My replication")
    mine = Study.objects.get(slug="my-study")
    assert mine.owner == other and mine.status == Study.Status.DRAFT and mine.title == "My replication"
    assert (mine.conditions.count(), mine.items.count(), mine.hypotheses.count()) == (2, 14, 11)
    assert not mine.conditions.filter(stimulus_grid__isnull=False).exists()
    assert "Created draft study 'my-study' for grace" in out
    assert "condition 'baseline': link a ready grid of the 'example_based' method" in out
    assert "completion codes" in out
    # Other studies are untouched.
    example = Study.objects.get(slug="example-study")
    assert example.status == Study.Status.LIVE and example.owner.username == "example-researcher"
    assert example.items.count() == 13 and example.conditions.count() == 2

    second = _command("example_study", "--slug", "my-pilot", "--owner", "ada")
    pilot = Study.objects.get(slug="my-pilot")
    assert pilot.owner == owner and pilot.status == Study.Status.DRAFT and "link a" not in second
    assert pilot.title == example.title


@pytest.mark.django_db
def test_study_from_template_refuses_bad_requests_and_creates_nothing(owner, tmp_path):
    with pytest.raises(CommandError, match="No user 'nobody'"):
        _command(SEED_TEMPLATE, "--slug", "s", "--owner", "nobody")
    with pytest.raises(CommandError, match="Give the new study's --slug and its --owner"):
        _command(SEED_TEMPLATE, "--owner", "ada")
    with pytest.raises(CommandError, match="Name a template"):
        _command("--slug", "s", "--owner", "ada")
    with pytest.raises(CommandError, match="No template named 'seed'"):
        _command("seed", "--slug", "s", "--owner", "ada")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**_seed_data(), "template_version": 0}))
    with pytest.raises(CommandError, match="bad.json: template.template_version"):
        _command(str(bad), "--slug", "s", "--owner", "ada")
    with pytest.raises(CommandError, match="slug: Enter a valid “slug”"):
        _command(SEED_TEMPLATE, "--slug", "not a slug", "--owner", "ada")
    assert not Study.objects.exists()


@pytest.mark.django_db
def test_list_and_dump_then_build_from_the_edited_copy(owner, tmp_path):
    listing = _command("--list")
    assert "two4two_counterfactuals  'Which patterns does the network use? (Two4Two)': 2 conditions, 14 items, " \
           "11 hypotheses" in listing and "example_study" in listing

    copy_path = tmp_path / "mine.json"
    assert "Wrote" in _command(SEED_TEMPLATE, "--dump", str(copy_path))
    with pytest.raises(CommandError, match="already exists"):
        _command(SEED_TEMPLATE, "--dump", str(copy_path))
    edited = json.loads(copy_path.read_text())
    edited["items"] = [item for item in edited["items"] if item["key"] != "maturity"]
    edited["hypotheses"] = [h for h in edited["hypotheses"] if "maturity" not in json.dumps(h["parameters"])]
    edited["simulated_answer_shares"]["per_item"] = {}
    copy_path.write_text(json.dumps(edited))
    _command(str(copy_path), "--slug", "edited", "--owner", "ada")
    study = Study.objects.get(slug="edited")
    assert (study.items.count(), study.hypotheses.count()) == (13, 10)
