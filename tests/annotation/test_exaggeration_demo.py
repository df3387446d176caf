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
