"""Django admin for researchers: studies with their conditions and items inline, participants read-only.

Non-superuser researchers (staff) see and change only their own studies; the owner is set on creation.
Changes that would corrupt collected data are refused by model validation (Item.clean, Condition.clean)
and, for deletions, by the inline formsets below.
"""
from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet
from django.template.response import TemplateResponse

from explainers.models import StimulusGrid

from . import selectors, services
from .admin_forms import PAGE_TEXT_FIELD_NAMES, ConditionForm, LinesListField, PageTextsForm
from .models import Condition, Item, PageVisit, Participant, Response, Study


def _own_studies(request):
    return selectors.study_list_for_user(user=request.user)


class _ProtectedDeletionFormSet(BaseInlineFormSet):
    """Refuse inline deletions that the services refuse (items of studies with answers, used conditions)."""

    def clean(self) -> None:
        super().clean()
        for form in self.deleted_forms:
            instance = form.instance
            if instance.pk is None:
                continue
            if isinstance(instance, Item):
                problem = services.item_delete_problem(item=instance)
            else:
                problem = services.condition_delete_problem(condition=instance)
            if problem:
                raise ValidationError(f"{instance}: {problem}")


class ConditionInline(admin.StackedInline):
    model = Condition
    form = ConditionForm
    formset = _ProtectedDeletionFormSet
    extra = 0
    fieldsets = [
        (None, {"fields": [("name", "slug", "order"), "description", ("stimulus_grid", "stimulus_image"),
                           "shows_explanation", "staged_stimulus_image"]}),
        ("Page texts of this condition only (empty = the study's)", {
            "classes": ["collapse"], "fields": PAGE_TEXT_FIELD_NAMES}),
    ]
    prepopulated_fields = {"slug": ("name",)}

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "stimulus_grid" and not request.user.is_superuser:
            kwargs["queryset"] = StimulusGrid.objects.filter(owner=request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ItemInline(admin.TabularInline):
    """Items in the order participants meet them (page by page, then by "order"); renumber "order" to move one."""

    model = Item
    formset = _ProtectedDeletionFormSet
    extra = 0
    fields = ["order", "page", "key", "text", "kind", "group", "scale_points", "anchor_low", "anchor_high",
              "labels", "reverse_coded", "expected_answer", "required", "condition"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(page_rank=selectors.item_page_rank()).order_by(
            "study", "page_rank", "order", "pk")

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "labels":
            return LinesListField(label=db_field.verbose_name.capitalize())
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "condition":
            kwargs["queryset"] = Condition.objects.filter(study__in=_own_studies(request))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Study)
class StudyAdmin(admin.ModelAdmin):
    list_display = ["title", "slug", "status", "platform", "owner", "target_per_condition", "created_at",
                    "launched_at"]
    list_filter = ["status", "design", "platform", "randomize_items"]
    search_fields = ["title", "slug", "description"]
    readonly_fields = ["owner", "status", "created_at", "launched_at"]
    prepopulated_fields = {"slug": ("title",)}
    inlines = [ConditionInline, ItemInline]
    form = PageTextsForm
    actions = ["launch", "pause", "close", "duplicate", "delete_test_participants"]
    fieldsets = [
        (None, {"fields": ["title", "slug", "description", "design", "owner", "status", "created_at",
                           "launched_at"]}),
        ("Recruitment", {"fields": ["platform", "target_per_condition", "time_limit_minutes", "completion_code",
                                    "attention_fail_code"]}),
        ("Participant pages", {"fields": ["consent_text", "instructions_text", "instructions_video_url",
                                          "randomize_items", "min_stimulus_seconds"]}),
        ("Page headings, buttons and completion message (empty = the default shown in grey)", {
            "classes": ["collapse"], "fields": PAGE_TEXT_FIELD_NAMES}),
    ]

    def get_queryset(self, request):
        return _own_studies(request)

    def save_model(self, request, obj: Study, form, change: bool) -> None:
        if not change:
            obj.owner = request.user
        super().save_model(request, obj, form, change)

    def has_delete_permission(self, request, obj: Study | None = None) -> bool:
        if obj is not None and obj.participants.exists():
            return False
        return super().has_delete_permission(request, obj)

    def get_readonly_fields(self, request, obj: Study | None = None):
        # A launched study's link and consent are fixed (the consent is superseded through the API).
        fixed = ["slug", "consent_text"] if obj is not None and obj.is_launched else []
        return [*self.readonly_fields, *fixed]

    def get_prepopulated_fields(self, request, obj: Study | None = None):
        return {} if obj is not None and obj.is_launched else super().get_prepopulated_fields(request, obj)

    def save_formset(self, request, form, formset, change: bool) -> None:
        # Inline typo fixes of a launched study are logged like those made through the API.
        for inline_form in formset.forms:
            if inline_form.has_changed() and inline_form not in formset.deleted_forms and inline_form.instance.pk:
                services.wording_fixes_log(instance=inline_form.instance, actor=request.user)
        super().save_formset(request, form, formset, change)

    def _apply(self, request, queryset, service, verb: str) -> None:
        for study in queryset:
            try:
                service(study=study)
            except ValidationError as error:
                self.message_user(request, f"{study.slug}: not {verb}: {' '.join(error.messages)}", messages.ERROR)
            else:
                self.message_user(request, f"{study.slug}: {verb}.", messages.SUCCESS)

    @admin.action(description="Launch (go live)")
    def launch(self, request, queryset):
        self._apply(request, queryset, services.study_launch, "launched")

    @admin.action(description="Pause")
    def pause(self, request, queryset):
        self._apply(request, queryset, services.study_pause, "paused")

    @admin.action(description="Close")
    def close(self, request, queryset):
        self._apply(request, queryset, services.study_close, "closed")

    @admin.action(description="Duplicate as a draft (new slug <slug>-copy)")
    def duplicate(self, request, queryset):
        for study in queryset:
            try:
                copy = services.study_duplicate(study=study, slug=services.study_duplicate_slug(study=study),
                                                owner=request.user)
            except ValidationError as error:
                self.message_user(request, f"{study.slug}: not duplicated: {' '.join(error.messages)}", messages.ERROR)
            else:
                self.message_user(request, f"{study.slug}: duplicated as the draft {copy.slug!r}.", messages.SUCCESS)

    @admin.action(description="Delete test (simulated) participants of a draft")
    def delete_test_participants(self, request, queryset):
        for study in queryset:
            try:
                count = services.study_delete_test_participants(study=study)
            except ValidationError as error:
                self.message_user(request, f"{study.slug}: {' '.join(error.messages)}", messages.ERROR)
            else:
                self.message_user(request, f"{study.slug}: {count} test participant(s) deleted.", messages.SUCCESS)


class ResponseInline(admin.TabularInline):
    model = Response
    extra = 0
    can_delete = False
    fields = ["item", "value_int", "value_text", "created_at", "updated_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class PageVisitInline(admin.TabularInline):
    model = PageVisit
    extra = 0
    can_delete = False
    fields = ["page", "entered_at", "left_at", "seconds"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Participant)
class ParticipantAdmin(admin.ModelAdmin):
    list_display = ["pk", "study", "condition", "status", "is_simulated", "platform", "current_page",
                    "started_at", "completed_at", "attention_failed", "excluded_reason"]
    list_filter = ["status", "is_simulated", "platform", "attention_failed", ("study", admin.RelatedOnlyFieldListFilter)]
    inlines = [ResponseInline, PageVisitInline]
    readonly_fields = [
        "study", "condition", "platform", "external_id", "platform_study_id", "platform_session_id",
        "assignment_id", "hit_id", "turk_submit_to", "status", "is_simulated", "item_order", "current_page",
        "started_at", "last_seen_at", "completed_at", "attention_failed", "excluded_reason", "excluded_by",
        "excluded_at",
    ]
    fields = readonly_fields
    actions = ["exclude_from_analyses", "include_again"]

    def get_queryset(self, request):
        return Participant.objects.filter(study__in=_own_studies(request)).select_related("study", "condition")

    @admin.action(description="Exclude from analyses (asks for the reason)")
    def exclude_from_analyses(self, request, queryset):
        """An intermediate page asks for the reason; without one nothing changes."""
        if "apply" in request.POST:
            reason = request.POST.get("reason", "")
            try:
                for participant in queryset:
                    services.participant_exclude(participant=participant, reason=reason, by=request.user)
            except ValidationError as error:
                self.message_user(request, f"Nobody was excluded: {' '.join(error.messages)}", messages.ERROR)
            else:
                self.message_user(request, f"{queryset.count()} participant(s) excluded: {reason.strip()}",
                                  messages.SUCCESS)
            return None
        return TemplateResponse(request, "studies/admin/exclude_participants.html", {
            **self.admin_site.each_context(request), "title": "Exclude participants from analyses",
            "participants": queryset, "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME, "opts": self.model._meta,
        })

    @admin.action(description="Include again (take the exclusion back)")
    def include_again(self, request, queryset):
        for participant in queryset:
            services.participant_include(participant=participant)
        self.message_user(request, f"{queryset.count()} participant(s) count again.", messages.SUCCESS)

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
