"""Simulated participants: bots that take a study through its real participant pages over HTTP.

Modelled on oTree's bots (see docs in shared/reference/platform-anchors.md): each bot enters through the
recruitment URL (Prolific, MTurk or plain link), and on every page parses the rendered HTML, checks that the
form offers exactly the fields it is about to submit plus the submit button, and posts them with the CSRF
token like a browser would. A bot that meets an unexpected page, a missing field, a redirect loop or an
error status stops with a `BotStuck` error naming the page, so a broken flow fails loudly instead of
producing silently wrong data.

Answers follow a per-condition response policy: weights over the scale points per condition and item. The
default follows the answer shares Sixt et al. report in Figure 4 and Figure 10 (seed_study.REPORTED_SHARES);
a JSON file can override any condition and item.

Flagging: the participant pages accept no "I am a bot" signal (deliberately: a public page must not let
anybody mark their own record as excluded data). The bots therefore run with database access next to the
server: right after entering, and before consenting (that is, before a condition is assigned and before
any answer exists), the runner marks the new record `is_simulated=True` through the ORM, finding it by the
token in the participant URL the server redirected to. Platform ids are generated with the prefix "SIM-"
so simulated records are recognisable on sight as well. Against a server on another database the runner
cannot find the record and stops with a clear error.

Minimum viewing time: when a page announces one (data-min-seconds, enforced by the server), the bot does
not sleep through it; the runner moves the start of the bot's open page visit back by that time plus a few
random seconds, so the server's check passes and the recorded page time reads as simulated viewing time.
"""
from __future__ import annotations

import json
import random
import statistics
import threading
import time
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Callable, Protocol
from urllib.parse import parse_qs, unquote, urlencode, urljoin, urlsplit

SIMULATED_ID_PREFIX = "SIM-"
#: How a reported "agree" share spreads over somewhat agree / agree / strongly agree (mirrored for disagree).
AGREE_SPLIT = (0.25, 0.45, 0.30)
MTURK_SANDBOX_SUBMIT_TO = "https://workersandbox.mturk.com"
FREE_TEXT_ANSWERS = (
    "I compared the columns from left to right and looked at what changed.",
    "Mostly the position of the arms; colour seemed to shift a little too.",
    "I was not sure; the rows looked very similar to me.",
    "The rotation of the animal changed along the rows, so I agreed with that statement.",
)
_REDIRECT_STATUSES = (301, 302, 303, 307, 308)
_MAX_REDIRECTS = 8


class PolicyError(ValueError):
    """A response policy (file) is malformed; the message says where."""


class BotStuck(Exception):
    """A simulated participant could not go on; the message names the page and what was wrong."""


# --- what the bots know about the study -------------------------------------------------------------


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


# --- response policy ------------------------------------------------------------------------------

Policy = dict[str, dict[str, tuple[float, ...]]]  # condition slug -> item key -> weights per scale point


def shares_to_weights(agree: float, neutral: float, disagree: float, points: int = 7) -> tuple[float, ...]:
    """Map (agree, neutral, disagree) shares onto a Likert scale: disagree over the lower half, neutral in
    the middle, agree over the upper half (for 7 points: AGREE_SPLIT over 5-7, mirrored over 1-3)."""
    half = points // 2
    if half == 3:
        upper = AGREE_SPLIT
    else:
        upper = tuple(1.0 / half for _ in range(half))
    weights = [disagree * w for w in reversed(upper)] + [float(neutral)] + [agree * w for w in upper]
    total = sum(weights)
    return tuple(w / total for w in weights)


def _uninformed_weights(points: int) -> tuple[float, ...]:
    """Items the policy says nothing about: a triangular distribution peaking at the neutral middle."""
    middle = points // 2
    weights = [float(middle + 1 - abs(index - middle)) for index in range(points)]
    total = sum(weights)
    return tuple(w / total for w in weights)


def policy_default(spec: StudySpec) -> Policy:
    """The seed study's reported answer shares, for every condition and item the seed names."""
    from studyserver import seed_study

    policy: Policy = {}
    scaled = spec.scaled_items()
    for condition in spec.conditions:
        per_item: dict[str, tuple[float, ...]] = {}
        for key, shares in seed_study.REPORTED_SHARES.get(condition, {}).items():
            if key in scaled and not scaled[key].is_attention_check:
                per_item[key] = shares_to_weights(*shares, points=scaled[key].scale_points)
        satisfaction = seed_study.REPORTED_SATISFACTION_SHARES.get(condition)
        satisfaction_keys = {key for key, _ in seed_study.SATISFACTION_STATEMENTS}
        if satisfaction is not None:
            for key, item in scaled.items():
                if key in satisfaction_keys and item.page == "satisfaction" and not item.is_attention_check:
                    per_item[key] = shares_to_weights(*satisfaction, points=item.scale_points)
        policy[condition] = per_item
    return policy


def policy_parse(raw: Any, spec: StudySpec, *, source: str = "policy") -> Policy:
    """Validate a policy {condition: {item key: [weight per scale point]}}; "*" stands for every condition.

    Raises PolicyError naming the offending condition, item or weight.
    """
    if not isinstance(raw, dict):
        raise PolicyError(f"{source}: expected a JSON object mapping condition slugs to items, "
                          f"got {type(raw).__name__}.")
    scaled = spec.scaled_items()
    parsed: Policy = {}
    for condition, items in raw.items():
        if condition != "*" and condition not in spec.conditions:
            raise PolicyError(f"{source}: unknown condition {condition!r}; the study {spec.slug!r} has "
                              f"{', '.join(spec.conditions) or 'no conditions'} (or use \"*\" for all).")
        if not isinstance(items, dict):
            raise PolicyError(f"{source}: condition {condition!r} must map item keys to weight lists.")
        for key, weights in items.items():
            where = f"{source}: {condition}/{key}"
            item = scaled.get(key)
            if item is None:
                raise PolicyError(f"{where}: no Likert item {key!r} in the study; scaled items are "
                                  f"{', '.join(sorted(scaled)) or 'none'}.")
            if item.is_attention_check:
                raise PolicyError(f"{where}: attention checks follow --attention-fail-share, not the policy.")
            if not isinstance(weights, list) or len(weights) != item.scale_points:
                length = len(weights) if isinstance(weights, list) else type(weights).__name__
                raise PolicyError(f"{where}: give a list of {item.scale_points} weights (one per scale point), "
                                  f"got {length}.")
            for weight in weights:
                if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight < 0 \
                        or weight != weight or weight == float("inf"):
                    raise PolicyError(f"{where}: weights must be finite non-negative numbers, got {weight!r}.")
            total = float(sum(weights))
            if total <= 0:
                raise PolicyError(f"{where}: at least one weight must be positive.")
            targets = spec.conditions if condition == "*" else (condition,)
            for target in targets:
                parsed.setdefault(target, {})[key] = tuple(w / total for w in weights)
    return parsed


def policy_load(path: str | Path, spec: StudySpec) -> Policy:
    """The default policy overridden by a JSON file (see policy_parse for the format)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise PolicyError(f"Cannot read the policy file {str(path)!r}: {error.strerror or error}.") from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        raise PolicyError(f"{path}: not valid JSON ({error.msg} at line {error.lineno}, column {error.colno}).") \
            from None
    return policy_merge(policy_default(spec), policy_parse(raw, spec, source=str(path)))


def policy_merge(base: Policy, override: Policy) -> Policy:
    merged = {condition: dict(items) for condition, items in base.items()}
    for condition, items in override.items():
        merged.setdefault(condition, {}).update(items)
    return merged


# --- reading pages --------------------------------------------------------------------------------


@dataclass
class FormField:
    name: str
    kind: str  # radio, checkbox, textarea, hidden, text, ...
    values: list[str] = field(default_factory=list)


@dataclass
class PageForm:
    method: str
    action: str
    fields: dict[str, FormField] = field(default_factory=dict)
    buttons: list[tuple[str, str]] = field(default_factory=list)  # (name, value) of submit buttons
    min_seconds: int = 0  # data-min-seconds: the page may be submitted only after this long

    def hidden(self, name: str) -> str | None:
        found = self.fields.get(name)
        return found.values[0] if found and found.kind == "hidden" and found.values else None

    def has_button(self, name: str, value: str) -> bool:
        return (name, value) in self.buttons


@dataclass
class ParsedPage:
    heading: str = ""
    forms: list[PageForm] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)  # error notices shown to the participant
    completion_code: str = ""

    def post_form(self) -> PageForm | None:
        return next((form for form in self.forms if form.method == "post"), None)


class _PageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = ParsedPage()
        self._form: PageForm | None = None
        self._capture: str | None = None  # "heading", "message", "code"
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {name: value or "" for name, value in attrs}
        classes = attr.get("class", "").split()
        if tag == "form":
            minimum = attr.get("data-min-seconds", "0")
            self._form = PageForm(method=attr.get("method", "get").lower(), action=attr.get("action", ""),
                                  min_seconds=int(minimum) if minimum.isdigit() else 0)
            self.page.forms.append(self._form)
        elif tag == "h1" and not self.page.heading:
            self._start_capture("heading")
        elif tag == "code" and "completion-code" in classes:
            self._start_capture("code")
        elif (attr.get("role") == "alert" or "error" in classes) and tag in ("p", "li", "div"):
            self._start_capture("message")
        if self._form is None:
            return
        name = attr.get("name", "")
        if tag == "input":
            kind = attr.get("type", "text").lower()
            if kind == "submit":
                self._form.buttons.append((name, attr.get("value", "")))
            elif name:
                entry = self._form.fields.setdefault(name, FormField(name=name, kind=kind))
                entry.values.append(attr.get("value", ""))
        elif tag == "textarea" and name:
            self._form.fields.setdefault(name, FormField(name=name, kind="textarea"))
        elif tag == "button" and attr.get("type", "submit").lower() == "submit":
            self._form.buttons.append((name, attr.get("value", "")))

    def _start_capture(self, what: str) -> None:
        if self._capture is None:
            self._capture, self._text = what, []

    def handle_data(self, data: str) -> None:
        if self._capture is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        ends = {"heading": ("h1",), "code": ("code",), "message": ("p", "li", "div")}
        if self._capture is not None and tag in ends[self._capture]:
            text = " ".join("".join(self._text).split())
            if self._capture == "heading":
                self.page.heading = text
            elif self._capture == "code":
                self.page.completion_code = text
            elif text:
                self.page.messages.append(text)
            self._capture = None


def page_parse(html: str) -> ParsedPage:
    parser = _PageParser()
    parser.feed(html)
    parser.close()
    return parser.page


# --- HTTP transports ------------------------------------------------------------------------------


@dataclass(frozen=True)
class HttpResult:
    status: int
    url: str  # the URL requested (path for the in-process client)
    location: str  # redirect target, "" when not a redirect
    text: str


class Transport(Protocol):
    def request(self, method: str, url: str, *, data: dict[str, str] | None = None,
                referer: str | None = None) -> HttpResult: ...


class ClientTransport:
    """In-process: django.test.Client with CSRF checks enforced, one per bot (its own cookies)."""

    def __init__(self) -> None:
        from django.conf import settings
        from django.test import Client

        public = urlsplit(settings.PUBLIC_BASE_URL)
        host = public.hostname or "testserver"
        allowed = settings.ALLOWED_HOSTS
        if "*" not in allowed and host not in allowed and f".{host}" not in allowed:
            host = "testserver" if "testserver" in allowed else (allowed[0].lstrip(".") if allowed else host)
        self._secure = public.scheme == "https"
        self._host = host
        self._client = Client(enforce_csrf_checks=True, HTTP_HOST=host)

    def request(self, method, url, *, data=None, referer=None) -> HttpResult:
        extra = {"secure": self._secure}
        if referer:
            extra["HTTP_REFERER"] = f"{'https' if self._secure else 'http'}://{self._host}{referer}"
        if method == "GET":
            response = self._client.get(url, **extra)
        else:
            response = self._client.post(url, data or {}, **extra)
        location = response.get("Location", "") if response.status_code in _REDIRECT_STATUSES else ""
        text = response.content.decode("utf-8", "replace") if not getattr(response, "streaming", False) else ""
        return HttpResult(response.status_code, url, location, text)


class RequestsTransport:
    """Against a running server: a requests.Session (cookies, the csrftoken cookie included) per bot."""

    def __init__(self, base_url: str, *, timeout: float = 30.0) -> None:
        import requests

        self.base_url = base_url.rstrip("/") + "/"
        self._session = requests.Session()
        self._session.headers["User-Agent"] = "studyserver-simulated-participant/1"
        self._timeout = timeout

    def request(self, method, url, *, data=None, referer=None) -> HttpResult:
        import requests

        absolute = urljoin(self.base_url, url)
        headers = {"Referer": urljoin(self.base_url, referer)} if referer else {}
        try:
            response = self._session.request(method, absolute, data=data, headers=headers,
                                             allow_redirects=False, timeout=self._timeout)
        except requests.RequestException as error:
            raise BotStuck(f"{method} {absolute} failed: {error}") from None
        location = response.headers.get("Location", "") if response.status_code in _REDIRECT_STATUSES else ""
        return HttpResult(response.status_code, absolute, location, response.text)


# --- one bot --------------------------------------------------------------------------------------


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
    pages: int = 0  # page views rendered (HTTP 200 HTML)
    requests: int = 0
    abandoned_on: str = ""
    error: str = ""


class ParticipantRegistry:
    """Server-side bookkeeping through the ORM: flag a new record simulated, read its assigned condition."""

    def __init__(self, study_slug: str) -> None:
        self.study_slug = study_slug

    def mark_simulated(self, token: str) -> None:
        from .models import Participant

        updated = Participant.objects.filter(study__slug=self.study_slug, token=token).update(is_simulated=True)
        if updated != 1:
            raise BotStuck(
                "entered the study, but its participant record is not in this database, so it cannot be "
                "flagged simulated: run simulate_participants with the same DATABASE_URL as the server."
            )

    def backdate_page_visit(self, token: str, page: str, seconds: float) -> None:
        """Simulated viewing time: move the open visit's start back instead of sleeping through it."""
        from datetime import timedelta

        from django.db.models import F

        from .models import PageVisit

        PageVisit.objects.filter(participant__token=token, participant__study__slug=self.study_slug, page=page,
                                 left_at__isnull=True).update(entered_at=F("entered_at") - timedelta(seconds=seconds))

    def condition_of(self, token: str) -> str:
        from .models import Participant

        slug = (Participant.objects.filter(study__slug=self.study_slug, token=token)
                .values_list("condition__slug", flat=True).first())
        if not slug:
            raise BotStuck("consented, but no condition was assigned to its participant record.")
        return slug


def _path_parts(url: str) -> list[str]:
    return [unquote(part) for part in urlsplit(url).path.split("/") if part]


class Bot:
    """One simulated participant: a loop of GET page, check the form, POST the answers, follow the redirect."""

    def __init__(self, *, plan: BotPlan, spec: StudySpec, policy: Policy, transport: Transport,
                 registry: ParticipantRegistry, completion_base_url: str) -> None:
        self.plan, self.spec, self.policy = plan, spec, policy
        self.transport, self.registry = transport, registry
        self.completion_base_url = completion_base_url
        self.rng = random.Random(plan.seed)
        self.outcome = BotOutcome(index=plan.index, external_id=plan.external_id)
        self.token = ""
        self.history: list[str] = []

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
        self.history.append(f"{method} {self._page_name(url) or urlsplit(url).path} {result.status}")
        return result

    def _page_name(self, url: str) -> str:
        parts = _path_parts(url)
        if len(parts) >= 5 and parts[0] == "s" and parts[2] == "p":
            return parts[4]
        return ""

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
        name = self._page_name(result.url)
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
        parts = _path_parts(target)
        if len(parts) < 5 or parts[2] != "p":
            raise BotStuck(f"entry {entry} redirected to {first.location}, not to a participant page")
        # The signed token is "<token>:<signature>"; the record is found by the token itself.
        self.token = parts[3].rsplit(":", 1)[0]
        self.registry.mark_simulated(self.token)
        result = self._follow(HttpResult(first.status, first.url, first.location, ""), context="entry")
        self._walk(result)

    def _walk(self, result: HttpResult) -> None:
        condition = ""
        after_consent: list[str] = []
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
            data = {"csrfmiddlewaretoken": csrf}
            if name == "consent":
                self._require_button(name, form, "consent", "yes")
                data["consent"] = "yes"
            else:
                if not condition:
                    condition = self.registry.condition_of(self.token)
                    self.outcome.condition = condition
                    after_consent = self._pages_after_consent(condition)
                if self._abandons_on(name, after_consent):
                    self.outcome.status = "abandoned"
                    self.outcome.abandoned_on = name
                    return
                self._require_button(name, form, "action", "next")
                data["action"] = "next"
                data.update(self._answers(name, condition, form))
                if form.min_seconds > 0:
                    # The server enforces a minimum viewing time; simulate it rather than wait it out.
                    self.registry.backdate_page_visit(self.token, name, form.min_seconds + self.rng.uniform(1, 20))
            posted = self._request("POST", result.url, data=data, referer=result.url)
            if posted.status not in _REDIRECT_STATUSES:
                detail = "; ".join(page_parse(posted.text).messages) if posted.text else ""
                raise BotStuck(f"submitting page {name!r} was refused with HTTP {posted.status}"
                               + (f": {detail}" if detail else ""))
            if self._is_internal(posted.location) and self._page_name(urljoin(posted.url, posted.location)) == name:
                raise BotStuck(f"submitting page {name!r} did not move on (redirected back to it)")
            result = self._follow(posted, context=f"after page {name!r}")

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
        from .views import ITEM_FIELD_PREFIX

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
            value = self._answer(item, condition)
            if value is None:
                continue
            offered_field = form.fields[field_name]
            if item.is_scaled:
                if offered_field.kind != "radio" or value not in offered_field.values:
                    raise BotStuck(f"page {name!r}: field {field_name} does not offer the choice {value} "
                                   f"(offers {offered_field.kind} {', '.join(offered_field.values)})")
            elif offered_field.kind != "textarea":
                raise BotStuck(f"page {name!r}: field {field_name} is a {offered_field.kind}, not a text box")
            answers[field_name] = value
        return answers

    def _answer(self, item: ItemSpec, condition: str) -> str | None:
        if item.kind == "free_text":
            if not item.required and self.rng.random() < 0.5:
                return None
            return self.rng.choice(FREE_TEXT_ANSWERS)
        if item.is_attention_check:
            if not self.plan.fail_attention:
                return str(item.expected_answer)
            wrong = [point for point in range(1, item.scale_points + 1) if point != item.expected_answer]
            return str(self.rng.choice(wrong))
        weights = self.policy.get(condition, {}).get(item.key) or _uninformed_weights(item.scale_points)
        return str(self.rng.choices(range(1, item.scale_points + 1), weights=weights)[0])

    def _expected_code(self) -> str:
        if self.plan.fail_attention and self.spec.attention_fail_code:
            return self.spec.attention_fail_code
        return self.spec.completion_code

    def _record_finish(self) -> None:
        self.outcome.status = "failed_attention" if self.plan.fail_attention else "completed"

    def _finish_external(self, result: HttpResult) -> None:
        """Prolific: the complete page redirects to the platform with the completion code."""
        target = result.location
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
            raise BotStuck("the complete page of a Prolific study did not redirect to Prolific")
        elif self._expected_code() and page.completion_code != self._expected_code():
            raise BotStuck(f"the complete page shows the code {page.completion_code!r}, "
                           f"expected {self._expected_code()!r}")
        self._record_finish()


def page_parse_text(html: str) -> str:
    """Visible-ish text of a page, for error messages."""
    class _Text(HTMLParser):
        def __init__(self) -> None:
            super().__init__(convert_charrefs=True)
            self.chunks: list[str] = []
            self._skip = 0

        def handle_starttag(self, tag, attrs):
            self._skip += tag in ("script", "style")

        def handle_endtag(self, tag):
            self._skip -= tag in ("script", "style") and self._skip > 0

        def handle_data(self, data):
            if not self._skip:
                self.chunks.append(data)

    parser = _Text()
    parser.feed(html or "")
    return " ".join(parser.chunks)


# --- a run of many bots ---------------------------------------------------------------------------


@dataclass
class SimulationReport:
    outcomes: list[BotOutcome]
    elapsed_s: float

    def count(self, status: str) -> int:
        return sum(outcome.status == status for outcome in self.outcomes)

    @property
    def stuck(self) -> list[BotOutcome]:
        return [outcome for outcome in self.outcomes if outcome.status == "stuck"]

    @property
    def pages(self) -> int:
        return sum(outcome.pages for outcome in self.outcomes)

    @property
    def requests(self) -> int:
        return sum(outcome.requests for outcome in self.outcomes)

    def per_condition(self) -> dict[str, Counter]:
        table: dict[str, Counter] = defaultdict(Counter)
        for outcome in self.outcomes:
            table[outcome.condition or "(none)"][outcome.status] += 1
        return dict(sorted(table.items()))

    def lines(self) -> list[str]:
        rate = self.pages / self.elapsed_s if self.elapsed_s > 0 else float("inf")
        lines = [
            f"Simulated participants: {len(self.outcomes)}",
            f"  completed: {self.count('completed')}",
            f"  failed the attention check: {self.count('failed_attention')}",
            f"  abandoned midway (left active): {self.count('abandoned')}",
            f"  stuck: {len(self.stuck)}",
            "Per condition (completed / failed attention / abandoned / stuck):",
        ]
        for condition, counts in self.per_condition().items():
            lines.append(f"  {condition}: {counts['completed']} / {counts['failed_attention']} / "
                         f"{counts['abandoned']} / {counts['stuck']}")
        lines.append(f"Elapsed: {self.elapsed_s:.2f} s, {self.pages} pages ({rate:.1f} pages/s), "
                     f"{self.requests} HTTP requests")
        if self.outcomes:
            median = statistics.median(outcome.requests for outcome in self.outcomes)
            lines.append(f"Median requests per participant: {median:g}")
        return lines


def _plans(n: int, *, seed: int, abandon_share: float, attention_fail_share: float, run_id: str) -> list[BotPlan]:
    chooser = random.Random(seed)
    indices = list(range(n))
    chooser.shuffle(indices)
    n_abandon = round(n * abandon_share)
    n_fail = round(n * attention_fail_share)
    abandoning = set(indices[:n_abandon])
    failing = set(indices[n_abandon:n_abandon + n_fail])
    return [
        BotPlan(index=index, external_id=f"{SIMULATED_ID_PREFIX}{run_id}-{index:05d}",
                abandon_at=chooser.random() if index in abandoning else None,
                fail_attention=index in failing, seed=chooser.randrange(2**32))
        for index in range(n)
    ]


def simulation_validate(*, n: int, abandon_share: float, attention_fail_share: float, concurrency: int) -> None:
    if n < 1:
        raise ValueError(f"--n must be at least 1 (got {n}).")
    for name, share in (("--abandon-share", abandon_share), ("--attention-fail-share", attention_fail_share)):
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"{name} must lie between 0 and 1 (got {share}).")
    if abandon_share + attention_fail_share > 1.0:
        raise ValueError("--abandon-share and --attention-fail-share together must not exceed 1.")
    if concurrency < 1:
        raise ValueError(f"--concurrency must be at least 1 (got {concurrency}).")


def simulation_run(
    *,
    study,
    n: int,
    policy: Policy | None = None,
    base_url: str | None = None,
    abandon_share: float = 0.0,
    attention_fail_share: float = 0.0,
    seed: int = 0,
    concurrency: int = 1,
    progress: Callable[[BotOutcome], None] | None = None,
) -> SimulationReport:
    """Run n simulated participants through `study` (in-process, or against `base_url`) and report."""
    from django.conf import settings
    from django.db import connections

    simulation_validate(n=n, abandon_share=abandon_share, attention_fail_share=attention_fail_share,
                        concurrency=concurrency)
    spec = study_spec_from(study)
    policy = policy if policy is not None else policy_default(spec)
    registry = ParticipantRegistry(spec.slug)
    plans = _plans(n, seed=seed, abandon_share=abandon_share, attention_fail_share=attention_fail_share,
                   run_id=uuid.uuid4().hex[:8])
    lock = threading.Lock()

    def run_one(plan: BotPlan) -> BotOutcome:
        transport = RequestsTransport(base_url) if base_url else ClientTransport()
        bot = Bot(plan=plan, spec=spec, policy=policy, transport=transport, registry=registry,
                  completion_base_url=settings.PROLIFIC_COMPLETION_BASE_URL)
        outcome = bot.run()
        if progress is not None:
            with lock:
                progress(outcome)
        return outcome

    def run_in_thread(plan: BotPlan) -> BotOutcome:
        try:
            return run_one(plan)
        finally:
            connections.close_all()  # this worker thread's own connections

    started = time.perf_counter()
    if concurrency == 1:
        outcomes = [run_one(plan) for plan in plans]
    else:
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            outcomes = list(pool.map(run_in_thread, plans))
    return SimulationReport(outcomes=outcomes, elapsed_s=time.perf_counter() - started)
