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

from studies.simulation import Bot, BotStuck, ResponsePolicy
from studies.simulation.pages import PageForm, participant_page_name
from studies.simulation.transports import REDIRECT_STATUSES

from .models import Trial, TrialMethod, TrialRating, TrialSetup


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


class TrialsBot(Bot):
    """One simulated participant of a trials study (see the module docstring)."""

    policy: MethodRatingPolicy

    @property
    def request_budget(self) -> int:
        return 16 + 4 * 200  # consent and instructions, then two posts and two page views per trial

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
            elif name == "instructions":
                self._require_button(name, form, "action", "next")
                data["action"] = "next"
                if form.min_seconds > 0:
                    self.registry.backdate_page_visit(self.token, name, form.min_seconds + self.rng.uniform(1, 20))
            elif name == "trials":
                data.update(self._trial_answers(form))
            else:
                raise BotStuck(f"unexpected page {name!r} in a trials study")
            posted = self._request("POST", result.url, data=data, referer=result.url)
            if posted.status not in REDIRECT_STATUSES:
                raise BotStuck(f"submitting page {name!r} was refused with HTTP {posted.status}")
            if name != "trials" and participant_page_name(posted.location or "") == name:
                raise BotStuck(f"submitting page {name!r} did not move on (redirected back to it)")
            result = self._follow(posted, context=f"after page {name!r}")

    def _trial_answers(self, form: PageForm) -> dict[str, str]:
        position = form.hidden("trial")
        if not position:
            raise BotStuck("the trial page has no hidden trial field")
        trial = (Trial.objects.select_related("first_method", "second_method")
                 .filter(participant__token=self.token, position=position).first())
        if trial is None:
            raise BotStuck(f"the trial page shows trial {position}, which is not in the stored list")
        self._require_button("trials", form, "action", "next")
        data = {"trial": position, "action": "next"}
        # Explanation 2 is on the page once Explanation 1 is rated: then only its rating is sent.
        methods: dict[str, TrialMethod] = {TrialRating.SECOND: trial.second_method} \
            if TrialRating.SECOND in form.fields else {TrialRating.FIRST: trial.first_method}
        for question, method in methods.items():
            field = form.fields.get(question)
            value = self.policy.rating(method=method.key, question=question, rng=self.rng)
            if field is None or field.kind != "radio" or value not in field.values:
                raise BotStuck(f"trial {position}: the form does not offer {question}={value}")
            data[question] = value
            self.outcome.sent[f"{position}:{question}"] = value
        return data
