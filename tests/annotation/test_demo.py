"""The annotation demo: the paper's three tasks cut from counterfactual grids, and `manage.py demo --design`."""
import io

import pytest
from django.core.management import call_command

from studies.designs.annotation.demo import annotation_demo_build
from studies.designs.annotation.models import AnnotationItem, AnnotationSettings
from studies.models import Study
from studies.study_templates import StudyTemplateError, template_load
from tests.studies.factories import make_user

TEMPLATE = template_load("two4two_annotation")


def fake_grid(owner, *, rows=3, logits=(-4.0, -1.5, 0.0, 1.2, 4.0)):
    from explainers.models import Checkpoint, GridCell, StimulusGrid

    checkpoint = Checkpoint.objects.create(owner=owner, name="c", file="c.pt", sha256="0" * 64)
    grid = StimulusGrid.objects.create(owner=owner, name="g", checkpoint=checkpoint,
                                       method="counterfactual_interpolation", status=StimulusGrid.Status.READY)
    for row in range(rows):
        for column, logit in enumerate(logits):
            GridCell.objects.create(grid=grid, row=row, column=column, image=f"grids/{grid.pk}/{row}-{column}.png",
                                    logit=logit, source_index=row, is_original=column == 2)
    return grid


@pytest.mark.django_db
def test_the_three_tasks_are_built_with_easy_and_hard_pairs_and_both_models():
    owner = make_user()
    study = annotation_demo_build(TEMPLATE, owner=owner, biased_grid=fake_grid(owner), unbiased_grid=fake_grid(owner))
    assert study.status == Study.Status.LIVE and study.design == Study.Design.ANNOTATION
    assert AnnotationSettings.objects.get(study=study).votes_per_item == 8
    order = AnnotationItem.objects.filter(task__key="relative-order")
    assert order.filter(subcategory="easy").count() == 3 and order.filter(subcategory="hard").count() == 3
    easy = order.get(key="row0-easy")
    assert [i.grid_cell.column for i in easy.images.all()] == [0, 4] and easy.ground_truth == "2"
    hard = order.get(key="row0-hard")  # columns 2 and 3: the closest logits (0.0 and 1.2)
    assert [i.grid_cell.column for i in hard.images.all()] == [2, 3] and hard.ground_truth == "2"
    rows = AnnotationItem.objects.get(task__key="what-is-changing", key="row0")
    assert rows.images.count() == 5 and rows.ground_truth == "arms"
    bias = AnnotationItem.objects.filter(task__key="bias-detection")
    assert sorted(set(bias.values_list("subcategory", flat=True))) == ["biased", "unbiased"]


@pytest.mark.django_db
def test_a_bad_template_entry_builds_nothing():
    from dataclasses import replace

    owner = make_user()
    broken = replace(TEMPLATE, design_settings={**TEMPLATE.design_settings, "votes_per_item": 0})
    with pytest.raises(StudyTemplateError, match="votes_per_item"):
        annotation_demo_build(broken, owner=owner, biased_grid=fake_grid(owner), unbiased_grid=fake_grid(owner))
    assert not Study.objects.exists()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_manage_py_demo_builds_the_annotation_study(monkeypatch, settings, tmp_path):
    from explainers.core.nets import GlowConfig
    from explainers.core.training import glow as training

    monkeypatch.setitem(training.PRESETS, "quick", training.TrainConfig(
        net=GlowConfig(image_size=16, levels=2, steps_per_level=1, hidden_channels=8, head_steps=1),
        steps=20, batch_size=16, learning_rate=2e-3, warmup_steps=5, train_size=200, val_size=100, eval_every=20))
    settings.VAR_DIR = tmp_path / "var"
    settings.STATIC_ROOT = tmp_path / "static"
    settings.GRID_CACHE_DIR = str(tmp_path / "grid_cache")
    out = io.StringIO()
    call_command("demo", "--quick", "--no-serve", "--design", "annotation", stdout=out)
    study = Study.objects.get(slug=TEMPLATE.slug)
    assert study.status == Study.Status.LIVE
    grids = set(AnnotationItem.objects.filter(task__study=study).values_list("images__grid_cell__grid", flat=True))
    assert len(grids) == 2  # the biased and the unbiased model's grids
    call_command("demo", "--quick", "--no-serve", "--design", "annotation", stdout=(second := io.StringIO()))
    assert "reused" in second.getvalue() and Study.objects.filter(slug=TEMPLATE.slug).count() == 1
