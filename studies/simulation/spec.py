"""What the bots know about the study: the part of its definition they need, read once before a run."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ItemSpec:
    key: str
    kind: str
    page: str
    scale_points: int
    expected_answer: int | None
    required: bool
    condition: str | None  # condition slug for condition-specific items, None for shared ones

    @property
    def is_scaled(self) -> bool:
        return self.kind in ("likert", "attention_check")

    @property
    def is_attention_check(self) -> bool:
        return self.kind == "attention_check"


@dataclass(frozen=True)
class StudySpec:
    """The part of a study definition a bot needs, read once from the database before the run."""

    slug: str
    platform: str
    completion_code: str
    attention_fail_code: str
    conditions: tuple[str, ...]
    items: tuple[ItemSpec, ...]

    def items_for(self, *, condition: str, page: str) -> list[ItemSpec]:
        return [item for item in self.items if item.page == page and item.condition in (None, condition)]

    def scaled_items(self) -> dict[str, ItemSpec]:
        return {item.key: item for item in self.items if item.is_scaled}


def study_spec_from(study) -> StudySpec:
    return StudySpec(
        slug=study.slug,
        platform=study.platform,
        completion_code=study.completion_code,
        attention_fail_code=study.attention_fail_code,
        conditions=tuple(study.conditions.order_by("order", "pk").values_list("slug", flat=True)),
        items=tuple(
            ItemSpec(key=item.key, kind=item.kind, page=item.page, scale_points=item.scale_points,
                     expected_answer=item.expected_answer, required=item.required,
                     condition=item.condition.slug if item.condition_id else None)
            for item in study.items.select_related("condition").order_by("page", "order", "pk")
        ),
    )
