"""ORM of the questionnaire platform: studies, conditions, items, participants and their answers, the
consent versions participants agreed to and the audit log of changes to launched studies and deletions.

One cohesive module (the studies schema), hence longer than most. Only fields, constraints and small derived
properties live here; rules that change data (assignment, saving answers, launching) are in services/,
reads in selectors.py.
"""
from __future__ import annotations

import difflib
import secrets

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from .page_texts import page_texts_errors

#: Longest free-text answer a participant may give (characters).
FREE_TEXT_MAX_LENGTH = 5000


def characters_changed(before: str, after: str) -> int:
    """How many characters an edit inserts, deletes or replaces (from difflib's alignment of the two)."""
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    return sum(max(i2 - i1, j2 - j1) for tag, i1, i2, j1, j2 in matcher.get_opcodes() if tag != "equal")


def is_typo_fix(before: str, after: str) -> bool:
    """A correction small enough not to change what a participant read: at most 3 characters, and at most a
    tenth of the text (a typo, a doubled space, a missing full stop)."""
    changed = characters_changed(before or "", after or "")
    return changed <= min(3, max(1, len(before or "") // 10))


def _launched_text_errors(instance, stored: dict, fields: tuple[str, ...], what: str) -> dict[str, str]:
    return {
        name: (f"Cannot reword the {name.replace('_', ' ')} of {what} of a launched study beyond a typo fix: "
               "participants already read it. Close the study and create a new one instead.")
        for name in fields
        if stored[name] != getattr(instance, name) and not is_typo_fix(str(stored[name]), str(getattr(instance, name)))
    }


def page_texts_field_check(instance) -> None:
    errors = page_texts_errors(instance.page_texts)
    if errors:
        raise ValidationError({"page_texts": errors})


def new_participant_token() -> str:
    # 32 random bytes: unguessable, never derived from the row id.
    return secrets.token_urlsafe(32)


class StudyManager(models.Manager):
    def get_by_natural_key(self, slug: str) -> "Study":
        return self.get(slug=slug)


class Study(models.Model):
    """A study of one design (between-group, within-subject trials, annotation) recruited on one platform."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        LIVE = "live", "Live"
        PAUSED = "paused", "Paused"
        CLOSED = "closed", "Closed"

    class Design(models.TextChoices):
        # Each design is implemented in studies/designs/ and registered when its app is ready.
        BETWEEN_GROUP = "between_group", "Between-group conditions"
        WITHIN_SUBJECT = "within_subject", "Within-subject trials"
        ANNOTATION = "annotation", "Annotation task"

    class Platform(models.TextChoices):
        PROLIFIC = "prolific", "Prolific"
        MTURK = "mturk", "Amazon Mechanical Turk"
        LINK = "link", "Plain link"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="studies")
    slug = models.SlugField(max_length=80, unique=True, help_text="Appears in the participant URL /s/<slug>/.")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, help_text="Shown on the MTurk preview and the entry page.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT, db_index=True)
    platform = models.CharField(max_length=16, choices=Platform.choices, default=Platform.PROLIFIC)
    design = models.CharField(
        max_length=20, choices=Design.choices, default=Design.BETWEEN_GROUP,
        help_text="How participants meet stimuli and items; cannot change once participants have started.",
    )
    target_per_condition = models.PositiveIntegerField(
        null=True, blank=True, help_text="Completed participants wanted per condition; empty = unlimited."
    )
    completion_code = models.CharField(max_length=64, blank=True, help_text="Code for a completed submission.")
    attention_fail_code = models.CharField(
        max_length=64, blank=True, help_text="Code for a submission that failed an attention check (optional)."
    )
    declined_code = models.CharField(
        max_length=64, blank=True, help_text="Code for a participant who declined consent (optional; Prolific "
        "asks them to return the study).",
    )
    screened_out_code = models.CharField(
        max_length=64, blank=True, help_text="Code for a participant screened out by the study (optional).",
    )
    consent_text = models.TextField(blank=True)
    instructions_text = models.TextField(blank=True)
    instructions_video_url = models.URLField(blank=True)
    randomize_items = models.BooleanField(default=False, help_text="Shuffle item order per participant and page.")
    min_stimulus_seconds = models.PositiveIntegerField(
        default=0, help_text="Minimum time on the stimulus page before it can be submitted."
    )
    time_limit_minutes = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1, "A time limit must be at least 1 minute.")],
        help_text="Most minutes a participant may take; shown to them, and the maximum time to set on Prolific. "
        "Empty = no limit.",
    )
    page_texts = models.JSONField(
        default=dict, blank=True, help_text="Page headings, button texts and the completion message of this study "
        "(see studies.page_texts for the keys); a text left out keeps the platform's default.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    launched_at = models.DateTimeField(null=True, blank=True)

    objects = StudyManager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "studies"

    def __str__(self) -> str:
        return f"{self.title} ({self.slug})"

    def natural_key(self) -> tuple[str]:
        return (self.slug,)

    @property
    def is_live(self) -> bool:
        return self.status == self.Status.LIVE

    @property
    def is_launched(self) -> bool:
        """Once launched (live, paused or closed), what participants saw is fixed: conditions, items, the slug
        of their link, the consent text (only superseded by a new version)."""
        return self.status != self.Status.DRAFT or self.launched_at is not None

    def clean(self) -> None:
        page_texts_field_check(self)
        if self.pk is None:
            return
        stored = Study.objects.filter(pk=self.pk).values("design", "slug", "status", "launched_at").first()
        if stored is None:
            return
        errors: dict[str, str] = {}
        if stored["design"] != self.design and self.participants.exists():
            errors["design"] = ("Cannot change the design of a study that participants have started: "
                                "their records follow the old design. Duplicate the study instead.")
        launched = stored["status"] != self.Status.DRAFT or stored["launched_at"] is not None
        if launched and stored["slug"] != self.slug:
            errors["slug"] = "The slug is part of the participant link; it cannot change after launch."
        current = self.consent_versions.order_by("-number").first()
        if launched and current is not None and current.text != self.consent_text:
            errors["consent_text"] = ("The consent of a launched study cannot be edited in place: participants "
                                      "agreed to it. Supersede it with a new version instead.")
        if errors:
            raise ValidationError(errors)


class ConditionManager(models.Manager):
    def get_by_natural_key(self, study_slug: str, slug: str) -> "Condition":
        return self.get(study__slug=study_slug, slug=slug)


class Condition(models.Model):
    """One between-group arm: which stimulus the participant studies."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="conditions")
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60)
    description = models.TextField(blank=True)
    order = models.PositiveIntegerField(default=0)
    stimulus_grid = models.ForeignKey(
        "explainers.StimulusGrid",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="conditions",
    )
    stimulus_image = models.ImageField(
        upload_to="stimuli/", blank=True, help_text="An uploaded stimulus image, used when no grid is linked."
    )
    shows_explanation = models.BooleanField(
        default=True, help_text="Untick for a control group that sees no explanation: its default page texts then "
        "never mention one.",
    )
    page_texts = models.JSONField(
        default=dict, blank=True, help_text="Page headings and button texts of this condition only; they override "
        "the study's.",
    )

    objects = ConditionManager()

    class Meta:
        ordering = ["study", "order", "pk"]
        constraints = [models.UniqueConstraint(fields=["study", "slug"], name="unique_condition_slug_per_study")]

    def __str__(self) -> str:
        return f"{self.study.slug}/{self.slug}"

    def natural_key(self) -> tuple[str, str]:
        return (self.study.slug, self.slug)

    natural_key.dependencies = ["studies.study"]

    #: Text a participant may read; after launch only typo fixes (each logged in AuditEntry by the services).
    WORDING_FIELDS = ("name", "description")

    def clean(self) -> None:
        page_texts_field_check(self)
        if self.study_id is not None and self.study.is_launched:
            self._launched_errors()
        if self.pk is None:
            return
        stored = Condition.objects.filter(pk=self.pk).values("stimulus_grid_id", "stimulus_image").first()
        if stored is None or not self.participants.exclude(status=Participant.Status.DECLINED).exists():
            return
        errors = {}
        if stored["stimulus_grid_id"] != self.stimulus_grid_id:
            errors["stimulus_grid"] = "Cannot change the stimulus grid: participants were already shown this condition."
        if (stored["stimulus_image"] or "") != (self.stimulus_image.name or ""):
            errors["stimulus_image"] = "Cannot change the stimulus image: participants were already shown this condition."
        if errors:
            raise ValidationError(errors)

    def _launched_errors(self) -> None:
        if self.pk is None:
            raise ValidationError({NON_FIELD_ERRORS: "Cannot add a condition to a launched study: participants "
                                                     "were already allocated. Close it and create a new study "
                                                     "instead."})
        stored = Condition.objects.filter(pk=self.pk).values("slug", *self.WORDING_FIELDS).first()
        if stored is None:
            return
        errors = _launched_text_errors(self, stored, self.WORDING_FIELDS, "a condition")
        if stored["slug"] != self.slug:
            errors["slug"] = "Cannot change the slug of a condition of a launched study: the data refer to it."
        if errors:
            raise ValidationError(errors)

    @property
    def has_stimulus(self) -> bool:
        if self.stimulus_grid_id is not None:
            return self.stimulus_grid.is_ready
        return bool(self.stimulus_image)


class ItemManager(models.Manager):
    def get_by_natural_key(self, study_slug: str, key: str) -> "Item":
        return self.get(study__slug=study_slug, key=key)


class Item(models.Model):
    """One question: a Likert statement, an attention check (Likert with an expected answer) or free text."""

    class Kind(models.TextChoices):
        LIKERT = "likert", "Likert"
        FREE_TEXT = "free_text", "Free text"
        ATTENTION_CHECK = "attention_check", "Attention check"

    class Page(models.TextChoices):
        STIMULUS = "stimulus", "Stimulus page"
        SATISFACTION = "satisfaction", "Satisfaction page"
        FREE_TEXT = "free_text", "Free-text page"

    # Fields that define what a stored answer means; frozen once a study has answers.
    DATA_DEFINING_FIELDS = ("key", "kind", "page", "scale_points", "expected_answer", "reverse_coded")
    #: Text a participant reads; after launch only typo fixes (each logged in AuditEntry by the services).
    WORDING_FIELDS = ("text", "anchor_low", "anchor_high")
    #: What else a participant saw; fixed once the study is launched.
    LAUNCH_FIXED_FIELDS = ("key", "kind", "page", "scale_points", "expected_answer", "reverse_coded", "labels",
                           "condition_id", "required", "group")

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="items")
    condition = models.ForeignKey(
        Condition,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="items",
        help_text="Only shown in this condition; empty = every condition.",
    )
    key = models.SlugField(max_length=40, help_text='Short name unique in the study, e.g. "arms".')
    text = models.TextField()
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.LIKERT)
    group = models.CharField(max_length=40, blank=True, help_text='e.g. "pattern", "satisfaction", "attention".')
    page = models.CharField(max_length=20, choices=Page.choices, default=Page.STIMULUS)
    order = models.IntegerField(default=0)
    scale_points = models.PositiveSmallIntegerField(
        default=7, blank=True, validators=[MinValueValidator(3), MaxValueValidator(11)],
        help_text="Likert items and attention checks only; free-text items need none.",
    )
    anchor_low = models.CharField(max_length=80, blank=True, default="Strongly disagree")
    anchor_high = models.CharField(max_length=80, blank=True, default="Strongly agree")
    labels = models.JSONField(default=list, blank=True, help_text="Optional label per scale point.")
    reverse_coded = models.BooleanField(default=False)
    expected_answer = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Attention checks: the scale point a careful participant picks."
    )
    required = models.BooleanField(default=True)

    objects = ItemManager()

    class Meta:
        ordering = ["study", "page", "order", "pk"]
        constraints = [models.UniqueConstraint(fields=["study", "key"], name="unique_item_key_per_study")]

    def __str__(self) -> str:
        return f"{self.study.slug}:{self.key}"

    def natural_key(self) -> tuple[str, str]:
        return (self.study.slug, self.key)

    natural_key.dependencies = ["studies.study", "studies.condition"]

    @property
    def is_scaled(self) -> bool:
        return self.kind in (self.Kind.LIKERT, self.Kind.ATTENTION_CHECK)

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.scale_points is None:
            if self.is_scaled:
                raise ValidationError({"scale_points": "A Likert item or attention check needs its number of scale "
                                                       "points."})
            # A free-text item has no scale; the column stays at its default so stored rows keep one type.
            self.scale_points = self._meta.get_field("scale_points").default
        if self.is_scaled:
            if self.scale_points % 2 == 0:
                errors["scale_points"] = "Use an odd number of scale points so the scale has a neutral middle."
            if self.labels and len(self.labels) != self.scale_points:
                errors["labels"] = f"Give exactly {self.scale_points} labels (one per scale point) or none."
        if self.kind == self.Kind.ATTENTION_CHECK:
            if self.expected_answer is None:
                errors["expected_answer"] = "An attention check needs its expected answer."
            elif not 1 <= self.expected_answer <= self.scale_points:
                errors["expected_answer"] = f"The expected answer must lie between 1 and {self.scale_points}."
        elif self.expected_answer is not None:
            errors["expected_answer"] = "Only attention checks have an expected answer."
        if self.kind == self.Kind.FREE_TEXT and self.reverse_coded:
            errors["reverse_coded"] = "Free-text items cannot be reverse-coded."
        if self.labels and not (isinstance(self.labels, list) and all(isinstance(x, str) for x in self.labels)):
            errors["labels"] = "Labels must be a list of strings."
        if self.condition_id is not None and self.study_id is not None and self.condition.study_id != self.study_id:
            errors["condition"] = "The condition belongs to another study."
        errors.update(self._locked_field_errors())
        errors.update(self._launched_errors())
        if errors:
            raise ValidationError(errors)

    def _launched_errors(self) -> dict[str, str]:
        if self.study_id is None or not self.study.is_launched:
            return {}
        if self.pk is None:
            return {NON_FIELD_ERRORS: "Cannot add an item to a launched study: participants already answer its "
                                      "items. Close it and create a new study instead."}
        stored = Item.objects.filter(pk=self.pk).values(*self.LAUNCH_FIXED_FIELDS, *self.WORDING_FIELDS).first()
        if stored is None:
            return {}
        errors = _launched_text_errors(self, stored, self.WORDING_FIELDS, "an item")
        for name in self.LAUNCH_FIXED_FIELDS:
            if stored[name] != getattr(self, name):
                errors.setdefault(name.removesuffix("_id"), f"Cannot change {name.removesuffix('_id')!r} of an item "
                                  "of a launched study.")
        return errors

    def _locked_field_errors(self) -> dict[str, str]:
        """Once a study has answers, fields that define their meaning cannot change (the data would lie)."""
        if self.pk is None or self.study_id is None:
            return {}
        if not Response.objects.filter(item__study_id=self.study_id).exists():
            return {}
        stored = Item.objects.filter(pk=self.pk).values(*self.DATA_DEFINING_FIELDS).first()
        if stored is None:
            return {}
        return {
            name: (
                f"Cannot change {name!r}: the study already has responses, and changing it would alter the "
                "meaning of collected answers. Close the study and create a new one instead."
            )
            for name in self.DATA_DEFINING_FIELDS
            if stored[name] != getattr(self, name)
        }


class Participant(models.Model):
    """One person (or simulated participant) taking a study, identified by an unguessable token."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        COMPLETED = "completed", "Completed"
        RETURNED = "returned", "Returned"
        DECLINED = "declined", "Declined consent"
        FAILED_ATTENTION = "failed_attention", "Failed attention check"
        TIMED_OUT = "timed_out", "Timed out"
        REJECTED = "rejected", "Rejected on the platform"
        SCREENED_OUT = "screened_out", "Screened out"
        WITHDRAWN = "withdrawn", "Withdrew"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="participants")
    condition = models.ForeignKey(
        Condition, null=True, blank=True, on_delete=models.PROTECT, related_name="participants"
    )
    platform = models.CharField(max_length=16, choices=Study.Platform.choices)
    external_id = models.CharField(max_length=128, blank=True, help_text="PROLIFIC_PID or workerId.")
    platform_study_id = models.CharField(max_length=128, blank=True)
    platform_session_id = models.CharField(max_length=128, blank=True)
    assignment_id = models.CharField(max_length=128, blank=True)
    hit_id = models.CharField(max_length=128, blank=True)
    turk_submit_to = models.URLField(blank=True)
    token = models.CharField(max_length=64, unique=True, default=new_participant_token, editable=False)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE, db_index=True)
    is_simulated = models.BooleanField(default=False, db_index=True)
    item_order = models.JSONField(default=dict, blank=True, help_text="Item keys per page in the order shown.")
    current_page = models.CharField(max_length=20, default="consent")
    started_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(auto_now_add=True, db_index=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    attention_failed = models.BooleanField(default=False)
    consent_version = models.ForeignKey(
        "ConsentVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="participants",
        help_text="The consent text this participant agreed to.",
    )
    consented_at = models.DateTimeField(null=True, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    platform_status = models.CharField(
        max_length=32, blank=True, help_text="The submission's status on the recruiting platform (Prolific), as "
        "last read.",
    )
    platform_status_at = models.DateTimeField(null=True, blank=True)
    excluded_reason = models.TextField(
        blank=True, help_text="Why the researcher excluded this participant from analyses (empty = not excluded).",
    )
    excluded_at = models.DateTimeField(null=True, blank=True)
    excluded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")

    class Meta:
        ordering = ["study", "started_at", "pk"]
        constraints = [
            # A returning participant must find their record; the constraint closes the race between two tabs.
            models.UniqueConstraint(
                fields=["study", "platform", "external_id"],
                condition=~Q(external_id=""),
                name="unique_participant_per_platform_id",
            )
        ]
        indexes = [models.Index(fields=["study", "condition", "status"])]

    def __str__(self) -> str:
        return f"participant {self.pk} of {self.study.slug} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.COMPLETED, self.Status.FAILED_ATTENTION, self.Status.SCREENED_OUT)

    @property
    def is_excluded(self) -> bool:
        return bool(self.excluded_reason)


class Response(models.Model):
    """The current answer of one participant to one item (history in ResponseRevision)."""

    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="responses")
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="responses")
    value_int = models.SmallIntegerField(null=True, blank=True)
    value_text = models.TextField(blank=True, max_length=FREE_TEXT_MAX_LENGTH)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["participant", "item__page", "item__order"]
        constraints = [models.UniqueConstraint(fields=["participant", "item"], name="unique_response_per_item")]

    def __str__(self) -> str:
        value = self.value_int if self.value_int is not None else self.value_text[:30]
        return f"{self.participant_id}:{self.item.key}={value}"


class ResponseRevision(models.Model):
    """Append-only history: every value a participant gave, so a changed answer is never silently lost."""

    response = models.ForeignKey(Response, on_delete=models.CASCADE, related_name="revisions")
    value_int = models.SmallIntegerField(null=True, blank=True)
    value_text = models.TextField(blank=True)
    page = models.CharField(max_length=20, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["response", "created_at", "pk"]


class PageVisit(models.Model):
    """Time a participant spent on one page view (server clock: from rendering to the next submit)."""

    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="page_visits")
    page = models.CharField(max_length=20)
    entered_at = models.DateTimeField()
    left_at = models.DateTimeField(null=True, blank=True)
    seconds = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["participant", "entered_at", "pk"]
        constraints = [
            # A reload continues the open visit of a page: opening one is a single INSERT that this index
            # turns into a no-op when the page is already open (services.page_visit_open).
            models.UniqueConstraint(fields=["participant", "page"], condition=models.Q(left_at__isnull=True),
                                    name="one_open_visit_per_page"),
        ]


class ConsentVersion(models.Model):
    """One wording of a study's consent text. A launched study's consent is never edited in place: a new
    version supersedes it, and each participant keeps the version they agreed to."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="consent_versions")
    number = models.PositiveIntegerField()
    text = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["study", "number"]
        constraints = [models.UniqueConstraint(fields=["study", "number"], name="unique_consent_version_number")]

    def __str__(self) -> str:
        return f"{self.study.slug} consent v{self.number}"


class AuditEntry(models.Model):
    """What was done to a launched study or its data, by whom and when; never the participants' data itself
    (a deletion records how many rows of which kind went, not their content)."""

    class Action(models.TextChoices):
        PARTICIPANT_DELETED = "participant_deleted", "Participant data deleted (data-protection request)"
        PARTICIPANT_WITHDREW = "participant_withdrew", "Participant withdrew"
        WORDING_FIXED = "wording_fixed", "Typo fixed in a launched study"
        CONSENT_SUPERSEDED = "consent_superseded", "Consent superseded by a new version"
        PLATFORM_ACTION = "platform_action", "Action sent to the recruiting platform"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="audit_entries")
    action = models.CharField(max_length=32, choices=Action.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["study", "created_at", "pk"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.study.slug}: {self.action} at {self.created_at:%Y-%m-%d %H:%M}"
