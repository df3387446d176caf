"""Reads of annotation studies: progress towards k votes per item and a completion forecast."""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Max, Min, Q
from django.utils import timezone

from studies.models import Participant, Study

from .models import AnnotationItem, AnnotationVote
from .services import annotation_settings_for, item_places_taken


def _valid_votes(study: Study, *, is_simulated: bool):
    """Votes that count: on regular items, by participants who completed and passed the attention items."""
    return AnnotationVote.objects.filter(item__task__study=study, item__is_attention=False,
                                         participant__is_simulated=is_simulated,
                                         participant__status=Participant.Status.COMPLETED)


def annotation_progress(*, study: Study, is_simulated: bool = False, now: datetime | None = None) -> dict[str, Any]:
    """Votes per item, how many items have all k votes, places held by active participants, and a forecast.

    The forecast divides the votes still missing by the rate at which valid votes arrived so far (from the
    first to the latest); it is None until two votes exist.
    """
    now = now or timezone.now()
    k = annotation_settings_for(study).votes_per_item
    items = list(AnnotationItem.objects.filter(task__study=study, is_attention=False)
                 .annotate(valid=Count("votes", filter=Q(votes__participant__status=Participant.Status.COMPLETED,
                                                         votes__participant__is_simulated=is_simulated)))
                 .values_list("pk", "valid"))
    valid_per_item = dict(items)
    taken = item_places_taken(study=study, is_simulated=is_simulated, now=now)
    histogram = Counter(min(count, k) for count in valid_per_item.values())
    needed = len(valid_per_item) * k
    collected = sum(min(count, k) for count in valid_per_item.values())
    span = _valid_votes(study, is_simulated=is_simulated).aggregate(first=Min("created_at"), last=Max("created_at"))
    forecast = None
    if collected >= 2 and span["first"] and span["last"] and span["last"] > span["first"]:
        per_hour = collected / ((span["last"] - span["first"]).total_seconds() / 3600)
        remaining = needed - collected
        forecast = {"votes_per_hour": per_hour, "remaining_votes": remaining,
                    "hours_left": remaining / per_hour,
                    "expected_at": (now + timedelta(hours=remaining / per_hour)).isoformat() if remaining else None}
    return {
        "votes_per_item": k,
        "items": len(valid_per_item),
        "items_complete": sum(count >= k for count in valid_per_item.values()),
        "items_with_surplus_votes": sum(count > k for count in valid_per_item.values()),
        "votes_collected": collected,
        "votes_needed": needed,
        # Places of active participants who have not finished yet: the votes on their way.
        "places_held_by_active": sum(max(taken[pk] - count, 0) for pk, count in valid_per_item.items()),
        "items_by_votes": [{"votes": votes, "items": histogram.get(votes, 0)} for votes in range(k + 1)],
        "forecast": forecast,
    }
