"""Reads of the studies app: fill counts for assignment, the pages and items a participant sees."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Case, Count, IntegerField, Q, QuerySet, Value, When
from django.utils import timezone

from studyserver.compiled_lookup import CompiledLookup

from .models import Condition, Item, PageVisit, Participant, Response, Study
from .structure import row_copy, study_structure

#: Every page of the participant flow, in order. Question pages without items are skipped per participant.
PAGE_SEQUENCE = ("consent", "instructions", "stimulus", "satisfaction", "free_text", "complete")
QUESTION_PAGES = (Item.Page.STIMULUS, Item.Page.SATISFACTION, Item.Page.FREE_TEXT)


def item_page_rank() -> Case:
    """An item's page as its position in the participant's flow (for ordering; page names sort otherwise)."""
    return Case(*(When(page=page, then=Value(position)) for position, page in enumerate(PAGE_SEQUENCE)),
                default=Value(len(PAGE_SEQUENCE)), output_field=IntegerField())


def items_in_presentation_order(*, study: Study) -> QuerySet[Item]:
    """The study's items in the order participants meet them: page by page (stimulus, satisfaction, free
    text), then by their configured order (a participant's shuffled order aside)."""
    return Item.objects.filter(study=study).annotate(page_rank=item_page_rank()).order_by("page_rank", "order", "pk")


def study_list_for_user(*, user) -> QuerySet[Study]:
    """Studies a researcher may see: their own; every study for superusers."""
    if not user.is_authenticated:
        return Study.objects.none()
    studies = Study.objects.select_related("owner")
    return studies if user.is_superuser else studies.filter(owner=user)


def active_cutoff(now: datetime | None = None) -> datetime:
    now = now or timezone.now()
    return now - timedelta(minutes=settings.ASSIGNMENT_ACTIVE_CUTOFF_MINUTES)


def condition_fill_counts(*, study: Study, now: datetime | None = None, is_simulated: bool = False) -> dict[int, int]:
    """Places taken per condition: completed participants plus those active within the cutoff.

    Returned, timed-out, declined, attention-failed and excluded participants free their place, so recruiting
    platforms that refill such places keep the conditions balanced in completions (psiTurk's rule).
    Real and simulated participants are balanced separately: a simulation run never takes real places.
    """
    taken = (Q(participants__status=Participant.Status.COMPLETED) | Q(
        participants__status=Participant.Status.ACTIVE, participants__last_seen_at__gte=active_cutoff(now)
    )) & Q(participants__is_simulated=is_simulated, participants__excluded_reason="")
    rows = (  # .order_by(): the default ordering would join the study and group by its columns
        Condition.objects.filter(study=study).order_by()
        .annotate(taken=Count("participants", filter=taken))
        .values_list("pk", "taken")
    )
    return dict(rows)


def condition_completed_counts(*, study: Study, include_simulated: bool = True) -> dict[str, int]:
    done = Q(participants__status=Participant.Status.COMPLETED)
    if not include_simulated:
        done &= Q(participants__is_simulated=False)
    rows = Condition.objects.filter(study=study).annotate(done=Count("participants", filter=done))
    return {row.slug: row.done for row in rows}


def study_is_full(*, study: Study, now: datetime | None = None, is_simulated: bool = False) -> bool:
    if study.target_per_condition is None:
        return False
    counts = condition_fill_counts(study=study, now=now, is_simulated=is_simulated)
    return bool(counts) and min(counts.values()) >= study.target_per_condition


def study_has_responses(*, study: Study) -> bool:
    return Response.objects.filter(item__study=study).exists()


def participant_by_token(*, study_slug: str, token: str) -> Participant | None:
    """The participant of a study by their (unsigned) token, with their study and condition; None if unknown.

    Every participant request starts here, so it reads one row by the unique token: the study and condition
    rows come from this process's copy of the study's structure (studies/structure.py), the stimulus grid
    only where a page asks for it."""
    participant = _PARTICIPANT_BY_TOKEN.get(token)
    if participant is None:
        return None
    structure = study_structure(study_id=participant.study_id)
    if structure.study is None or structure.study.slug != study_slug:
        return None
    participant.study = row_copy(structure.study)
    condition = structure.condition_row(participant.condition_id)
    if condition is not None:  # else read on first access (a condition added a moment ago elsewhere)
        participant.condition = condition
    return participant


#: The participant's row by token; its SQL compiled once per process (studyserver/compiled_lookup.py).
_PARTICIPANT_BY_TOKEN = CompiledLookup(lambda token: Participant.objects.filter(token=token).order_by()[:1])


def participant_items(*, participant: Participant, page: str | None = None) -> QuerySet[Item]:
    """Items this participant answers (shared items plus those of their condition), optionally of one page."""
    items = Item.objects.filter(study_id=participant.study_id).filter(
        Q(condition__isnull=True) | Q(condition_id=participant.condition_id)
    )
    if page is not None:
        items = items.filter(page=page)
    return items.order_by("order", "pk")


def participant_page_items(*, participant: Participant, page: str) -> list[Item]:
    """Items of one page in the order this participant was shown them (stored at assignment).

    Read from the study's structure cached in this process (studies/structure.py): treat them as read-only."""
    items = study_structure(study_id=participant.study_id).items_for(condition_id=participant.condition_id, page=page)
    stored = (participant.item_order or {}).get(page)
    if not stored:
        return items
    position = {key: index for index, key in enumerate(stored)}
    # Items added after assignment go last, in their configured order.
    return sorted(items, key=lambda item: position.get(item.key, len(position) + item.order))


def participant_pages(*, participant: Participant) -> list[str]:
    """The pages this participant goes through: question pages without items are left out."""
    structure = study_structure(study_id=participant.study_id)
    pages_with_items = {item.page for item in structure.items_for(condition_id=participant.condition_id)}
    return [
        page
        for page in PAGE_SEQUENCE
        if page not in QUESTION_PAGES or page == Item.Page.STIMULUS or page in pages_with_items
    ]


def participant_answers(*, participant: Participant) -> dict[str, Any]:
    """Current answers keyed by item key (ints for scaled items, text for free text)."""
    answers: dict[str, Any] = {}
    if participant.pk is None:  # an owner's preview: nothing is stored
        return answers
    items = {item.pk: item for item in study_structure(study_id=participant.study_id).items}
    # .order_by(): the model's default ordering would join the participant, study and item tables.
    stored = (Response.objects.filter(participant=participant).order_by()
              .values_list("item_id", "value_int", "value_text"))
    for item_id, value_int, value_text in stored:
        item = items.get(item_id)
        if item is None:  # an item added in another process a moment ago: read it directly
            item = Item.objects.get(pk=item_id)
        answers[item.key] = value_text if item.kind == Item.Kind.FREE_TEXT else value_int
    return answers


def participant_seconds_on_page(*, participant: Participant, page: str, now: datetime | None = None) -> float:
    """Total time spent on a page, counting a still-open visit up to now."""
    now = now or timezone.now()
    total = 0.0
    for visit in PageVisit.objects.filter(participant=participant, page=page).order_by():
        if visit.seconds is not None:
            total += visit.seconds
        else:
            total += max((now - visit.entered_at).total_seconds(), 0.0)
    return total


def participant_list(*, study: Study) -> QuerySet[Participant]:
    return (
        Participant.objects.filter(study=study)
        .select_related("condition")
        .annotate(response_count=Count("responses"))
        .order_by("started_at", "pk")
    )
