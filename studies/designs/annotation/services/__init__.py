"""Business rules of annotation studies, one module per concern; import them from here.

- configuration.py: settings (k, items per participant), tasks, items and images, launch checks;
- allocation.py: handing out items so that each collects exactly k votes from distinct participants;
- voting.py: storing write-once votes and completing the participant.
"""
from .allocation import allocations_refresh, annotation_allocate, item_places_taken
from .configuration import (
    annotation_item_create,
    annotation_item_update,
    annotation_launch_problems,
    annotation_settings_for,
    annotation_settings_save,
    annotation_task_create,
    annotation_task_update,
    item_image_problem,
)
from .voting import (
    ANNOTATE_PAGE,
    VoteConflict,
    VoteOutcome,
    allocation_show,
    allocations_open,
    annotation_finish,
    attention_failed,
    vote_submit,
)

__all__ = [
    "ANNOTATE_PAGE", "VoteConflict", "VoteOutcome", "allocation_show", "allocations_open", "allocations_refresh",
    "annotation_allocate", "annotation_finish", "annotation_item_create", "annotation_item_update",
    "annotation_launch_problems", "annotation_settings_for", "annotation_settings_save", "annotation_task_create",
    "annotation_task_update", "attention_failed", "item_image_problem", "item_places_taken", "vote_submit",
]
