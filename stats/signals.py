"""The analysis plan is frozen when a study is launched.

The studies app launches studies without knowing about plans (stats imports studies, never the reverse),
so the freeze listens to Study saves: the first save that takes a study out of the draft state writes the
frozen plan version inside the same transaction. A plan that no longer fits the study raises a
ValidationError, which rolls the launch back with the reason.
"""
from __future__ import annotations

from django.db.models.signals import post_save
from django.dispatch import receiver

from studies.models import Study

from .services.plans import plan_freeze, plan_frozen


@receiver(post_save, sender=Study, dispatch_uid="stats_freeze_plan_at_launch")
def freeze_plan_at_launch(sender, instance: Study, created: bool, update_fields=None, raw: bool = False, **kwargs):
    # A study stored as live from the start (fixtures, tests) has no launch to freeze a plan at: its analyses
    # are reported as exploratory ("no plan was frozen at launch").
    if raw or created or instance.status == Study.Status.DRAFT:
        return
    if update_fields is not None and "status" not in update_fields:
        return
    if plan_frozen(study=instance) is None:
        plan_freeze(study=instance)
