"""ORM records of the explanation pipeline: datasets, trained checkpoints, pregenerated stimulus grids.

Only bookkeeping lives here; the torch code is in explainers.core, called through explainers.services.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models


class Dataset(models.Model):
    """A generated or uploaded image dataset (e.g. Two4Two with a sampler and a seed)."""

    class Kind(models.TextChoices):
        TWO4TWO = "two4two", "Two4Two (procedural)"
        DIGITS = "digits", "scikit-learn digits"
        IMAGE_FOLDER = "image_folder", "Image folder"

    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=32, choices=Kind.choices, default=Kind.TWO4TWO)
    parameters = models.JSONField(default=dict, blank=True, help_text="Generation parameters (sampler, size, …).")
    seed = models.BigIntegerField(default=0)
    splits = models.JSONField(default=dict, blank=True, help_text='Split sizes, e.g. {"train": 6000, "test": 1000}.')
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.kind}, seed {self.seed})"


class Checkpoint(models.Model):
    """A trained model file with its configuration, metrics and provenance."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="checkpoints",
                              null=True, blank=True)
    name = models.CharField(max_length=120)
    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="checkpoints", null=True, blank=True)
    architecture = models.CharField(max_length=64, default="glow_linear")
    config = models.JSONField(default=dict, blank=True)
    file = models.CharField(max_length=500, help_text="Path of the checkpoint file (absolute or under ARTIFACTS_ROOT).")
    sha256 = models.CharField(max_length=64, db_index=True)
    metrics = models.JSONField(default=dict, blank=True, help_text="validation accuracy, bits/dim, …")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.sha256[:10]})"


class StimulusGrid(models.Model):
    """A pregenerated rows × columns image grid shown to participants of one condition."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="stimulus_grids",
                              null=True, blank=True)
    name = models.CharField(max_length=120)
    checkpoint = models.ForeignKey(Checkpoint, on_delete=models.PROTECT, related_name="grids")
    method = models.CharField(max_length=64, help_text="Registered explanation method name.")
    parameters = models.JSONField(default=dict, blank=True, help_text="Validated method configuration.")
    layout = models.JSONField(default=dict, blank=True, help_text="rows, columns, percentiles, originals per bin, …")
    seed = models.BigIntegerField(default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    progress = models.PositiveSmallIntegerField(default=0, help_text="0-100 %")
    error = models.TextField(blank=True)
    directory = models.CharField(max_length=300, blank=True, help_text="Published folder under MEDIA_ROOT.")
    column_labels = models.JSONField(default=list, blank=True)
    provenance = models.JSONField(default=dict, blank=True)
    task_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} [{self.method}, {self.status}]"

    @property
    def is_ready(self) -> bool:
        return self.status == self.Status.READY


class GridCell(models.Model):
    """One image of a grid with what produced it."""

    grid = models.ForeignKey(StimulusGrid, on_delete=models.CASCADE, related_name="cells")
    row = models.PositiveIntegerField()
    column = models.PositiveIntegerField()
    image = models.CharField(max_length=300, help_text="Path under MEDIA_ROOT.")
    logit = models.FloatField()
    is_original = models.BooleanField(default=False)
    source_index = models.IntegerField(help_text="Index of the held-out image this cell comes from.")
    parameters = models.JSONField(default=dict, blank=True, help_text="Method parameters, e.g. alpha, target logit.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["grid", "row", "column"], name="unique_grid_cell")]
        ordering = ["row", "column"]

    def __str__(self) -> str:
        return f"{self.grid_id}[{self.row},{self.column}]"
