"""A trials pool with the explanation images computed by the platform's registered explanation methods.

"Each trial draws a random image from a batch of 76 images for which we have ran all methods" (Luss et al.,
section 5): the pool is the checkpoint's first ``count`` held-out images, and every method explains every one
of them, so the pool is complete by construction. A method that returns a map (saliency, integrated gradients,
Grad-CAM, LIME) is shown as a heatmap over the image; one that returns images (counterfactual interpolations,
CEM-MAF's pertinent negative and positive) as a strip of its columns, with the sentence a pertinent negative
reports written below it. Files are written under MEDIA_ROOT/trials/<study>/ before the rows that point to them are stored in one
transaction; a failure leaves no rows behind. torch is imported here only, never by the web processes.
"""
from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from studies.models import Study

from ..models import TrialMethod
from .configuration import explanation_image_set, pool_image_create, trial_method_create

#: Pixels per image side in the files participants see (the demo renders 32 px images).
DISPLAY_SIZE = 128


@dataclass(frozen=True)
class MethodSpec:
    """One method of a generated pool: its key in the study and how the registered method is configured."""

    key: str
    name: str
    description: str
    method: str
    parameters: Mapping[str, Any]


def _to_pil(array: np.ndarray):
    from PIL import Image

    image = Image.fromarray(array if array.ndim == 3 else np.stack([array] * 3, axis=-1))
    return image.resize((DISPLAY_SIZE, DISPLAY_SIZE), Image.NEAREST)


def heatmap(original: np.ndarray, attribution: np.ndarray) -> np.ndarray:
    """|attribution| scaled to [0, 1] per image, blended in red over a greyed copy of the original (uint8)."""
    grey = original.mean(axis=-1, keepdims=True) if original.ndim == 3 else original[..., None]
    magnitude = np.abs(attribution)
    peak = float(magnitude.max())
    weight = (magnitude / peak if peak > 0 else magnitude)[..., None]
    red = np.zeros_like(grey.repeat(3, axis=-1), dtype=float)
    red[..., 0] = 255.0
    blended = (1 - 0.75 * weight) * grey.repeat(3, axis=-1) * 0.8 + 0.75 * weight * red
    return blended.clip(0, 255).astype(np.uint8)


def strip(images: Sequence[np.ndarray], gap: int = 4):
    """The columns of one row of generated images side by side (white gaps), as one picture."""
    from PIL import Image

    tiles = [_to_pil(image) for image in images]
    canvas = Image.new("RGB", (len(tiles) * DISPLAY_SIZE + (len(tiles) - 1) * gap, DISPLAY_SIZE), "white")
    for index, tile in enumerate(tiles):
        canvas.paste(tile, (index * (DISPLAY_SIZE + gap), 0))
    return canvas


def captioned(picture, text: str, width_chars: int = 34):
    """``picture`` with ``text`` written below it (black on white, wrapped): the sentence CEM-MAF shows with a
    pertinent negative ("adding more X would make it class B", Luss et al., Figure 1's "PN Expl." row)."""
    import textwrap

    from PIL import Image, ImageDraw

    lines = textwrap.wrap(text, width=max(width_chars, picture.width // 7))
    canvas = Image.new("RGB", (picture.width, picture.height + 6 + 14 * len(lines)), "white")
    canvas.paste(picture, (0, 0))
    draw = ImageDraw.Draw(canvas)
    for index, line in enumerate(lines):
        draw.text((2, picture.height + 4 + 14 * index), line, fill="black")
    return canvas


#: Per-row texts a method reports in ``Explanation.extra`` that participants read under its picture.
CAPTION_KEYS = ("pn_text",)


def explanation_pictures(name: str, parameters: Mapping[str, Any], model, images: np.ndarray,
                         auxiliaries: Mapping[str, Any] | None = None) -> list:
    """One Pillow picture per image: the method's map as a heatmap, or its generated images as a strip (with the
    method's sentence below it where it reports one). ``auxiliaries`` the loaded models a method uses besides
    ``model`` (role -> network, e.g. the VAE of a pertinent negative)."""
    from explainers.core import pixels
    from explainers.core.methods.registry import MethodError, method_config, method_get

    cls = method_get(name)
    explainer = cls(method_config(name, dict(parameters)))
    if cls.auxiliary:
        missing = [role for role in cls.auxiliary if role not in (auxiliaries or {})]
        if missing:
            raise MethodError(f"{name} needs the auxiliary model(s) {', '.join(missing)}")
        explanation = explainer.explain(model, images, auxiliaries=dict(auxiliaries or {}))
    else:
        explanation = explainer.explain(model, images)
    originals = pixels.to_uint8(pixels.to_tensor(images))
    if explanation.maps is not None:
        maps = explanation.maps.detach().cpu().numpy()
        return [_to_pil(heatmap(originals[n], maps[n, 0])) for n in range(len(images))]
    generated = pixels.to_uint8(explanation.images.flatten(0, 1)).reshape(
        explanation.images.shape[0], explanation.images.shape[1], *originals.shape[1:])
    captions = next((explanation.extra[key] for key in CAPTION_KEYS if key in explanation.extra), None)
    return [captioned(strip(list(generated[n])), captions[n]) if captions else strip(list(generated[n]))
            for n in range(len(images))]


def pool_generate(*, study: Study, loaded, methods: Sequence[MethodSpec], count: int,
                  class_names: tuple[str, str] = ("Sticky", "Stretchy"),
                  auxiliaries: Mapping[str, Any] | None = None) -> list[TrialMethod]:
    """Create the study's methods and a complete pool of ``count`` held-out images of ``loaded``'s dataset.

    ``loaded`` is a LoadedCheckpoint; the prediction of each image is ``class_names[logit > 0]``;
    ``auxiliaries`` the loaded models methods use besides it (role -> network). Raises ValidationError
    (nothing stored) for a bad method configuration or a study that already has a pool.
    """
    from explainers.core import pixels
    from explainers.core.methods.registry import MethodError
    from explainers.services.held_out import held_out_logits

    if study.trial_pool.exists() or study.trial_methods.exists():
        raise ValidationError({"trial_pool": "The study already has methods or pool images; generate into a new study."})
    images, logits, _ = held_out_logits(loaded, count, batch_size=64)
    folder = Path(settings.MEDIA_ROOT) / "trials" / f"{study.slug}-{uuid.uuid4().hex[:8]}"
    relative = folder.relative_to(settings.MEDIA_ROOT)
    try:
        pictures = {spec.key: explanation_pictures(spec.method, spec.parameters, loaded.model, images,
                                                     auxiliaries)
                    for spec in methods}
    except MethodError as error:
        raise ValidationError({"trial_methods": str(error)}) from None
    originals = pixels.to_uint8(pixels.to_tensor(images))
    folder.mkdir(parents=True)
    for index in range(count):
        _to_pil(originals[index]).save(folder / f"original-{index}.png")
        for key, per_image in pictures.items():
            per_image[index].save(folder / f"{key}-{index}.png")
    with transaction.atomic():
        created = [trial_method_create(study=study, key=spec.key, name=spec.name, description=spec.description,
                                       explanation_method=spec.method, order=order)
                   for order, spec in enumerate(methods)]
        for index in range(count):
            pool_image = pool_image_create(study=study, key=f"held-out-{index}", image=str(relative /
                                           f"original-{index}.png"), prediction=class_names[int(logits[index] > 0)],
                                           source_index=index, order=index)
            for method in created:
                explanation_image_set(method=method, pool_image=pool_image,
                                      image=str(relative / f"{method.key}-{index}.png"))
    return created
