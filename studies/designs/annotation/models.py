"""ORM of annotation studies: tasks with a forced-choice question, items of images, allocations and votes.

The design follows the human evaluation of progressive exaggeration (Singla et al., ICLR 2020, appendix A.4,
Figure 10): a worker sees a pair or a row of images and answers one question, either by clicking the image
("In which image is the animal more stretchy?") or by picking one of fixed choices ("What is changing?").
Every item collects k votes from distinct participants. Rules that change data live in services/.
"""
from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models

from studies.models import Participant, Study


class AnnotationSettings(models.Model):
    """How many votes each item collects and how many items each participant annotates."""

    study = models.OneToOneField(Study, on_delete=models.CASCADE, related_name="annotation_settings")
    votes_per_item = models.PositiveSmallIntegerField(
        default=8, validators=[MinValueValidator(1)],
        help_text="k: votes every item collects, each from a different participant (the paper used 8).",
    )
    items_per_participant = models.PositiveSmallIntegerField(
        default=20, validators=[MinValueValidator(1)],
        help_text="Items one participant annotates (attention items come on top).",
    )
    planned_participants = models.PositiveIntegerField(
        null=True, blank=True, help_text="Participants you plan to recruit; used to check that k votes are reachable.",
    )

    class Meta:
        verbose_name_plural = "annotation settings"

    def __str__(self) -> str:
        return f"annotation settings of {self.study.slug}"

    def clean(self) -> None:
        if self.planned_participants is not None and self.votes_per_item > self.planned_participants:
            raise ValidationError({"votes_per_item": (
                f"Each item needs {self.votes_per_item} votes from different participants, but only "
                f"{self.planned_participants} participants are planned. Lower k or plan more participants."
            )})


class AnnotationTask(models.Model):
    """One question asked about many items (a row of Table 5)."""

    class AnswerKind(models.TextChoices):
        TWO_ALTERNATIVE = "two_alternative", "Two-alternative: click one of two images"
        MULTIPLE_CHOICE = "multiple_choice", "Multiple choice: pick one of fixed answers"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="annotation_tasks")
    key = models.SlugField(max_length=40)
    title = models.CharField(max_length=120, help_text='As the analysis names it, e.g. "Task-1 (Stretchy)".')
    question = models.TextField(help_text='e.g. "In which image is the animal more stretchy?"')
    answer_kind = models.CharField(max_length=20, choices=AnswerKind.choices, default=AnswerKind.MULTIPLE_CHOICE)
    choices = models.JSONField(default=list, blank=True, help_text="Multiple choice: the answers, in order.")
    measures_accuracy = models.BooleanField(
        default=True, help_text="Score the majority vote against ground truth (every item then needs one).",
    )
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["study", "order", "pk"]
        constraints = [models.UniqueConstraint(fields=["study", "key"], name="unique_annotation_task_key")]

    def __str__(self) -> str:
        return f"{self.study.slug}:{self.key}"

    @property
    def is_two_alternative(self) -> bool:
        return self.answer_kind == self.AnswerKind.TWO_ALTERNATIVE

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.is_two_alternative:
            if self.choices:
                errors["choices"] = "A two-alternative task is answered by clicking an image: leave choices empty."
        elif not (isinstance(self.choices, list) and all(isinstance(c, str) and c.strip() for c in self.choices)):
            errors["choices"] = "Give the answers as a list of non-empty texts."
        elif len(set(self.choices)) < 2 or len(set(self.choices)) != len(self.choices):
            errors["choices"] = "A multiple-choice task needs at least two different answers, each once."
        if self.pk is not None and AnnotationVote.objects.filter(item__task_id=self.pk).exists():
            stored = AnnotationTask.objects.filter(pk=self.pk).values("answer_kind", "choices", "question").first()
            for name in ("answer_kind", "choices", "question"):
                if stored and stored[name] != getattr(self, name):
                    errors[name] = f"Cannot change {name!r}: participants have already voted on this task."
        if errors:
            raise ValidationError(errors)


class AnnotationItem(models.Model):
    """A pair or a row of images asked about with its task's question."""

    task = models.ForeignKey(AnnotationTask, on_delete=models.CASCADE, related_name="items")
    key = models.SlugField(max_length=60)
    subcategory = models.CharField(
        max_length=60, blank=True, help_text='Reported separately, e.g. "easy"/"hard", a target attribute, a model.',
    )
    ground_truth = models.CharField(
        max_length=120, blank=True, help_text="The correct answer: a choice, or the image position (1, 2) of a pair.",
    )
    is_attention = models.BooleanField(
        default=False, help_text="An attention item with a known answer: shown to everyone, used for exclusion.",
    )
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["task", "order", "pk"]
        constraints = [models.UniqueConstraint(fields=["task", "key"], name="unique_annotation_item_key")]

    def __str__(self) -> str:
        return f"{self.task}/{self.key}"

    def choice_keys(self) -> list[str]:
        """What a vote may say: the task's answers, or the positions of the item's images for a pair."""
        if self.task.is_two_alternative:
            return [str(position) for position in self.images.values_list("position", flat=True)]
        return list(self.task.choices)

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.task_id is None:
            return
        if not self.ground_truth and (self.is_attention or self.task.measures_accuracy):
            errors["ground_truth"] = ("Attention items need their correct answer." if self.is_attention else
                                      f"Task {self.task.key!r} scores accuracy: give the correct answer.")
        elif self.ground_truth:
            if self.task.is_two_alternative:
                if self.ground_truth not in ("1", "2"):
                    errors["ground_truth"] = "For a pair, the correct answer is the image position 1 or 2."
            elif self.ground_truth not in self.task.choices:
                errors["ground_truth"] = f"Choose the correct answer from: {', '.join(self.task.choices)}."
        if self.pk is not None and self.votes.exists():
            stored = AnnotationItem.objects.filter(pk=self.pk).values("ground_truth", "is_attention").first()
            if stored and stored["is_attention"] != self.is_attention:
                errors["is_attention"] = "Cannot change: participants have already voted on this item."
        if errors:
            raise ValidationError(errors)


class AnnotationImage(models.Model):
    """One image of an item: a cell of a stimulus grid or an uploaded file."""

    item = models.ForeignKey(AnnotationItem, on_delete=models.CASCADE, related_name="images")
    position = models.PositiveSmallIntegerField(help_text="1 = first image of the pair or row.")
    grid_cell = models.ForeignKey("explainers.GridCell", null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="annotation_images")
    image = models.ImageField(upload_to="annotation/", blank=True, help_text="An uploaded image, if no grid cell.")
    caption = models.CharField(max_length=120, blank=True)

    class Meta:
        ordering = ["item", "position"]
        constraints = [models.UniqueConstraint(fields=["item", "position"], name="unique_annotation_image_position")]

    def __str__(self) -> str:
        return f"{self.item} #{self.position}"

    @property
    def url(self) -> str:
        if self.grid_cell_id is not None:
            return settings.MEDIA_URL + self.grid_cell.image
        return self.image.url if self.image else ""

    def clean(self) -> None:
        if (self.grid_cell_id is None) == (not self.image):
            raise ValidationError({"image": "Give either a grid cell or an uploaded image (exactly one)."})
        if self.position < 1:
            raise ValidationError({"position": "Positions start at 1."})


class AnnotationAllocation(models.Model):
    """One item given to one participant, in the order and with the image placement they see it."""

    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="annotation_allocations")
    item = models.ForeignKey(AnnotationItem, on_delete=models.PROTECT, related_name="allocations")
    position = models.PositiveSmallIntegerField(help_text="1 = the participant's first item.")
    placement = models.JSONField(default=list, help_text="Image positions in the order shown (left to right).")
    shown_at = models.DateTimeField(null=True, blank=True)
    released_at = models.DateTimeField(
        null=True, blank=True, help_text="Set when the place went to another participant while this one was away.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["participant", "position"]
        constraints = [
            # No participant sees an item twice.
            models.UniqueConstraint(fields=["participant", "item"], name="unique_annotation_allocation"),
            models.UniqueConstraint(fields=["participant", "position"], name="unique_annotation_position"),
        ]
        indexes = [models.Index(fields=["item", "released_at"])]

    def __str__(self) -> str:
        return f"{self.participant_id} -> {self.item} (#{self.position})"


class AnnotationVote(models.Model):
    """A participant's answer to an allocated item. Write-once: a vote is never changed or replaced."""

    allocation = models.OneToOneField(AnnotationAllocation, on_delete=models.CASCADE, related_name="vote")
    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="annotation_votes")
    item = models.ForeignKey(AnnotationItem, on_delete=models.PROTECT, related_name="votes")
    choice = models.CharField(max_length=120)
    placement = models.JSONField(default=list, help_text="Image positions as they were shown for this vote.")
    seconds = models.FloatField(null=True, blank=True, help_text="From showing the item to the vote (server clock).")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["item", "created_at", "pk"]
        constraints = [models.UniqueConstraint(fields=["participant", "item"], name="unique_annotation_vote")]

    def __str__(self) -> str:
        return f"{self.participant_id}:{self.item}={self.choice}"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise ValidationError("Votes are write-once: a stored vote cannot be changed.")
        super().save(*args, **kwargs)
