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

from studies.simulation import BotStuck, bot_plans, bots_run
from studies.simulation.bot import Bot, BotPlan
from studies.simulation.pages import ParsedPage
from studies.simulation.registry import ParticipantRegistry
from studies.simulation.runner import SimulationReport, simulation_validate
from studies.simulation.spec import StudySpec
from studies.simulation.transports import REDIRECT_STATUSES, ClientTransport, RequestsTransport

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
        for name, share in {**self.accuracy, "(otherwise)": self.otherwise}.items():
            if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0.0 <= share <= 1.0:
                raise ValueError(f"Accuracy of {name!r} must lie between 0 and 1, not {share!r}.")

    def answer(self, item: ShownItem, *, fail_attention: bool, rng: random.Random) -> str:
        wrong = [choice for choice in item.choices if choice != item.ground_truth]
        if item.is_attention:
            return rng.choice(wrong) if fail_attention and wrong else item.ground_truth
        if not item.ground_truth:
            return rng.choice(item.choices)
        share = self.accuracy.get(item.subcategory, self.otherwise)
        return item.ground_truth if rng.random() < share or not wrong else rng.choice(wrong)


class AnnotationRegistry(ParticipantRegistry):
    def condition_of(self, token: str) -> str:
        return "annotation"  # annotation participants have no condition

    def item_at(self, token: str, position: int) -> ShownItem:
        from .models import AnnotationAllocation

        allocation = (AnnotationAllocation.objects.select_related("item__task")
                      .filter(participant__token=token, participant__study__slug=self.study_slug, position=position)
                      .first())
        if allocation is None:
            raise BotStuck(f"the annotate page shows item {position}, which is not allocated to this participant")
        item = allocation.item
        return ShownItem(choices=tuple(item.choice_keys()), ground_truth=item.ground_truth,
                         subcategory=item.subcategory, is_attention=item.is_attention)


class AnnotationBot(Bot):
    policy: AnnotationPolicy

    @property
    def request_budget(self) -> int:
        return 40 + 3 * 200  # a few requests per item on top of the shared pages

    def _walk(self, result) -> None:
        while True:
            if result.location and not self._is_internal(result.location):
                self._finish_external(result)
                return
            name, page = self._expect_page(result, context="page view")
            if name == "complete":
                self._finish_page(page)
                return
            form = page.post_form()
            if form is None or not form.hidden("csrfmiddlewaretoken"):
                raise BotStuck(f"page {name!r} offers no form with a CSRF token ({page.heading!r})")
            data = {"csrfmiddlewaretoken": form.hidden("csrfmiddlewaretoken")}
            if name == "consent":
                self._require_button(name, form, "consent", "yes")
                data["consent"] = "yes"
            elif name == "annotate":
                if self.plan.abandon_at is not None and self.rng.random() < self.plan.abandon_at:
                    self.outcome.status, self.outcome.abandoned_on = "abandoned", name
                    return
                data.update(self._vote(page))
            else:
                self._require_button(name, form, "action", "next")
                data["action"] = "next"
            if self.before_submit is not None:
                self.before_submit(name)
            posted = self._request("POST", result.url, data=data, referer=result.url)
            if posted.status not in REDIRECT_STATUSES:
                raise BotStuck(f"submitting page {name!r} was refused with HTTP {posted.status}")
            result = self._follow(posted, context=f"after page {name!r}")

    def _vote(self, page: ParsedPage) -> dict[str, str]:
        form = page.post_form()
        position = form.hidden("position")
        if not position or not position.isdigit():
            raise BotStuck("the annotate page has no item position")
        item = self.registry.item_at(self.token, int(position))
        offered = sorted(value for button, value in form.buttons if button == "choice")
        if offered != sorted(item.choices):
            raise BotStuck(f"item {position} offers the answers {offered}, expected {sorted(item.choices)}")
        choice = self.policy.answer(item, fail_attention=self.plan.fail_attention, rng=self.rng)
        self.outcome.sent[position] = choice
        return {"position": position, "choice": choice}


def annotation_simulation_run(*, study, n: int, policy: AnnotationPolicy | None = None, base_url: str | None = None,
                              abandon_share: float = 0.0, attention_fail_share: float = 0.0, seed: int = 0,
                              concurrency: int = 1, progress=None) -> SimulationReport:
    """Run n simulated annotators through ``study`` (in-process, or against ``base_url``) and report."""
    from django.conf import settings

    simulation_validate(n=n, abandon_share=abandon_share, attention_fail_share=attention_fail_share,
                        concurrency=concurrency)
    spec = StudySpec(slug=study.slug, platform=study.platform, completion_code=study.completion_code,
                     attention_fail_code=study.attention_fail_code, conditions=(), items=())
    registry = AnnotationRegistry(study.slug)
    policy = policy or AnnotationPolicy()
    plans = bot_plans(n, seed=seed, abandon_share=abandon_share, attention_fail_share=attention_fail_share)

    def make_bot(plan: BotPlan) -> AnnotationBot:
        transport = RequestsTransport(base_url) if base_url else ClientTransport()
        return AnnotationBot(plan=plan, spec=spec, policy=policy, transport=transport, registry=registry,
                             completion_base_url=settings.PROLIFIC_COMPLETION_BASE_URL)

    outcomes, elapsed = bots_run(plans, make_bot, concurrency=concurrency, progress=progress)
    return SimulationReport(outcomes=outcomes, elapsed_s=elapsed)
