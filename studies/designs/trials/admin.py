"""Admin of trials studies: setup, methods with their explanation images, the pool; trial lists read-only.

A researcher (staff) sees only objects of their own studies and can attach them only to their own trials
studies. Model validation (clean) refuses changes once participants have trial lists.
"""
from __future__ import annotations

from django.contrib import admin

from studies import selectors
from studies.designs.common.admin import OwnedByStudyAdmin, ParticipantEvidenceAdmin
from studies.models import Study

from .models import ExplanationImage, PoolImage, Trial, TrialAnswerRevision, TrialMethod, TrialSetup


class _TrialsAdmin(OwnedByStudyAdmin):
    design = Study.Design.WITHIN_SUBJECT
    own_foreign_keys = ("method", "pool_image")


@admin.register(TrialSetup)
class TrialSetupAdmin(_TrialsAdmin):
    list_display = ["study", "trials_per_participant", "min_instructions_seconds"]


class ExplanationImageInline(admin.TabularInline):
    model = ExplanationImage
    extra = 0
    fields = ["pool_image", "image"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "pool_image":
            own = selectors.study_list_for_user(user=request.user)
            kwargs["queryset"] = PoolImage.objects.filter(study__in=own)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(TrialMethod)
class TrialMethodAdmin(_TrialsAdmin):
    list_display = ["key", "name", "study", "explanation_method", "order"]
    search_fields = ["key", "name", "description"]
    raw_id_fields = ["stimulus_grid"]
    inlines = [ExplanationImageInline]


@admin.register(PoolImage)
class PoolImageAdmin(_TrialsAdmin):
    list_display = ["key", "study", "prediction", "source_index", "order"]
    search_fields = ["key", "prediction"]


class TrialAnswerRevisionInline(admin.TabularInline):
    model = TrialAnswerRevision
    extra = 0
    can_delete = False
    readonly_fields = ["question", "value", "created_at"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Trial)
class TrialAdmin(ParticipantEvidenceAdmin, _TrialsAdmin):
    """Participants' trial lists and ratings."""

    list_display = ["participant", "position", "pool_image", "first_method", "second_method", "first_rating",
                    "second_rating"]
    list_filter = ["participant__is_simulated"]
    inlines = [TrialAnswerRevisionInline]
