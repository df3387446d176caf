"""Simulated participants of a trials study: a rating policy per method and a bot that walks the trial pages.

The bot is the platform's simulated participant (studies.simulation.Bot: real HTTP requests, forms parsed and
checked, CSRF tokens) with this design's pages: consent, the instructions (their minimum reading time simulated
by back-dating the page visit, as the generic bot does), then per trial the Explanation 1 rating, the revealed
Explanation 2 and its rating. Which methods a trial shows is anonymous on the page ("Explanation 1/2"), so the
bot reads them from the stored trial list, as the generic bot reads its condition.
"""
from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from studies.simulation import Bot, BotStuck, PolicyError, ResponsePolicy
from studies.simulation.bot import PagePost
from studies.simulation.pages import PageForm, ParsedPage

from .models import Trial, TrialMethod, TrialRating, TrialSetup
from .services import INSTRUCTIONS_PAGE, TRIALS_PAGE


def _peaked(points: int, mean: float) -> tuple[float, ...]:
    """Weights over 1..points falling off around ``mean`` (a discretised bell)."""
    weights = [2.0 ** -abs(point - mean) for point in range(1, points + 1)]
    total = sum(weights)
    return tuple(w / total for w in weights)


class MethodRatingPolicy(ResponsePolicy):
    """Ratings drawn per method and question: weights over the scale points (default: peaked at the middle).

    ``means`` maps a method key to the mean rating (per question or one for both) a population gives it, e.g.
    {"cem": 4.0, "lime": 3.0} — the paper's Figure 3 shows CEM-MAF rated slightly above LIME and Grad-CAM.
    """

    def __init__(self, *, points: Mapping[str, int], means: Mapping[str, float | Mapping[str, float]] | None = None):
        super().__init__({})
        self.points = dict(points)
        self.means = dict(means or {})

    def rating(self, *, method: str, question: str, rng: random.Random) -> str:
        points = self.points[question]
        mean = self.means.get(method, (points + 1) / 2)
        if isinstance(mean, Mapping):
            mean = mean.get(question, (points + 1) / 2)
        return str(rng.choices(range(1, points + 1), weights=_peaked(points, float(mean)))[0])


def policy_for(study, means: Mapping[str, float] | None = None) -> MethodRatingPolicy:
    setup = TrialSetup.objects.get(study=study)
    return MethodRatingPolicy(points={TrialRating.FIRST: setup.first_points, TrialRating.SECOND: setup.second_points},
                              means=means)


def policy_from_json(study, raw: Any, *, source: str) -> MethodRatingPolicy:
    """The policy of a JSON object {"means": {"<method key>": mean rating, or {"first"/"second": mean}}}."""
    if not isinstance(raw, dict) or set(raw) != {"means"} or not isinstance(raw["means"], dict):
        raise PolicyError(f'{source}: expected a JSON object {{"means": {{"<method key>": mean rating}}}}.')
    policy = policy_for(study)
    methods = set(TrialMethod.objects.filter(study=study).values_list("key", flat=True))
    for method, mean in raw["means"].items():
        if method not in methods:
            raise PolicyError(f"{source}: unknown method {method!r}; the study has {', '.join(sorted(methods))}.")
        per_question = mean if isinstance(mean, dict) else {question: mean for question in policy.points}
        for question, value in per_question.items():
            points = policy.points.get(question)
            if points is None:
                raise PolicyError(f"{source}: {method}: unknown question {question!r} (first or second).")
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 1 <= value <= points:
                raise PolicyError(f"{source}: {method}/{question}: the mean must lie between 1 and {points}, "
                                  f"not {value!r}.")
    policy.means = dict(raw["means"])
    return policy


class TrialsBot(Bot):
    """One simulated participant of a trials study (see the module docstring)."""

    policy: MethodRatingPolicy
    repeating_pages = (TRIALS_PAGE,)

    @property
    def request_budget(self) -> int:
        return 16 + 4 * 200  # consent and instructions, then two posts and two page views per trial

    def page_post(self, name: str, page: ParsedPage, form: PageForm) -> PagePost:
        if name == INSTRUCTIONS_PAGE:
            return self.next_post(name, form)
        if name == TRIALS_PAGE:
            return self._trial_post(form)
        raise BotStuck(f"unexpected page {name!r} in a trials study")

    def _trial_post(self, form: PageForm) -> PagePost:
        position = form.hidden("trial")
        if not position:
            raise BotStuck("the trial page has no hidden trial field")
        trial = (Trial.objects.select_related("first_method", "second_method")
                 .filter(participant__token=self.token, position=position).first())
        if trial is None:
            raise BotStuck(f"the trial page shows trial {position}, which is not in the stored list")
        self._require_button(TRIALS_PAGE, form, "action", "next")
        post = PagePost({"trial": position, "action": "next"})
        # Explanation 2 is on the page once Explanation 1 is rated: then only its rating is sent.
        methods: dict[str, TrialMethod] = {TrialRating.SECOND: trial.second_method} \
            if TrialRating.SECOND in form.fields else {TrialRating.FIRST: trial.first_method}
        for question, method in methods.items():
            field = form.fields.get(question)
            value = self.policy.rating(method=method.key, question=question, rng=self.rng)
            if field is None or field.kind != "radio" or value not in field.values:
                raise BotStuck(f"trial {position}: the form does not offer {question}={value}")
            post.data[question] = value
            post.sent[f"{position}:{question}"] = value
        return post
