"""A complete trials pool computed by registered explanation methods (the demo's path), on the tiny test model."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from django.core.exceptions import ValidationError

from studies.designs.trials.models import ExplanationImage, PoolImage
from studies.designs.trials.services import setup_problems, trial_setup_save
from studies.designs.trials.services.pool_generation import MethodSpec, heatmap, pool_generate
from studies.models import Study
from tests.explainers.tiny_model import tiny_images, tiny_model

from ...factories import make_study

METHODS = [
    MethodSpec("counterfactual", "Counterfactual interpolation", "Versions of the image changed until the system "
               "sees each class.", "counterfactual_interpolation", {"target_logits": [-2.0, 2.0]}),
    MethodSpec("saliency", "Saliency", "Red pixels changed most.", "saliency", {"target_logits": [2.0]}),
    MethodSpec("ig", "Integrated gradients", "Red pixels contributed most.", "integrated_gradients", {"n_steps": 8}),
]


def test_heatmap_is_strongest_where_the_attribution_is():
    original = np.full((4, 4, 3), 100, dtype=np.uint8)
    attribution = np.zeros((4, 4))
    attribution[1, 2] = -5.0
    picture = heatmap(original, attribution)
    assert picture.shape == (4, 4, 3) and picture.dtype == np.uint8
    assert picture[1, 2, 0] > picture[0, 0, 0] and picture[1, 2, 1] < picture[0, 0, 1]


@pytest.mark.django_db
def test_generated_pool_is_complete_and_launchable(researcher, monkeypatch):
    images = tiny_images(6)
    model = tiny_model(dtype=__import__("torch").float32)
    monkeypatch.setattr("explainers.services.held_out.held_out_logits",
                        lambda loaded, count, batch_size: (images[:count], np.array([-1.0, 2.0] * 3)[:count], 0))
    study = make_study(owner=researcher, status=Study.Status.DRAFT, conditions=0, with_items=False,
                       design=Study.Design.WITHIN_SUBJECT)
    pool_generate(study=study, loaded=SimpleNamespace(model=model), methods=METHODS, count=6)
    assert PoolImage.objects.filter(study=study).count() == 6
    assert ExplanationImage.objects.filter(method__study=study).count() == 18
    assert list(PoolImage.objects.filter(study=study).values_list("prediction", flat=True)[:2]) == ["Sticky",
                                                                                                    "Stretchy"]
    for explanation in ExplanationImage.objects.filter(method__study=study):
        assert explanation.image.storage.exists(explanation.image.name)
    trial_setup_save(study=study, trials_per_participant=6)
    assert setup_problems(study=study) == {}
    with pytest.raises(ValidationError):
        pool_generate(study=study, loaded=SimpleNamespace(model=model), methods=METHODS, count=6)
