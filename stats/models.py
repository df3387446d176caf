"""Stored analyses, analysis plans and preregistered hypotheses of a study.

An Analysis keeps the parameters it was run with and the sha256 of the data it used, so the same
numbers can be reproduced (and a changed data set is visible as a changed hash). Hypotheses are
preregistered: they can be created or changed only while their study is a draft (seed appendix E).
An AnalysisPlan is one dated version of how the study will be analysed; versions are only ever added,
and the one written when the study is launched is frozen (``frozen_at``). PlanLogEntry records what
happened to the plan: versions, the freeze, interim looks at the data of a live study.
"""
from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from studies.models import Study

from .analysis import AnalysisInputError, validate_hypothesis
from .analysis.hypotheses import hypothesis_references
from .analysis.plan import default_scales


class AnalysisPlan(models.Model):
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="analysis_plans")
    version = models.PositiveIntegerField()
    spec = models.JSONField(help_text="The completed plan (stats.analysis.plan); see docs/ANALYSIS_FORMAT.md.")
    note = models.CharField(max_length=200, blank=True, help_text="Why this version was written.")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    frozen_at = models.DateTimeField(null=True, blank=True, help_text="Set on the version written at launch.")

    class Meta:
        ordering = ["study", "-version"]
        constraints = [models.UniqueConstraint(fields=["study", "version"], name="unique_plan_version_per_study")]

    def __str__(self) -> str:
        return f"plan v{self.version} of {self.study.slug}{' (frozen)' if self.frozen_at else ''}"

    def save(self, *args, **kwargs):
        # Versions are only ever added: a preregistration that can be edited in place binds nothing.
        if self.pk is not None and not self._state.adding:
            raise ValidationError("A plan version is never changed; write a new version instead.")
        super().save(*args, **kwargs)


class PlanLogEntry(models.Model):
    class Event(models.TextChoices):
        VERSION = "version", "Plan version written"
        FROZEN = "frozen", "Plan frozen at launch"
        INTERIM_LOOK = "interim_look", "Interim look at the data of a live study"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="plan_log")
    plan = models.ForeignKey(AnalysisPlan, null=True, blank=True, on_delete=models.SET_NULL, related_name="log")
    event = models.CharField(max_length=20, choices=Event.choices)
    message = models.TextField(blank=True)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["study", "created_at", "pk"]
        verbose_name_plural = "plan log entries"

    def __str__(self) -> str:
        return f"{self.study.slug}: {self.event} at {self.created_at:%Y-%m-%d %H:%M}"


class Analysis(models.Model):
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="analyses")
    parameters = models.JSONField(default=dict, help_text="Test, correction, alpha, families, exclusion rules.")
    data_hash = models.CharField(max_length=64, db_index=True, help_text="sha256 of the responses analysed.")
    results = models.JSONField(default=dict, help_text="See docs/ANALYSIS_FORMAT.md.")
    plan = models.ForeignKey(AnalysisPlan, null=True, blank=True, on_delete=models.SET_NULL, related_name="analyses",
                             help_text="The plan version the analysis was compared with.")
    confirmatory = models.BooleanField(default=False, help_text="Follows the frozen plan with no departure.")
    interim = models.BooleanField(default=False, help_text="Run while the study was live (a logged interim look).")
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
        COMPOUND = "compound", "Several statements combined (all / any)"

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
    """Unknown items or conditions named in the parameters (checked against the study as it is now).

    A comparison may also name a scale score of the study's plan (e.g. "satisfaction_scale")."""
    study = hypothesis.study
    items, named_conditions = hypothesis_references(hypothesis.kind, hypothesis.parameters)
    likert = list(study.items.filter(kind="likert").values("key", "group"))
    latest = study.analysis_plans.order_by("-version").first()
    scales = latest.spec.get("scales", {}) if latest else default_scales(likert)
    known = {item["key"] for item in likert} | set(scales)
    problems = [f"{name!r} is not a Likert item of this study" for name in sorted(items) if name not in known]
    conditions = set(study.conditions.values_list("slug", flat=True))
    problems += [f"{name!r} is not a condition of this study" for name in sorted(named_conditions)
                 if name not in conditions]
    return {"parameters": "; ".join(problems) + "."} if problems else {}


class StudyExport(Study):
    """Admin entry point for response exports (a proxy: no table of its own)."""

    class Meta:
        proxy = True
        verbose_name = "study export"
        verbose_name_plural = "study exports"
