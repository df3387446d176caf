"""Study templates: find, load and copy the shipped template files, and build a study from one.

The shipped templates are the JSON files in this folder. ``two4two_counterfactuals`` is the seed study,
Sixt et al., "Do users benefit from interpretable vision?" (ICLR 2021 submission, section 3.3 and appendix E),
rebuilt on the procedural Two4Two data; ``manage.py demo`` builds it, ``manage.py study_from_template``
copies it (or any template file) into a researcher's own draft study.
"""
from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import transaction

from studies.study_templates.schema import (
    AnswerShares,
    StudyTemplate,
    StudyTemplateError,
    template_parse,
    validation_message,
)

TEMPLATES_DIR = Path(__file__).resolve().parent
SEED_TEMPLATE = "two4two_counterfactuals"
EXAMPLE_TEMPLATE = "example_study"


def template_names() -> list[str]:
    """The templates shipped with the platform, by name."""
    return sorted(path.stem for path in TEMPLATES_DIR.glob("*.json"))


def template_path(name_or_path: str | Path) -> Path:
    """A shipped template's file, or the given path to a template file."""
    candidate = Path(name_or_path)
    if candidate.suffix == ".json" or candidate.is_file():
        if not candidate.is_file():
            raise StudyTemplateError(f"{candidate}: no such template file.")
        return candidate
    shipped = TEMPLATES_DIR / f"{name_or_path}.json"
    if not shipped.is_file():
        raise StudyTemplateError(f"No template named {str(name_or_path)!r}; the shipped templates are "
                                 f"{', '.join(template_names())} (or give the path to a .json file).")
    return shipped


def template_load(name_or_path: str | Path) -> StudyTemplate:
    """Read and validate a template; StudyTemplateError says what is wrong and where."""
    path = template_path(name_or_path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise StudyTemplateError(f"{path}: cannot be read ({exc.strerror or exc}).") from exc
    except UnicodeDecodeError as exc:
        raise StudyTemplateError(f"{path}: is not UTF-8 text ({exc.reason} at byte {exc.start}).") from exc
    except json.JSONDecodeError as exc:
        raise StudyTemplateError(f"{path}: not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno}).") \
            from exc
    return template_parse(data, source=str(path))


def template_dump(name_or_path: str | Path, destination: Path, *, overwrite: bool = False) -> Path:
    """Copy a template's file to ``destination`` (to edit and pass back to study_from_template)."""
    source = template_path(name_or_path)
    template_load(source)  # copy only what the platform can read back
    if destination.exists() and not overwrite:
        raise StudyTemplateError(f"{destination} already exists; choose another file name.")
    destination.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, destination)
    return destination


def seed_template() -> StudyTemplate:
    return template_load(SEED_TEMPLATE)


def reported_answer_shares(name_or_path: str | Path = SEED_TEMPLATE) -> AnswerShares:
    """The answer shares simulated participants follow by default: the seed's Figure 4 and Figure 10."""
    return template_load(name_or_path).answer_shares


@transaction.atomic
def study_from_template(template: StudyTemplate, *, owner, slug: str | None = None, title: str | None = None,
                        grids: Mapping[str, object] | None = None, launch: bool = False):
    """Create the template's study with its conditions, items and hypotheses (all or nothing).

    ``grids`` maps an explanation method to the ready StimulusGrid its conditions show; conditions whose
    method has no grid stay without a stimulus, so the study stays a draft until the researcher links one.
    ``launch`` launches the study at the end. Any model validation error becomes a StudyTemplateError
    naming the template entry, and rolls everything back.
    """
    from stats.services import hypothesis_create, plan_save
    from studies.services import condition_create, item_create, study_create, study_launch

    grids = grids or {}

    def create(where: str, make, **fields):
        try:
            return make(**fields)
        except ValidationError as exc:
            raise StudyTemplateError(f"{template.source}: {where}: {validation_message(exc)}") from exc

    study = create("study", study_create, owner=owner,
                   **{**template.study, "slug": slug or template.slug, "title": title or template.title})
    conditions = {}
    for order, spec in enumerate(template.conditions):
        grid = grids.get(spec.method) if spec.method else None
        if grid is not None and grid.method != spec.method:
            raise StudyTemplateError(f"{template.source}: condition {spec.slug!r} shows {spec.method!r}, but the "
                                     f"grid given for it is a {grid.method!r} grid.")
        conditions[spec.slug] = create(f"condition {spec.slug!r}", condition_create, study=study, slug=spec.slug,
                                       name=spec.name, description=spec.description, order=order,
                                       stimulus_grid=grid, stimulus_image=spec.image or "")
    for order, spec in enumerate(template.items, start=1):
        scale = spec.scale.item_fields() if spec.scale else {}
        create(f"item {spec.key!r}", item_create, study=study, key=spec.key, text=spec.text, kind=spec.kind,
               group=spec.group, page=spec.page, order=order, required=spec.required,
               reverse_coded=spec.reverse_coded, expected_answer=spec.expected_answer,
               condition=conditions[spec.condition] if spec.condition else None, **scale)
    if template.analysis_plan is not None:
        create("analysis_plan", plan_save, study=study, spec=dict(template.analysis_plan),
               note=f"from the template {template.name!r}")
    for spec in template.hypotheses:
        create(f"hypothesis {spec.key!r}", hypothesis_create, study=study, key=spec.key, kind=spec.kind,
               parameters=dict(spec.parameters), description=spec.description)
    if launch:
        study = create("launch", study_launch, study=study)
    return study
