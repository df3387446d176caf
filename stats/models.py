"""Stored analyses and preregistered hypotheses of a study.

An Analysis keeps the parameters it was run with and the sha256 of the data it used, so the same
numbers can be reproduced (and a changed data set is visible as a changed hash). Hypotheses are
preregistered: they can be created or changed only while their study is a draft (seed appendix E).
"""
from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from studies.models import Study

from .analysis import AnalysisInputError, validate_hypothesis


class Analysis(models.Model):
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="analyses")
    parameters = models.JSONField(default=dict, help_text="Test, correction, alpha, families, exclusion rules.")
    data_hash = models.CharField(max_length=64, db_index=True, help_text="sha256 of the responses analysed.")
    results = models.JSONField(default=dict, help_text="See docs/ANALYSIS_FORMAT.md.")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "analyses"

    def __str__(self) -> str:
        return f"analysis {self.pk} of {self.study.slug} ({self.data_hash[:10]})"


class Hypothesis(models.Model):
    class Kind(models.TextChoices):
        PROPORTION_AGREE = "proportion_agree", "Proportion agreeing in a condition reaches a threshold"
        CONDITION_GREATER = "condition_greater", "One condition rated higher than another"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="hypotheses")
    key = models.SlugField(max_length=40, help_text='Short name unique in the study, e.g. "h1".')
    kind = models.CharField(max_length=32, choices=Kind.choices)
    parameters = models.JSONField(default=dict)
    description = models.TextField(blank=True, help_text="The hypothesis as preregistered, in words.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["study", "key"]
        verbose_name_plural = "hypotheses"
        constraints = [models.UniqueConstraint(fields=["study", "key"], name="unique_hypothesis_key_per_study")]

    def __str__(self) -> str:
        return f"{self.study.slug}:{self.key}"

    def clean(self) -> None:
        errors: dict[str, str] = {}
        try:
            self.parameters = validate_hypothesis(self.kind, self.parameters)
        except AnalysisInputError as error:
            errors["parameters"] = str(error)
        if self.study_id is not None:
            if self.study.status != Study.Status.DRAFT:
                errors["study"] = "Hypotheses are preregistered: they can only be changed while the study is a draft."
            elif "parameters" not in errors:
                errors.update(_reference_problems(self))
        if errors:
            raise ValidationError(errors)


def _reference_problems(hypothesis: Hypothesis) -> dict[str, str]:
    """Unknown items or conditions named in the parameters (checked against the study as it is now)."""
    params = hypothesis.parameters
    study = hypothesis.study
    problems = []
    if not study.items.filter(key=params["item"], kind="likert").exists():
        problems.append(f"{params['item']!r} is not a Likert item of this study")
    conditions = set(study.conditions.values_list("slug", flat=True))
    names = [params["condition"]] if hypothesis.kind == "proportion_agree" else [params["higher"], params["lower"]]
    problems += [f"{name!r} is not a condition of this study" for name in names if name not in conditions]
    return {"parameters": "; ".join(problems) + "."} if problems else {}


class StudyExport(Study):
    """Admin entry point for response exports (a proxy: no table of its own)."""

    class Meta:
        proxy = True
        verbose_name = "study export"
        verbose_name_plural = "study exports"
