"""Admin bases of the design apps: a researcher (staff) sees only objects of their own studies and can attach
them only to their own studies of the design."""
from __future__ import annotations

from typing import ClassVar

from django.contrib import admin

from studies import selectors


class OwnedByStudyAdmin(admin.ModelAdmin):
    """Scope the list to the researcher's studies; ``study_path`` is the lookup from the model to its study.

    Foreign keys to the study and to the design's own models named in ``own_foreign_keys`` offer only the
    researcher's studies of ``design`` (and their objects).
    """

    study_path: ClassVar[str] = "study"
    design: ClassVar[str]
    own_foreign_keys: ClassVar[tuple[str, ...]] = ()

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(**{f"{self.study_path}__owner": request.user})

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        own = selectors.study_list_for_user(user=request.user).filter(design=self.design)
        if db_field.name == "study":
            kwargs["queryset"] = own
        elif db_field.name in self.own_foreign_keys:
            kwargs["queryset"] = db_field.related_model.objects.filter(study__in=own)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ParticipantEvidenceAdmin(OwnedByStudyAdmin):
    """What participants did (allocations, answers): evidence, so read-only."""

    study_path = "participant__study"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
