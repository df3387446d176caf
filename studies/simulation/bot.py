"""One simulated participant: GET a page, check its form, POST the answers, follow the redirect.

Modelled on oTree's bots (see shared/reference/platform-anchors.md): the bot enters through the recruitment
URL (Prolific, MTurk or plain link), and on every page parses the rendered HTML, checks that the form offers
exactly the fields it is about to submit plus the submit button, and posts them with the CSRF token like a
browser would. A bot that meets an unexpected page, a missing field, a redirect loop or an error status stops
with `BotStuck` naming the page, so a broken flow fails loudly instead of producing silently wrong data.

Platform ids carry the prefix "SIM-" so simulated records are recognisable on sight as well as by their flag.

Minimum viewing time: when a page announces one (data-min-seconds, enforced by the server), the bot does not
sleep through it; the registry moves the start of the open page visit back by that time plus a few random
seconds, so the server's check passes and the recorded page time reads as simulated viewing time.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Callable, ClassVar, Protocol
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

from .errors import BotStuck
from .pages import PageForm, ParsedPage, page_parse, page_parse_text, participant_page_name, path_parts
from .policy import ResponsePolicy
from .spec import StudySpec
from .transports import REDIRECT_STATUSES, HttpResult, Transport

SIMULATED_ID_PREFIX = "SIM-"
MTURK_SANDBOX_SUBMIT_TO = "https://workersandbox.mturk.com"
_MAX_REDIRECTS = 8


@dataclass(frozen=True)
class BotPlan:
    index: int
    external_id: str
    abandon_at: float | None  # fraction of the way through the pages after consent where the bot stops
    fail_attention: bool
    seed: int


@dataclass
class BotOutcome:
    index: int
    external_id: str
    status: str = "stuck"  # completed / failed_attention / abandoned / stuck
    condition: str = ""
    token: str = ""  # of the participant record the bot created
    pages: int = 0  # page views rendered (HTTP 200 HTML)
    requests: int = 0
    sent: dict[str, str] = field(default_factory=dict)  # item key -> value of the accepted form posts
    abandoned_on: str = ""
    error: str = ""

    @property
    def finished(self) -> bool:
        return self.status in ("completed", "failed_attention")


@dataclass
class PagePost:
    """What a bot submits on one page, besides the CSRF token."""

    data: dict[str, str]
    sent: dict[str, str] = field(default_factory=dict)  # recorded in BotOutcome.sent once the server accepts it


def item_field(item_key: str) -> str:
    """The form field of an item on the participant pages."""
    from studies.views import ITEM_FIELD_PREFIX

    return ITEM_FIELD_PREFIX + item_key


class Registry(Protocol):
    def mark_simulated(self, token: str) -> None: ...

    def backdate_page_visit(self, token: str, page: str, seconds: float) -> None: ...

    def condition_of(self, token: str) -> str: ...


class Bot:
    """One simulated participant: a loop of GET page, check the form, POST the answers, follow the redirect.

    `before_submit(page)`, when given, runs before each page's POST (tests inject faults there). A study
    design's bot overrides `page_post` for the pages it renders itself; consent, the redirects, the checks of
    every post and the completion stay here.
    """

    #: Pages that legitimately answer a post with themselves again (one item or trial per view).
    repeating_pages: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *, plan: BotPlan, spec: StudySpec, policy: ResponsePolicy, transport: Transport,
                 registry: Registry, completion_base_url: str,
                 before_submit: Callable[[str], None] | None = None) -> None:
        self.plan, self.spec, self.policy = plan, spec, policy
        self.transport, self.registry = transport, registry
        self.completion_base_url = completion_base_url
        self.before_submit = before_submit
        self.rng = random.Random(plan.seed)
        self.outcome = BotOutcome(index=plan.index, external_id=plan.external_id)
        self.token = ""
        self.history: list[str] = []
        self._condition = ""
        self._after_consent: list[str] = []

    # The number of requests a participant needs is small and fixed; far more means a loop.
    @property
    def request_budget(self) -> int:
        return 40

    def run(self) -> BotOutcome:
        try:
            self._run()
        except BotStuck as stuck:
            self._stuck(str(stuck))
        except Exception as error:  # a server error raised through the in-process client, a database error
            self._stuck(f"unexpected {type(error).__name__}: {error}")
        return self.outcome

    def _stuck(self, reason: str) -> None:
        self.outcome.status = "stuck"
        trail = " -> ".join(self.history[-6:])
        self.outcome.error = f"bot {self.plan.index} ({self.plan.external_id}): {reason}" + (
            f" [last pages: {trail}]" if trail else "")

    def _request(self, method: str, url: str, *, data=None, referer=None) -> HttpResult:
        self.outcome.requests += 1
        if self.outcome.requests > self.request_budget:
            raise BotStuck(f"more than {self.request_budget} requests without finishing: a redirect loop?")
        result = self.transport.request(method, url, data=data, referer=referer)
        self.history.append(f"{method} {participant_page_name(url) or urlsplit(url).path} {result.status}")
        return result

    def _is_internal(self, url: str) -> bool:
        parts = urlsplit(url)
        if not parts.netloc:
            return True
        base = getattr(self.transport, "base_url", None)
        return bool(base) and parts.netloc == urlsplit(base).netloc

    def _follow(self, result: HttpResult, *, context: str) -> HttpResult:
        """Follow redirects inside the site; stop at a page or at a redirect leaving it (Prolific)."""
        seen: list[str] = []
        while result.location and self._is_internal(result.location):
            target = urljoin(result.url, result.location)
            if target in seen or len(seen) >= _MAX_REDIRECTS:
                raise BotStuck(f"{context}: redirect loop through {', '.join(seen + [target])}")
            seen.append(target)
            result = self._request("GET", target)
        return result

    def _expect_page(self, result: HttpResult, *, context: str) -> tuple[str, ParsedPage]:
        if result.location:
            raise BotStuck(f"{context}: unexpectedly redirected away from the study to {result.location}")
        page = page_parse(result.text) if result.text else ParsedPage()
        if result.status != 200:
            detail = "; ".join(page.messages) or page.heading or result.text[:200].strip()
            raise BotStuck(f"{context}: HTTP {result.status} on {result.url}" + (f" ({detail})" if detail else ""))
        self.outcome.pages += 1
        name = participant_page_name(result.url)
        if not name:
            heading = page.heading or "no heading"
            raise BotStuck(f"{context}: expected a participant page, got {result.url} ({heading!r})")
        return name, page

    # -- the flow --

    def _entry_query(self) -> dict[str, str]:
        pid = self.plan.external_id
        if self.spec.platform == "prolific":
            return {"PROLIFIC_PID": pid, "STUDY_ID": f"{SIMULATED_ID_PREFIX}STUDY-{self.spec.slug}"[:128],
                    "SESSION_ID": f"{SIMULATED_ID_PREFIX}SESSION-{pid[len(SIMULATED_ID_PREFIX):]}"}
        if self.spec.platform == "mturk":
            return {"workerId": pid, "assignmentId": f"{SIMULATED_ID_PREFIX}A-{pid[len(SIMULATED_ID_PREFIX):]}",
                    "hitId": f"{SIMULATED_ID_PREFIX}HIT", "turkSubmitTo": MTURK_SANDBOX_SUBMIT_TO}
        return {}

    def _run(self) -> None:
        query = self._entry_query()
        entry = f"/s/{self.spec.slug}/" + (f"?{urlencode(query)}" if query else "")
        first = self._request("GET", entry)
        if not first.location:
            page = page_parse(first.text) if first.text else ParsedPage()
            detail = page.heading + (": " + "; ".join(page.messages) if page.messages else "")
            body = " ".join(page_parse_text(first.text).split())[:200]
            raise BotStuck(f"entry {entry} answered HTTP {first.status} instead of starting the study "
                           f"({detail or body})")
        target = urljoin(first.url, first.location)
        parts = path_parts(target)
        if len(parts) < 5 or parts[2] != "p":
            raise BotStuck(f"entry {entry} redirected to {first.location}, not to a participant page")
        # The signed token is "<token>:<signature>"; the record is found by the token itself.
        self.token = self.outcome.token = parts[3].rsplit(":", 1)[0]
        self.registry.mark_simulated(self.token)
        result = self._follow(HttpResult(first.status, first.url, first.location, ""), context="entry")
        self._walk(result)

    def _walk(self, result: HttpResult) -> None:
        while True:
            if result.location and not self._is_internal(result.location):
                self._finish_external(result)
                return
            name, page = self._expect_page(result, context="page view")
            if name == "complete":
                self._finish_page(page)
                return
            form = page.post_form()
            if form is None:
                raise BotStuck(f"page {name!r} offers no form to submit ({page.heading!r})")
            csrf = form.hidden("csrfmiddlewaretoken")
            if not csrf:
                raise BotStuck(f"page {name!r}: the form has no csrfmiddlewaretoken field")
            if name == "consent":
                self._require_button(name, form, "consent", "yes")
                post = PagePost({"consent": "yes"})
            else:
                post = self.page_post(name, page, form)
                if post is None:
                    self.outcome.status = "abandoned"
                    self.outcome.abandoned_on = name
                    return
            if self.before_submit is not None:
                self.before_submit(name)
            data = {"csrfmiddlewaretoken": csrf, **post.data}
            posted = self._request("POST", result.url, data=data, referer=result.url)
            if posted.status not in REDIRECT_STATUSES:
                detail = "; ".join(page_parse(posted.text).messages) if posted.text else ""
                raise BotStuck(f"submitting page {name!r} was refused with HTTP {posted.status}"
                               + (f": {detail}" if detail else ""))
            if name not in self.repeating_pages and self._is_internal(posted.location) \
                    and participant_page_name(urljoin(posted.url, posted.location)) == name:
                raise BotStuck(f"submitting page {name!r} did not move on (redirected back to it)")
            self.outcome.sent.update(post.sent)
            result = self._follow(posted, context=f"after page {name!r}")

    def page_post(self, name: str, page: ParsedPage, form: PageForm) -> PagePost | None:
        """What to submit on page `name` after consent; None: the participant abandons the study here.

        This bot answers the shared question pages; a study design's bot overrides this for its own pages.
        """
        if not self._condition:
            self._condition = self.outcome.condition = self.registry.condition_of(self.token)
            self._after_consent = self._pages_after_consent(self._condition)
        if self._abandons_on(name, self._after_consent):
            return None
        post = self.next_post(name, form)
        answers = self._answers(name, self._condition, form)
        post.data.update({item_field(key): value for key, value in answers.items()})
        post.sent.update(answers)
        return post

    def next_post(self, name: str, form: PageForm) -> PagePost:
        """The "next" button of a page, its minimum viewing time (if it announces one) simulated."""
        self._require_button(name, form, "action", "next")
        if form.min_seconds > 0:
            # The server enforces a minimum viewing time; simulate it rather than wait it out.
            self.registry.backdate_page_visit(self.token, name, form.min_seconds + self.rng.uniform(1, 20))
        return PagePost({"action": "next"})

    def _pages_after_consent(self, condition: str) -> list[str]:
        pages = ["instructions"]
        for page in ("stimulus", "satisfaction", "free_text"):
            if page == "stimulus" or self.spec.items_for(condition=condition, page=page):
                pages.append(page)
        return pages

    def _abandons_on(self, name: str, pages: list[str]) -> bool:
        if self.plan.abandon_at is None or name not in pages:
            return False
        return pages.index(name) == min(int(self.plan.abandon_at * len(pages)), len(pages) - 1)

    def _require_button(self, name: str, form: PageForm, button: str, value: str) -> None:
        if not form.has_button(button, value):
            offered = ", ".join(f"{n}={v}" for n, v in form.buttons) or "none"
            raise BotStuck(f"page {name!r} has no submit button {button}={value} (buttons: {offered})")

    def _answers(self, name: str, condition: str, form: PageForm) -> dict[str, str]:
        """{item key: value} for the page's items, after checking the form offers exactly those fields."""
        from studies.views import ITEM_FIELD_PREFIX

        items = self.spec.items_for(condition=condition, page=name)
        expected = {ITEM_FIELD_PREFIX + item.key: item for item in items}
        offered = {key for key in form.fields if key.startswith(ITEM_FIELD_PREFIX)}
        missing = sorted(set(expected) - offered)
        if missing:
            raise BotStuck(f"page {name!r} does not offer the field(s) {', '.join(missing)} the bot is about "
                           f"to submit (offered: {', '.join(sorted(offered)) or 'none'})")
        unexpected = sorted(offered - set(expected))
        if unexpected:
            raise BotStuck(f"page {name!r} offers unexpected field(s) {', '.join(unexpected)} "
                           f"(condition {condition!r} has no such item on this page)")
        answers: dict[str, str] = {}
        for field_name, item in expected.items():
            value = self.policy.answer(item, condition=condition, fail_attention=self.plan.fail_attention,
                                       rng=self.rng, participant=self.plan.index)
            if value is None:
                continue
            offered_field = form.fields[field_name]
            if item.is_scaled:
                if offered_field.kind != "radio" or value not in offered_field.values:
                    raise BotStuck(f"page {name!r}: field {field_name} does not offer the choice {value} "
                                   f"(offers {offered_field.kind} {', '.join(offered_field.values)})")
            elif offered_field.kind != "textarea":
                raise BotStuck(f"page {name!r}: field {field_name} is a {offered_field.kind}, not a text box")
            answers[item.key] = value
        return answers

    def _expected_code(self) -> str:
        if self.plan.fail_attention and self.spec.attention_fail_code:
            return self.spec.attention_fail_code
        return self.spec.completion_code

    def _record_finish(self) -> None:
        self.outcome.status = "failed_attention" if self.plan.fail_attention else "completed"

    def _finish_external(self, result: HttpResult) -> None:
        """Prolific: the complete page sends the participant to the platform with the completion code."""
        self._finish_at(result.location)

    def _finish_at(self, target: str) -> None:
        if self.spec.platform != "prolific":
            raise BotStuck(f"redirected off the site to {target}, but the study is not on Prolific")
        if not target.startswith(self.completion_base_url):
            raise BotStuck(f"finished, but redirected to {target} instead of {self.completion_base_url}")
        code = parse_qs(urlsplit(target).query).get("cc", [""])[0]
        if code != self._expected_code():
            raise BotStuck(f"finished with completion code {code!r}, expected {self._expected_code()!r}")
        self._record_finish()

    def _finish_page(self, page: ParsedPage) -> None:
        if self.spec.platform == "mturk":
            form = page.post_form()
            if form is None or not form.action.endswith("/mturk/externalSubmit") \
                    or form.hidden("assignmentId") is None:
                raise BotStuck("the complete page offers no MTurk externalSubmit form with assignmentId")
        elif self.spec.platform == "prolific":
            if not page.refresh_url:
                raise BotStuck("the complete page of a Prolific study does not send the participant to Prolific")
            if page.completion_code != self._expected_code():
                raise BotStuck(f"the complete page shows the code {page.completion_code!r}, "
                               f"expected {self._expected_code()!r}")
            self._finish_at(page.refresh_url)
            return
        elif self._expected_code() and page.completion_code != self._expected_code():
            raise BotStuck(f"the complete page shows the code {page.completion_code!r}, "
                           f"expected {self._expected_code()!r}")
        self._record_finish()
