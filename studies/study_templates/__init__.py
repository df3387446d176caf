"""Study templates: a study described as a versioned JSON file (format in schema.py, loading and building in
services.py, the shipped templates as *.json beside them)."""
from studies.study_templates.schema import AnswerShares, StudyTemplate, StudyTemplateError, template_parse
from studies.study_templates.services import (
    EXAMPLE_TEMPLATE,
    SEED_TEMPLATE,
    reported_answer_shares,
    seed_template,
    study_from_template,
    template_dump,
    template_load,
    template_names,
    template_path,
)

__all__ = [
    "EXAMPLE_TEMPLATE",
    "SEED_TEMPLATE",
    "AnswerShares",
    "StudyTemplate",
    "StudyTemplateError",
    "reported_answer_shares",
    "seed_template",
    "study_from_template",
    "template_dump",
    "template_load",
    "template_names",
    "template_parse",
    "template_path",
]
