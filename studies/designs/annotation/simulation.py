"""Simulated annotators: bots that take an annotation study through its real pages, answering by item difficulty.

The bot is the studies.simulation Bot (entry through the recruitment URL, CSRF, redirects, completion codes)
with the annotate page added: it reads the item's position from the form, checks that the form offers the
answers the item has (one image button per image of a pair, one button per answer otherwise), and clicks
one. Which one follows ``AnnotationPolicy``: the correct answer with the accuracy of the item's subcategory
(easy pairs more often than hard ones, as in Table 5 of Singla et al. 2020), another answer otherwise.
The item behind a position is read next to the server through the ORM, like the between-group bot reads
its condition.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from studies.simulation import Bot, BotStuck, PolicyError
from studies.simulation.bot import PagePost
from studies.simulation.pages import PageForm, ParsedPage

from .services import ANNOTATE_PAGE

#: Share of correct answers per subcategory by default: Table 5's easy / hard pairs (Task-1, age).
DEFAULT_ACCURACY = {"easy": 0.94, "hard": 0.73}
DEFAULT_ACCURACY_OTHERWISE = 0.8


@dataclass(frozen=True)
class ShownItem:
    choices: tuple[str, ...]
    ground_truth: str
    subcategory: str
    is_attention: bool


@dataclass
class AnnotationPolicy:
    """The chance of answering correctly per item subcategory (the item's difficulty)."""

    accuracy: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_ACCURACY))
    otherwise: float = DEFAULT_ACCURACY_OTHERWISE

    def __post_init__(self) -> None:
        if not isinstance(self.accuracy, dict):
            raise ValueError("accuracy must map subcategories to shares of correct answers.")
        for name, share in {**self.accuracy, "(otherwise)": self.otherwise}.items():
            if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0.0 <= share <= 1.0:
                raise ValueError(f"Accuracy of {name!r} must lie between 0 and 1, not {share!r}.")

    @classmethod
    def from_json(cls, raw: Any, *, source: str) -> "AnnotationPolicy":
        """The policy of a JSON object {"accuracy": {"<subcategory>": share correct}, "otherwise": share}."""
        if not isinstance(raw, dict) or set(raw) - {"accuracy", "otherwise"}:
            raise PolicyError(f'{source}: expected a JSON object with "accuracy" ({{"<subcategory>": share '
                              f'correct}}) and/or "otherwise" (share correct for any other subcategory).')
        try:
            return cls(**raw)
        except ValueError as error:
            raise PolicyError(f"{source}: {error}") from None

    def answer(self, item: ShownItem, *, fail_attention: bool, rng: random.Random) -> str:
        wrong = [choice for choice in item.choices if choice != item.ground_truth]
        if item.is_attention:
            return rng.choice(wrong) if fail_attention and wrong else item.ground_truth
        if not item.ground_truth:
            return rng.choice(item.choices)
        share = self.accuracy.get(item.subcategory, self.otherwise)
        return item.ground_truth if rng.random() < share or not wrong else rng.choice(wrong)


def allocated_item(*, study_slug: str, token: str, position: int) -> ShownItem:
    """The item the participant with ``token`` was given at ``position``, read next to the server."""
    from .models import AnnotationAllocation

    allocation = (AnnotationAllocation.objects.select_related("item__task")
                  .filter(participant__token=token, participant__study__slug=study_slug, position=position)
                  .first())
    if allocation is None:
        raise BotStuck(f"the annotate page shows item {position}, which is not allocated to this participant")
    item = allocation.item
    return ShownItem(choices=tuple(item.choice_keys()), ground_truth=item.ground_truth,
                     subcategory=item.subcategory, is_attention=item.is_attention)


class AnnotationBot(Bot):
    policy: AnnotationPolicy
    repeating_pages = (ANNOTATE_PAGE,)

    @property
    def request_budget(self) -> int:
        return 40 + 3 * 200  # a few requests per item on top of the shared pages

    def page_post(self, name: str, page: ParsedPage, form: PageForm) -> PagePost | None:
        if name != ANNOTATE_PAGE:
            return self.next_post(name, form)
        if self.plan.abandon_at is not None and self.rng.random() < self.plan.abandon_at:
            return None
        return self._vote(form)

    def _vote(self, form: PageForm) -> PagePost:
        position = form.hidden("position")
        if not position or not position.isdigit():
            raise BotStuck("the annotate page has no item position")
        item = allocated_item(study_slug=self.spec.slug, token=self.token, position=int(position))
        offered = sorted(value for button, value in form.buttons if button == "choice")
        if offered != sorted(item.choices):
            raise BotStuck(f"item {position} offers the answers {offered}, expected {sorted(item.choices)}")
        choice = self.policy.answer(item, fail_attention=self.plan.fail_attention, rng=self.rng)
        return PagePost({"position": position, "choice": choice}, sent={position: choice})
