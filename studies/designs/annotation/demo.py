"""The annotation demo: the three tasks of Singla et al. (ICLR 2020, appendix A.4) built on Two4Two grids.

Until progressive exaggeration lands, the items are cut from the counterfactual grids the platform has
(each row: one original and its counterfactuals at increasing logits, every cell with the logit of its image):

- ``relative_order`` (Task 1): per row an easy pair, the two ends of the row (largest logit distance), and a
  hard pair, the neighbouring columns with the smallest logit distance; the correct answer is the image with
  the larger Stretchy logit;
- ``rows`` (Task 2): the whole row, "What is changing?", correct answer from the template (the arms);
- ``bias_rows`` (Task 3): rows of the grid explaining the biased classifier (subcategory "biased") and of
  the grid explaining a classifier trained without the colour bias ("unbiased"), correct answer as in the
  paper always the target attribute.

The same tasks come from progressive-exaggeration stimulus sets (rows [original | exaggerations at rising
Stretchy posteriors], method ``progressive_exaggeration``) with ``"explanations_only": true`` in the template
(two4two_exaggeration_annotation.json): pairs and rows then use the generated images only, as in the paper
(easy: the two ends of a row; hard: the neighbouring steps with the closest logits).

The template (studies/study_templates/two4two_annotation.json) holds the questions and k in its
``design_settings``; a malformed entry is a StudyTemplateError naming it, and nothing is created.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from studies.designs.common.demo import demo_study_discard
from studies.services import study_launch
from studies.study_templates import StudyTemplate, StudyTemplateError, study_from_template
from studies.study_templates.schema import validation_message

from . import services

SOURCES = ("relative_order", "rows", "bias_rows")


def _rows(grid, explanations_only: bool = False) -> list[list[Any]]:
    """The grid's cells per row, left to right, rows in order; without the originals when ``explanations_only``
    (a progressive-exaggeration set: [original | exaggerations], only the exaggerations are compared)."""
    rows: dict[int, list[Any]] = defaultdict(list)
    for cell in grid.cells.order_by("row", "column"):
        if not (explanations_only and cell.is_original):
            rows[cell.row].append(cell)
    return [rows[index] for index in sorted(rows)]


def _pair_item(task, key: str, subcategory: str, first, second) -> None:
    truth = "1" if first.logit > second.logit else "2"
    services.annotation_item_create(task=task, key=key, subcategory=subcategory, ground_truth=truth,
                                    images=[{"grid_cell": first}, {"grid_cell": second}])


def _relative_order_items(task, grid, rows: int, explanations_only: bool = False) -> None:
    for index, cells in enumerate(_rows(grid, explanations_only)[:rows]):
        if len(cells) < 3:
            continue
        ends = (cells[0], cells[-1])
        if ends[0].logit != ends[1].logit:
            _pair_item(task, f"row{index}-easy", "easy", *ends)
        neighbours = [(a, b) for a, b in zip(cells, cells[1:]) if a.logit != b.logit]
        if neighbours:
            closest = min(neighbours, key=lambda pair: abs(pair[0].logit - pair[1].logit))
            _pair_item(task, f"row{index}-hard", "hard", *closest)


def _row_items(task, grid, rows: int, *, subcategory: str, truth: str, prefix: str = "row",
               explanations_only: bool = False) -> None:
    for index, cells in enumerate(_rows(grid, explanations_only)[:rows]):
        services.annotation_item_create(task=task, key=f"{prefix}{index}", subcategory=subcategory,
                                        ground_truth=truth, images=[{"grid_cell": cell} for cell in cells])


@transaction.atomic
def annotation_demo_build(template: StudyTemplate, *, owner, biased_grid, unbiased_grid, launch: bool = True):
    """Create the template's annotation study with items from the two grids (all or nothing)."""
    options = template.design_settings
    where = f"{template.source}: design_settings"
    tasks = options.get("tasks")
    if not isinstance(tasks, list) or not tasks:
        raise StudyTemplateError(f"{where}.tasks: give the annotation tasks as a non-empty list.")
    rows = options.get("rows_per_task", 10)
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:
        raise StudyTemplateError(f"{where}.rows_per_task: expected a positive integer, got {rows!r}.")
    only = options.get("explanations_only", False)
    if not isinstance(only, bool):
        raise StudyTemplateError(f"{where}.explanations_only: expected true or false, got {only!r}.")
    study = study_from_template(template, owner=owner)
    try:
        services.annotation_settings_save(study=study, **{
            name: options[name] for name in ("votes_per_item", "items_per_participant", "planned_participants")
            if name in options})
        for order, spec in enumerate(tasks):
            if not isinstance(spec, dict) or spec.get("source") not in SOURCES:
                raise StudyTemplateError(f"{where}.tasks[{order}]: give a source, one of {', '.join(SOURCES)}.")
            fields = {name: spec[name] for name in ("key", "title", "question", "answer_kind", "choices")
                      if name in spec}
            task = services.annotation_task_create(study=study, order=order, **fields)
            if spec["source"] == "relative_order":
                _relative_order_items(task, biased_grid, rows, only)
            elif spec["source"] == "rows":
                _row_items(task, biased_grid, rows, subcategory=spec.get("subcategory", "arms"),
                           truth=spec.get("ground_truth", ""), explanations_only=only)
            else:
                _row_items(task, biased_grid, rows, subcategory="biased", truth=spec.get("ground_truth", ""),
                           prefix="biased-row", explanations_only=only)
                _row_items(task, unbiased_grid, rows, subcategory="unbiased", truth=spec.get("ground_truth", ""),
                           prefix="unbiased-row", explanations_only=only)
        if launch:
            study = study_launch(study=study)
    except ValidationError as error:
        raise StudyTemplateError(f"{where}: {validation_message(error)}") from error
    return study


def annotation_demo_study(template: StudyTemplate, *, owner, biased_grid, unbiased_grid):
    """The demo study: reused when it shows these grids, rebuilt when it has only simulated participants.

    Returns (study, reused). Raises StudyTemplateError when a study of that slug with real participants
    shows other stimuli (it is never deleted).
    """
    from explainers.models import GridCell
    from studies.models import Study

    study = Study.objects.filter(slug=template.slug).first()
    if study is not None:
        grids = set(GridCell.objects.filter(annotation_images__item__task__study=study)
                    .values_list("grid_id", flat=True))
        if grids == {biased_grid.pk, unbiased_grid.pk}:
            return study, True
        demo_study_discard(study, differs="uses other stimuli")
    return annotation_demo_build(template, owner=owner, biased_grid=biased_grid, unbiased_grid=unbiased_grid), False
