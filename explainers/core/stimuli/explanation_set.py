"""Stimulus sets of one explanation per image, for any classifier: rows of [original | explanation].

The attribution methods (saliency, SmoothGrad, integrated gradients, Grad-CAM, LIME) draw their map over the
image it explains: Grad-CAM's non-negative map on a sequential colour map, signed maps on the diverging one
of explainers.core.stimuli.encoding, each scaled by its own largest magnitude (recorded per cell), blended
with the image in grey so that the map and the content stay visible together. The example-based baseline
shows, next to each image, the ``per_column`` training images whose logit vectors are nearest to its own among
those of the same predicted class: real images the model scores alike (after the seed's example-based
condition, Sixt et al. section 3.3, which shows real images binned by logit).

Uploaded stimuli use the same cells and files (one column, the image as uploaded, decoded and re-encoded).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from explainers.core import pixels
from explainers.core.methods import method_config, method_get
from explainers.core.methods.registry import methods_with_output
from explainers.core.methods.gradients import logit_function

from .encoding import ProgressCallback, batches, heatmap_rgb
from .layout import Cell, GridResult

#: Attribution methods whose maps are never negative (drawn on a sequential colour map).
NON_NEGATIVE_MAPS = ("grad_cam",)
#: Attribution methods (and the example-based baseline) that fill a per-image stimulus set; every registered
#: method whose output is "images" (a generated row per image) fills one too: see ``per_image_methods``.
MAP_SET_METHODS = ("saliency_gradient", "smoothgrad", "integrated_gradients", "grad_cam", "lime", "example_based")


def per_image_methods() -> tuple[str, ...]:
    """Every method that can fill a per-image stimulus set."""
    return MAP_SET_METHODS + tuple(methods_with_output("images"))
#: Share of the heat map in an overlay (the rest is the image in grey).
OVERLAY_WEIGHT = 0.6


@dataclass(frozen=True)
class SetShape:
    """rows × columns of a stimulus set (what writing and publishing a GridResult needs of its layout)."""

    rows: int
    columns: int
    batch_size: int = 16

    def to_dict(self) -> dict[str, int]:
        return {"rows": self.rows, "columns": self.columns, "batch_size": self.batch_size}


def as_rgb(image: np.ndarray) -> np.ndarray:
    """H×W×3 uint8 of an H×W, H×W×1 or H×W×3 image."""
    if image.ndim == 2:
        image = image[..., None]
    return np.repeat(image, 3, axis=2) if image.shape[2] == 1 else image


def overlay(image: np.ndarray, heat: np.ndarray, *, signed: bool) -> tuple[np.ndarray, float]:
    """(the map drawn over the grey image, the scale the map was divided by)."""
    from matplotlib import colormaps

    scale = float(np.abs(heat).max())
    if signed:
        colours = heatmap_rgb(heat, scale).astype(np.float64)
    else:
        colours = colormaps["inferno"](np.clip(heat / max(scale, 1e-12), 0, 1))[..., :3] * 255
    grey = as_rgb(image).astype(np.float64).mean(axis=2, keepdims=True)
    blended = OVERLAY_WEIGHT * colours + (1 - OVERLAY_WEIGHT) * grey
    return np.clip(np.round(blended), 0, 255).astype(np.uint8), scale


def _class(names: Sequence[str], index: int) -> str:
    return names[index] if 0 <= index < len(names) else ""


def build_explanation_set(model, images: np.ndarray, labels: np.ndarray, *, method: str,
                          parameters: dict[str, Any], class_names: Sequence[str], source_indices: Sequence[int],
                          reference: tuple[np.ndarray, np.ndarray] | None = None, batch_size: int = 16,
                          auxiliaries: dict[str, Any] | None = None,
                          progress: ProgressCallback | None = None) -> tuple[GridResult, np.ndarray | None]:
    """Every cell of a per-image set, and the raw attribution maps (N×H×W; None for example_based and for
    methods that generate images).

    ``images`` uint8 N×H×W×C with ``labels`` (class indices) and their indices in the dataset split;
    ``reference`` the (images, labels) the example-based baseline draws from; ``auxiliaries`` the loaded
    models a method uses besides ``model`` (role -> network, see registry.AUXILIARY_ROLES).
    """
    import torch

    known = per_image_methods()
    if method not in known:
        raise ValueError(f"{method} cannot fill a per-image stimulus set; choose one of {', '.join(known)}")
    report = progress or (lambda fraction, stage: None)
    forward = logit_function(model)
    dtype = next(model.parameters()).dtype
    started = time.perf_counter()
    with torch.no_grad():
        logits = torch.cat([forward(pixels.to_tensor(images[part], dtype)) for part in batches(len(images), 64)])
    predicted = logits.argmax(1)
    cells: list[Cell] = []
    maps = None
    evaluations = int(len(images))
    if method == "example_based":
        columns = _example_cells(model, images, labels, logits, parameters, class_names, source_indices,
                                 reference, cells, report)
    elif method_get(method).output == "images":
        columns, evaluations = _generated_cells(model, images, labels, logits, method, parameters, class_names,
                                                source_indices, batch_size, auxiliaries or {}, cells, report)
        evaluations += int(len(images))
    else:
        explainer = method_get(method)(method_config(method, parameters))
        found = []
        for part in batches(len(images), batch_size):
            explanation = explainer.explain(model, pixels.to_tensor(images[part], dtype))
            found.append(explanation.maps[:, 0].double().cpu().numpy())
            for i, r in enumerate(range(part.start, part.stop)):
                picture, scale = overlay(images[r], found[-1][i], signed=method not in NON_NEGATIVE_MAPS)
                extra = {"convergence_delta": float(explanation.extra["convergence_delta"][i])} \
                    if "convergence_delta" in explanation.extra else {}
                _original_and(cells, r, images[r], logits[r], int(labels[r]), int(predicted[r]), class_names,
                              int(source_indices[r]), picture, {**parameters, "map_scale": scale,
                                                                "target_class": int(predicted[r]), **extra})
            report(part.stop / len(images), f"explaining images with {method}")
        maps = np.concatenate(found)
        columns = ["Image", "Explanation"]
    timings = {"generate_s": time.perf_counter() - started}
    shape = SetShape(len(images), len(columns), batch_size)
    result = GridResult("per_image", shape, [], [], columns, cells, timings,  # type: ignore[arg-type]
                        {"forward": evaluations}, {"method": method})
    return result, maps


def _row_extras(extra: dict[str, Any], count: int, index: int) -> dict[str, Any]:
    """The per-row values of an Explanation's ``extra`` (sequences of one value per input image) for row
    ``index``, as JSON-able scalars or lists."""
    import torch

    values = {}
    for key, value in extra.items():
        if isinstance(value, (torch.Tensor, np.ndarray)) and value.ndim >= 1 and len(value) == count:
            item = value[index]
            item = item.tolist() if hasattr(item, "tolist") else item
        elif isinstance(value, (list, tuple)) and len(value) == count:
            item = value[index]
        else:
            continue
        if isinstance(item, (bool, int, float, str)) or item is None or isinstance(item, list):
            values[key] = item
    return values


def _generated_cells(model, images, labels, logits, method, parameters, class_names, source_indices, batch_size,
                     auxiliaries, cells, report) -> tuple[list[str], int]:
    """Rows of [original | the K images the method generates for it]; (column labels, network evaluations the
    method reported in ``extra["network_evaluations"]``, summed over batches)."""
    cls = method_get(method)
    explainer = cls(method_config(method, parameters))
    missing = [role for role in cls.auxiliary if role not in auxiliaries]
    if missing:
        raise ValueError(f"{method} needs the auxiliary model(s) {', '.join(missing)}")
    dtype = next(model.parameters()).dtype
    labels_of_columns: list[str] = []
    evaluations = 0
    for part in batches(len(images), batch_size):
        x = pixels.to_tensor(images[part], dtype)
        explanation = explainer.explain(model, x, auxiliaries=auxiliaries) if cls.auxiliary \
            else explainer.explain(model, x)
        produced = explanation.images.detach().float().cpu()
        if produced.dim() != 5 or produced.shape[0] != x.shape[0]:
            raise ValueError(f"{method} returned images of shape {tuple(produced.shape)}; expected N×K×C×H×W "
                             f"with N = {x.shape[0]}")
        count, columns = produced.shape[0], produced.shape[1]
        generated = pixels.to_uint8(produced.flatten(0, 1)).reshape(count, columns, *images.shape[1:])
        if not labels_of_columns:
            labels_of_columns = [str(c.get("label", f"Step {k + 1}")) for k, c in enumerate(explanation.columns)]
        reported = explanation.extra.get("network_evaluations")
        evaluations += int(reported) if isinstance(reported, (int, float)) else 0
        for i, r in enumerate(range(part.start, part.stop)):
            prediction = int(logits[r].argmax())
            label = int(labels[r])
            meta = {"label": _class(class_names, label), "prediction": _class(class_names, prediction),
                    "label_index": label, "prediction_index": prediction}
            row_extra = _row_extras(explanation.extra, count, i)
            cells.append(Cell(r, 0, as_rgb(images[r]), float(logits[r][prediction]), True, int(source_indices[r]),
                              {**meta, "role": "original"}))
            for k in range(columns):
                column = {key: value for key, value in explanation.columns[k].items() if key != "label"} \
                    if k < len(explanation.columns) else {}
                cells.append(Cell(r, 1 + k, as_rgb(generated[i, k]), float(explanation.logits[i, k]), False,
                                  int(source_indices[r]),
                                  {**parameters, **meta, **row_extra, **column, "role": "explanation"}))
        report(part.stop / len(images), f"generating images with {method}")
    return ["Image"] + labels_of_columns, evaluations


def _original_and(cells: list[Cell], row: int, image, logit_row, label: int, prediction: int,
                  class_names: Sequence[str], source: int, picture, parameters: dict[str, Any]) -> None:
    """The original (column 0) and its explanation (column 1) of one row."""
    logit = float(logit_row[prediction])
    meta = {"label": _class(class_names, label), "prediction": _class(class_names, prediction),
            "label_index": label, "prediction_index": prediction}
    cells.append(Cell(row, 0, as_rgb(image), logit, True, source, {**meta, "role": "original"}))
    cells.append(Cell(row, 1, picture, logit, False, source, {**parameters, **meta, "role": "explanation"}))


def _example_cells(model, images, labels, logits, parameters, class_names, source_indices, reference, cells,
                   report) -> list[str]:
    import torch

    config = method_config("example_based", parameters)
    if reference is None or len(reference[0]) == 0:
        raise ValueError("example_based: no reference images to draw examples from")
    forward = logit_function(model)
    dtype = next(model.parameters()).dtype
    with torch.no_grad():
        ref_logits = torch.cat([forward(pixels.to_tensor(reference[0][part], dtype))
                                for part in batches(len(reference[0]), 64)])
    ref_predicted = ref_logits.argmax(1)
    k = config.per_column
    for r in range(len(images)):
        prediction = int(logits[r].argmax())
        pool = torch.nonzero(ref_predicted == prediction).flatten()
        if len(pool) < k:
            raise ValueError(f"example_based: only {len(pool)} reference images are predicted as "
                             f"{_class(class_names, prediction)!r}; {k} are needed - lower per_column")
        distance = (ref_logits[pool] - logits[r]).pow(2).sum(1).sqrt()
        order = torch.argsort(distance, stable=True)[:k]
        label = int(labels[r])
        meta = {"label": _class(class_names, label), "prediction": _class(class_names, prediction),
                "label_index": label, "prediction_index": prediction}
        cells.append(Cell(r, 0, as_rgb(images[r]), float(logits[r][prediction]), True, int(source_indices[r]),
                          {**meta, "role": "original"}))
        for j, position in enumerate(order.tolist()):
            index = int(pool[position])
            cells.append(Cell(r, 1 + j, as_rgb(reference[0][index]), float(ref_logits[index][prediction]), False,
                              int(source_indices[r]), {**meta, "role": "example", "reference_index": int(index),
                                                       "reference_label": _class(class_names, int(reference[1][index])),
                                                       "logit_distance": float(distance[position])}))
        report((r + 1) / len(images), "choosing examples")
    return ["Image"] + [f"Example {j + 1}" for j in range(k)]


def uploaded_cells(images: np.ndarray, names: Sequence[str], metadata: dict[str, list[str]]) -> GridResult:
    """One row per uploaded image (column 0), its CSV metadata in the cell's parameters."""
    cells = [Cell(r, 0, as_rgb(images[r]), None, True, r,  # type: ignore[arg-type]  (no model scored it)
                  {"filename": names[r], **{column: values[r] for column, values in metadata.items()}})
             for r in range(len(images))]
    return GridResult("uploaded", SetShape(len(images), 1), [], [], ["Image"], cells, {},  # type: ignore[arg-type]
                      {"forward": 0}, {})
