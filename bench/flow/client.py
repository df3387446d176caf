"""The client: a browser-like form walker that no system under test wrote, and the driver of N participants."""
from __future__ import annotations

import random
import re
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from urllib.parse import urldefrag, urljoin, urlsplit

from bench.flow import FREE_TEXTS, MAX_REQUESTS_PER_PARTICIPANT

@dataclass
class Form:
    action: str
    method: str
    values: dict[str, str] = field(default_factory=dict)  # hidden and pre-filled inputs
    radios: dict[str, list[str]] = field(default_factory=dict)
    selects: dict[str, list[str]] = field(default_factory=dict)
    textareas: list[str] = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)  # name -> input type (text, number, email, ...)
    submits: list[tuple[str, str, bool]] = field(default_factory=list)  # (name, value, formnovalidate)


class PageParser(HTMLParser):
    """The forms of a page and the subresources a browser would load for it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self.assets: list[str] = []
        self._form: Form | None = None
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs_list) -> None:
        attrs = {name: (value if value is not None else "") for name, value in attrs_list}
        # Images an inline style names (a grid's sprite: --sprite-image: url(...)) load with the page.
        self.assets.extend(ref for ref in CSS_URL.findall(attrs.get("style", "")) if not ref.startswith("data:"))
        if tag == "img" and attrs.get("src"):
            self.assets.append(attrs["src"])
        elif tag == "script" and attrs.get("src"):
            self.assets.append(attrs["src"])
        elif tag == "link" and "stylesheet" in attrs.get("rel", "").split() and attrs.get("href"):
            self.assets.append(attrs["href"])
        elif tag == "form":
            self._form = Form(action=attrs.get("action", ""), method=attrs.get("method", "get").lower())
            self.forms.append(self._form)
        elif self._form is None:
            return
        elif tag == "input":
            self._input(attrs)
        elif tag == "button" and attrs.get("type", "submit").lower() == "submit":
            self._form.submits.append((attrs.get("name", ""), attrs.get("value", ""), "formnovalidate" in attrs))
        elif tag == "textarea" and attrs.get("name"):
            self._form.textareas.append(attrs["name"])
        elif tag == "select" and attrs.get("name"):
            self._select = attrs["name"]
            self._form.selects[self._select] = []
        elif tag == "option" and self._select is not None and attrs.get("value", "x") != "":
            self._form.selects[self._select].append(attrs.get("value", ""))

    def _input(self, attrs: dict[str, str]) -> None:
        kind, name = attrs.get("type", "text").lower(), attrs.get("name", "")
        if kind in ("submit", "image"):
            self._form.submits.append((name, attrs.get("value", ""), "formnovalidate" in attrs))
        elif not name or "disabled" in attrs:
            return
        elif kind == "radio":
            self._form.radios.setdefault(name, []).append(attrs.get("value", "on"))
        elif kind == "checkbox":
            if "checked" in attrs:
                self._form.values[name] = attrs.get("value", "on")
        elif kind == "hidden" or attrs.get("value"):
            self._form.values[name] = attrs.get("value", "")
        else:
            self._form.texts[name] = kind

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None


CSS_URL = re.compile(r"url\(\s*['\"]?([^'\")]+)['\"]?\s*\)")


def fill(form: Form, *, rng: random.Random, hints: dict[str, str], label: str) -> tuple[dict[str, str], dict[str, str]]:
    """(everything to POST, the answers in it): valid answers for every field, the hints where given, and
    the primary submit button (the last one that validates the form, as a participant moving on clicks)."""
    answers: dict[str, str] = {}
    for name, values in form.radios.items():
        answers[name] = hints.get(name) or rng.choice(values)
    for name, options in form.selects.items():
        answers[name] = hints.get(name) or rng.choice(options)
    for name in form.textareas:
        answers[name] = hints.get(name) or f"{rng.choice(FREE_TEXTS)} ({label})"
    for name, kind in form.texts.items():
        answers[name] = hints.get(name) or ("1" if kind in ("number", "range") else f"bench {label}")
    data = {**form.values, **answers}
    primary = [submit for submit in form.submits if not submit[2]] or form.submits
    name, value, _ = primary[-1]
    if name:
        data[name] = value
    return data, answers


@dataclass
class Timing:
    label: str
    seconds: float
    status: int  # 0: transport error


@dataclass
class CacheEntry:
    fresh_until: float
    etag: str
    last_modified: str


def freshness_seconds(headers, now: float) -> float | None:
    """Seconds a response stays fresh (RFC 9111 section 4.2), None when it must not be stored."""
    directives = {part.strip().split("=", 1)[0].lower(): part.strip().split("=", 1)[-1]
                  for part in headers.get("Cache-Control", "").split(",") if part.strip()}
    if "no-store" in directives:
        return None
    if "no-cache" in directives:
        return 0.0
    age = float(headers.get("Age", "0") or 0)
    for name in ("s-maxage", "max-age"):
        if name in directives:
            try:
                return max(0.0, float(directives[name].strip('"')) - age)
            except ValueError:
                return 0.0
    date = _http_date(headers.get("Date")) or now
    if headers.get("Expires"):
        expires = _http_date(headers["Expires"])
        return max(0.0, expires - date) if expires else 0.0
    last_modified = _http_date(headers.get("Last-Modified"))
    if last_modified:  # heuristic freshness, as browsers apply it: 10 % of the time since the last change
        return max(0.0, 0.1 * (date - last_modified))
    return 0.0


def _http_date(value: str | None) -> float | None:
    try:
        return parsedate_to_datetime(value).timestamp() if value else None
    except (TypeError, ValueError):
        return None


@dataclass
class ParticipantRecord:
    index: int
    label: str
    finished: bool = False
    sent: dict[str, str] = field(default_factory=dict)  # form field -> value of the accepted posts
    timings: list[Timing] = field(default_factory=list)
    asset_outcomes: Counter = field(default_factory=Counter)  # fetched / revalidated / cached
    errors: list[str] = field(default_factory=list)


class _Stop(Exception):
    pass


def page_name(url: str) -> str:
    """The page a URL shows, comparable across systems: its last path segment that is not a number."""
    segments = [s for s in urlsplit(url).path.split("/") if s and not s.isdigit()]
    return re.sub(r"[-_]", "", segments[-1]).lower() if segments else "root"


class Participant:
    """One participant in a fresh browser: walks from the entry URL to the end, timing every request."""

    def __init__(self, *, entry_url: str, index: int, hints: dict[str, str], seed: int, assets: bool,
                 asset_connections: int, timeout: float = 120.0) -> None:
        import requests
        from requests.adapters import HTTPAdapter

        self.entry_url = entry_url
        self.origin = urlsplit(entry_url).netloc
        self.hints = hints
        self.rng = random.Random(seed)
        self.timeout = timeout
        self.record = ParticipantRecord(index=index, label=f"BENCH{index:05d}")
        self.session = requests.Session()
        self.session.headers["User-Agent"] = "bench-flow/1 (form walker)"
        self.assets = assets
        self.asset_connections = max(1, asset_connections)
        if assets:
            adapter = HTTPAdapter(pool_connections=1, pool_maxsize=self.asset_connections)
            self.session.mount("http://", adapter)
        self.cache: dict[str, CacheEntry] = {}
        self._cache_lock = threading.Lock()

    def _request(self, method: str, url: str, label: str, data=None, headers=None):
        import requests

        started = time.perf_counter()
        try:
            response = self.session.request(method, url, data=data, headers=headers, allow_redirects=False,
                                            timeout=self.timeout)
        except requests.RequestException as error:
            self.record.timings.append(Timing(label, time.perf_counter() - started, 0))
            raise _Stop(f"{label}: {type(error).__name__}: {error}") from None
        self.record.timings.append(Timing(label, time.perf_counter() - started, response.status_code))
        if response.status_code >= 400:
            raise _Stop(f"{label}: HTTP {response.status_code} at {url}")
        return response

    def run(self) -> ParticipantRecord:
        try:
            self._walk()
        except _Stop as stop:
            self.record.errors.append(f"participant {self.record.index}: {stop}")
        except Exception as error:  # a client bug must show as an error, not vanish in a thread
            self.record.errors.append(f"participant {self.record.index}: {type(error).__name__}: {error}")
        finally:
            self.session.close()
        return self.record

    def _walk(self) -> None:
        url = self.entry_url.format(label=self.record.label)
        method, data, answers = "GET", None, {}
        entering = True  # the entry URL and the redirects before the first page
        for count in range(MAX_REQUESTS_PER_PARTICIPANT):
            started = time.perf_counter()
            response = self._request(method, url, "entry" if count == 0 else f"{method} {page_name(url)}", data=data)
            redirected = response.status_code in (301, 302, 303, 307, 308)
            if entering and count and redirected:  # e.g. oTree's /InitializeParticipant/<code>
                self.record.timings[-1].label = "entry redirect"
            if redirected:
                target = urljoin(url, response.headers.get("Location", ""))
                if method == "POST":
                    self.record.sent.update(answers)
                if urlsplit(target).netloc != self.origin:  # back to the recruiting platform: done
                    self.record.finished = True
                    return
                url, method, data, answers = target, "GET", None, {}
                continue
            if method == "POST":
                raise _Stop(f"POST {page_name(url)}: the form was not accepted (HTTP {response.status_code})")
            entering = False
            parser = PageParser()
            parser.feed(response.text)
            if self.assets:
                self._load_assets(url, parser.assets)
                self.record.timings.append(Timing(f"load {page_name(url)}", time.perf_counter() - started, 200))
            form = next((f for f in parser.forms if f.method == "post" and f.submits), None)
            if form is None:  # the completion page: nothing left to submit
                self.record.finished = True
                return
            data, answers = fill(form, rng=self.rng, hints=self.hints, label=self.record.label)
            url, method = urljoin(url, form.action) if form.action else url, "POST"
        raise _Stop(f"more than {MAX_REQUESTS_PER_PARTICIPANT} requests: a redirect loop?")

    # -- subresources, as a browser with an empty cache at the start loads them ----------------------------

    def _load_assets(self, page_url: str, references: list[str]) -> None:
        urls = list(dict.fromkeys(urldefrag(urljoin(page_url, ref))[0] for ref in references
                                  if not ref.startswith(("data:", "javascript:"))))
        urls = [u for u in urls if urlsplit(u).netloc == self.origin]
        if not urls:
            return
        with ThreadPoolExecutor(max_workers=self.asset_connections) as pool:
            nested = list(pool.map(self._asset, urls))
            css_urls = list(dict.fromkeys(u for found in nested for u in found if u not in urls))
            list(pool.map(self._asset, css_urls))

    def _count(self, outcome: str) -> None:
        with self._cache_lock:  # asset threads share the record; Counter updates are not atomic
            self.record.asset_outcomes[outcome] += 1

    def _asset(self, url: str) -> list[str]:
        """Load one subresource through the cache; returns the url()s a stylesheet references."""
        now = time.time()
        with self._cache_lock:
            entry = self.cache.get(url)
        if entry is not None and entry.fresh_until > now:
            self._count("from cache")
            return []
        headers = {}
        if entry is not None and entry.etag:
            headers["If-None-Match"] = entry.etag
        if entry is not None and entry.last_modified:
            headers["If-Modified-Since"] = entry.last_modified
        response = self._request("GET", url, "asset", headers=headers)
        if response.status_code == 304 and entry is not None:
            self._count("revalidated (304)")
        elif response.status_code == 200:
            self._count("downloaded")
        else:
            raise _Stop(f"asset {url}: HTTP {response.status_code}")
        lifetime = freshness_seconds(response.headers, now)
        if lifetime is not None:
            with self._cache_lock:
                self.cache[url] = CacheEntry(now + lifetime, response.headers.get("ETag", entry.etag if entry else ""),
                                             response.headers.get("Last-Modified",
                                                                  entry.last_modified if entry else ""))
        if response.status_code == 200 and "css" in response.headers.get("Content-Type", ""):
            return [urldefrag(urljoin(url, ref))[0] for ref in CSS_URL.findall(response.text)
                    if not ref.startswith("data:")]
        return []


@dataclass
class RunResult:
    participants: list[ParticipantRecord]
    elapsed_s: float

    @property
    def errors(self) -> list[str]:
        return [error for record in self.participants for error in record.errors]

    @property
    def finished(self) -> int:
        return sum(record.finished for record in self.participants)

    def timings(self, *, pages_only: bool) -> list[Timing]:
        return [t for r in self.participants for t in r.timings
                if not (pages_only and (t.label == "asset" or t.label.startswith("load ")))]


def drive(*, entry_url: str, n: int, concurrency: int, hints: dict[str, str], assets: bool,
          asset_connections: int, seed: int = 0) -> RunResult:
    """n participants, `concurrency` of them at any moment, each starting as soon as a slot frees up."""
    chooser = random.Random(seed)
    participants = [Participant(entry_url=entry_url, index=i, hints=hints, seed=chooser.randrange(2**32),
                                assets=assets, asset_connections=asset_connections) for i in range(n)]
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="participant") as pool:
        records = list(pool.map(Participant.run, participants))
    return RunResult(records, time.perf_counter() - started)

