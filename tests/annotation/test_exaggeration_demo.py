"""The progressive-exaggeration annotation template: items from generated images only, both classifier variants."""
import pytest

from studies.designs.annotation.demo import annotation_demo_build
from studies.designs.annotation.models import AnnotationItem
from studies.study_templates import template_load
from tests.annotation.test_demo import fake_grid
from tests.studies.factories import make_user


@pytest.mark.django_db
def test_pairs_and_rows_leave_out_the_original_of_each_exaggeration_row():
    template = template_load("two4two_exaggeration_annotation")
    assert template.design_settings["explanations_only"] is True
    owner = make_user()
    study = annotation_demo_build(template, owner=owner, biased_grid=fake_grid(owner), unbiased_grid=fake_grid(owner))
    items = AnnotationItem.objects.filter(task__study=study)
    assert not items.filter(images__grid_cell__is_original=True).exists()
    easy = items.get(task__key="relative-order", key="row0-easy")  # the two ends of the generated row
    assert [i.grid_cell.column for i in easy.images.all()] == [0, 4] and easy.ground_truth == "2"
    hard = items.get(task__key="relative-order", key="row0-hard")  # closest logits among generated steps
    assert [i.grid_cell.column for i in hard.images.all()] == [0, 1]  # -4 and -1.5 (the original 0.0 skipped)
    assert items.get(task__key="what-is-changing", key="row0").images.count() == 4
    assert sorted(set(items.filter(task__key="bias-detection").values_list("subcategory", flat=True))) == \
        ["biased", "unbiased"]


@pytest.mark.slow  # renders the CNNs' held-out Two4Two images and exaggerates 2 x 40 of them
@pytest.mark.django_db(transaction=True)
def test_the_exaggeration_demo_builds_from_the_shipped_cnns_and_explainers_and_is_reused(settings, tmp_path):
    import io

    from django.core.management import call_command

    from explainers.models import RegisteredModel, StimulusGrid
    from studies.models import Study

    settings.VAR_DIR = tmp_path / "var"
    settings.STATIC_ROOT = tmp_path / "static"
    out = io.StringIO()
    call_command("demo", "--no-serve", "--design", "exaggeration", stdout=out)
    study = Study.objects.get(slug="two4two-exaggeration-annotation")
    assert study.design == Study.Design.ANNOTATION and study.status == Study.Status.LIVE
    sets = StimulusGrid.objects.filter(method="progressive_exaggeration", status=StimulusGrid.Status.READY)
    assert sets.count() == 2 and {s.model.name for s in sets} == {"Two4Two CNN (biased, 32 px)",
                                                                  "Two4Two CNN (unbiased, 32 px)"}
    explainers = RegisteredModel.objects.filter(kind=RegisteredModel.Kind.GENERATOR)
    assert {e.metrics["explains"]["name"] for e in explainers} == {s.model.name for s in sets}
    assert AnnotationItem.objects.filter(task__study=study, images__grid_cell__grid__in=sets).exists()
    again = io.StringIO()
    call_command("demo", "--no-serve", "--design", "exaggeration", stdout=again)
    assert StimulusGrid.objects.filter(method="progressive_exaggeration").count() == 2
    assert "study" in again.getvalue().split("reused:")[1]
