"""ORM of the within-subject trials design (Luss et al., CEM-MAF user study, section 5).

A trials study has a setup (questions, scale labels, number of trials), the explanation methods it compares
(each with the short description participants read), a pool of images and one explanation image per method
and pool image. Each participant gets a stored, counterbalanced trial list; every rating is kept with its
revision history. Rules that change data are in services/, reads in selectors.py.
"""
from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q

from studies.models import Participant, Study

#: The paper's first item: "Is the explanation useful?" on five points.
USEFULNESS_LABELS = [
    "I don't understand the explanation",
    "I understand the explanation but it does not help me understand what features the system used",
    "I understand the explanation and it helps me a little to understand what features the system used",
    "I understand the explanation and it helps me mostly understand what features the system used",
    "I understand the explanation and it helps me completely understand what features the system used",
]
#: The paper's second item: the added value of Explanation 2, from "None" to "Completes my understanding".
ADDED_VALUE_LABELS = ["None", "A little", "Somewhat", "A lot", "Completes my understanding"]
DEFAULT_PREDICTION_TEMPLATE = "The system thinks the image shows a {prediction}."
DEFAULT_FIRST_QUESTION = "Is the explanation useful?"
DEFAULT_SECOND_QUESTION = ("How much does adding the second explanation to the first improve your understanding "
                           "of what features the system used to recognize a {prediction}?")


def trials_allocated(study_id: int | None) -> bool:
    """Whether participants of the study already have trial lists (its configuration is then frozen)."""
    return study_id is not None and Trial.objects.filter(participant__study_id=study_id).exists()


class FrozenOnceAllocated(models.Model):
    """Configuration that participants were shown: refused to change once trial lists exist (the data would lie)."""

    class Meta:
        abstract = True

    def _study_id(self) -> int | None:
        return self.study_id

    def clean(self) -> None:
        if trials_allocated(self._study_id()):
            raise ValidationError(f"Cannot change the {self._meta.verbose_name}: participants already have trial "
                                  "lists that show it. Duplicate the study instead.")


def _usefulness_labels() -> list[str]:
    return list(USEFULNESS_LABELS)


def _added_value_labels() -> list[str]:
    return list(ADDED_VALUE_LABELS)


class TrialSetup(FrozenOnceAllocated):
    """How the trials of one study look: questions, scale labels, prediction sentence, number of trials."""

    study = models.OneToOneField(Study, on_delete=models.CASCADE, related_name="trial_setup")
    trials_per_participant = models.PositiveSmallIntegerField(
        default=24, validators=[MinValueValidator(1), MaxValueValidator(500)],
        help_text="A multiple of the number of ordered method pairs k(k-1): 24 for three methods, 12 or 24 for four.",
    )
    prediction_template = models.CharField(
        max_length=300, default=DEFAULT_PREDICTION_TEMPLATE,
        help_text="The model's prediction as a sentence; {prediction} is replaced by the pool image's prediction.",
    )
    first_question = models.CharField(max_length=300, default=DEFAULT_FIRST_QUESTION)
    first_labels = models.JSONField(default=_usefulness_labels, help_text="One label per scale point (3 to 11).")
    second_question = models.CharField(max_length=300, default=DEFAULT_SECOND_QUESTION,
                                       help_text="{prediction} is replaced by the pool image's prediction.")
    second_labels = models.JSONField(default=_added_value_labels, help_text="One label per scale point (3 to 11).")
    min_instructions_seconds = models.PositiveIntegerField(
        default=30, help_text="Minimum reading time of the instructions page (the paper: 30 seconds)."
    )

    def __str__(self) -> str:
        return f"trial setup of {self.study.slug}"

    @property
    def first_points(self) -> int:
        return len(self.first_labels)

    @property
    def second_points(self) -> int:
        return len(self.second_labels)

    def clean(self) -> None:
        super().clean()
        errors = self.content_errors()
        if errors:
            raise ValidationError(errors)

    def content_errors(self) -> dict[str, str]:
        """Problems of the setup itself (labels, placeholders), whether or not it is frozen."""
        errors: dict[str, str] = {}
        for name in ("first_labels", "second_labels"):
            labels = getattr(self, name)
            if not (isinstance(labels, list) and 3 <= len(labels) <= 11
                    and all(isinstance(label, str) and label.strip() for label in labels)):
                errors[name] = "Give a list of 3 to 11 non-empty labels, one per scale point."
        for name in ("prediction_template", "second_question"):
            try:
                getattr(self, name).format(prediction="x")
            except (KeyError, IndexError, ValueError):
                errors[name] = "Use {prediction} as the only placeholder (write {{ and }} for literal braces)."
        return errors


class TrialMethod(FrozenOnceAllocated):
    """One explanation method compared in the study, with the short description participants read."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="trial_methods")
    key = models.SlugField(max_length=40, help_text='Short name unique in the study, e.g. "saliency".')
    name = models.CharField(max_length=120, help_text="Shown to researchers only; participants see Explanation 1/2.")
    description = models.TextField(help_text="The brief description shown with this method's explanations.")
    explanation_method = models.CharField(max_length=64, blank=True,
                                          help_text="The registered explanation method that made the images.")
    stimulus_grid = models.ForeignKey("explainers.StimulusGrid", null=True, blank=True, on_delete=models.PROTECT,
                                      related_name="trial_methods", help_text="The grid the images were taken from.")
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["study", "order", "pk"]
        constraints = [models.UniqueConstraint(fields=["study", "key"], name="unique_trial_method_per_study")]

    def __str__(self) -> str:
        return f"{self.study.slug}:{self.key}"


class PoolImage(FrozenOnceAllocated):
    """An original image that trials draw from, with the model's prediction for it."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="trial_pool")
    key = models.SlugField(max_length=60)
    image = models.ImageField(upload_to="trials/pool/", max_length=300)
    prediction = models.CharField(max_length=200, help_text='The predicted class as words, e.g. "Stretchy".')
    source_index = models.IntegerField(null=True, blank=True, help_text="Index of the held-out image, if any.")
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["study", "order", "pk"]
        constraints = [models.UniqueConstraint(fields=["study", "key"], name="unique_pool_image_per_study")]

    def __str__(self) -> str:
        return f"{self.study.slug}:{self.key}"


class ExplanationImage(FrozenOnceAllocated):
    """What one method shows for one pool image."""

    method = models.ForeignKey(TrialMethod, on_delete=models.CASCADE, related_name="explanations")
    pool_image = models.ForeignKey(PoolImage, on_delete=models.CASCADE, related_name="explanations")
    image = models.ImageField(upload_to="trials/explanations/", max_length=300)

    class Meta:
        ordering = ["method", "pool_image"]
        constraints = [models.UniqueConstraint(fields=["method", "pool_image"], name="unique_explanation_per_image")]

    def __str__(self) -> str:
        return f"{self.method.key} on {self.pool_image.key}"

    def _study_id(self) -> int | None:
        return self.method.study_id if self.method_id else None

    def clean(self) -> None:
        super().clean()
        if self.method_id and self.pool_image_id and self.method.study_id != self.pool_image.study_id:
            raise ValidationError({"pool_image": "The pool image belongs to another study than the method."})


class TrialSession(models.Model):
    """A participant's place in their trial list; the seed reproduces the list."""

    participant = models.OneToOneField(Participant, on_delete=models.CASCADE, related_name="trial_session")
    seed = models.BigIntegerField()
    current_position = models.PositiveSmallIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"trials of participant {self.participant_id} (at {self.current_position})"


class Trial(models.Model):
    """One trial of one participant: an image, Explanation 1 and Explanation 2, and the two current ratings."""

    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="trials")
    position = models.PositiveSmallIntegerField(help_text="1-based place in the participant's sequence.")
    pool_image = models.ForeignKey(PoolImage, on_delete=models.PROTECT, related_name="trials")
    first_method = models.ForeignKey(TrialMethod, on_delete=models.PROTECT, related_name="trials_first")
    second_method = models.ForeignKey(TrialMethod, on_delete=models.PROTECT, related_name="trials_second")
    first_rating = models.PositiveSmallIntegerField(null=True, blank=True)
    second_rating = models.PositiveSmallIntegerField(null=True, blank=True)
    first_answered_at = models.DateTimeField(null=True, blank=True)
    second_answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["participant", "position"]
        constraints = [
            models.UniqueConstraint(fields=["participant", "position"], name="unique_trial_position"),
            models.UniqueConstraint(fields=["participant", "pool_image"], name="unique_trial_image_per_participant"),
            models.CheckConstraint(condition=~Q(first_method=F("second_method")), name="trial_methods_differ"),
            # The second item is answered only after the first (the paper's order): never stored alone.
            models.CheckConstraint(condition=Q(second_rating__isnull=True) | Q(first_rating__isnull=False),
                                   name="trial_second_after_first"),
        ]

    def __str__(self) -> str:
        return f"trial {self.position} of participant {self.participant_id}"

    @property
    def is_answered(self) -> bool:
        return self.second_rating is not None


class TrialRating(models.TextChoices):
    FIRST = "first", "Explanation 1 (usefulness)"
    SECOND = "second", "Explanation 2 (added value)"


class TrialAnswerRevision(models.Model):
    """Append-only history of every rating given in a trial, so a changed answer is never silently lost."""

    trial = models.ForeignKey(Trial, on_delete=models.CASCADE, related_name="revisions")
    question = models.CharField(max_length=10, choices=TrialRating.choices)
    value = models.PositiveSmallIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["trial", "created_at", "pk"]
