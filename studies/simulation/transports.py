"""How a bot's requests reach the server: in-process through Django's test client, or over HTTP.

Both answer with an `HttpResult` and never follow redirects themselves: the bot follows them, so it sees
every hop. The HTTP transport also times every request (bench/load.py reports the latencies) and, when
asked to, retries like a person who reloads after an error.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urljoin, urlsplit

from .errors import BotStuck
from .pages import participant_page_name

REDIRECT_STATUSES = (301, 302, 303, 307, 308)
#: Statuses a proxy or a restarting server answers with; worth a reload.
RETRYABLE_STATUSES = (502, 503, 504)


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
        location = response.get("Location", "") if response.status_code in REDIRECT_STATUSES else ""
        text = response.content.decode("utf-8", "replace") if not getattr(response, "streaming", False) else ""
        return HttpResult(response.status_code, url, location, text)


@dataclass
class Timing:
    label: str  # "GET entry", "GET stimulus", "POST stimulus", ...
    seconds: float
    status: int  # 0 for a transport error


@dataclass
class RequestsTransport:
    """Against a running server: a requests.Session (cookies, the csrftoken cookie included) per bot.

    `retries` > 0 makes the bot behave like a person who reloads after an error: a request that fails at
    the transport level or with 502/503/504 is sent again (the same form data) after a short wait. A
    repeated POST of a page that was already stored is harmless: the server redirects to the current page.
    Every attempt is timed in `timings`; `retried` counts the repeats.
    """

    base_url: str
    timeout: float = 30.0
    retries: int = 0
    timings: list[Timing] = field(default_factory=list)
    retried: int = 0

    def __post_init__(self) -> None:
        import requests

        self.base_url = self.base_url.rstrip("/") + "/"
        self._session = requests.Session()
        self._session.headers["User-Agent"] = "studyserver-simulated-participant/1"

    def request(self, method, url, *, data=None, referer=None) -> HttpResult:
        import requests

        absolute = urljoin(self.base_url, url)
        headers = {"Referer": urljoin(self.base_url, referer)} if referer else {}
        label = f"{method} {participant_page_name(absolute) or 'entry'}"
        attempt = 0
        while True:
            started = time.perf_counter()
            try:
                response = self._session.request(method, absolute, data=data, headers=headers,
                                                 allow_redirects=False, timeout=self.timeout)
            except requests.RequestException as error:
                self.timings.append(Timing(label, time.perf_counter() - started, 0))
                if attempt < self.retries:
                    attempt = self._wait_before_retry(attempt)
                    continue
                raise BotStuck(f"{method} {absolute} failed: {error}") from None
            self.timings.append(Timing(label, time.perf_counter() - started, response.status_code))
            if response.status_code in RETRYABLE_STATUSES and attempt < self.retries:
                attempt = self._wait_before_retry(attempt)
                continue
            location = response.headers.get("Location", "") if response.status_code in REDIRECT_STATUSES else ""
            return HttpResult(response.status_code, absolute, location, response.text)

    def _wait_before_retry(self, attempt: int) -> int:
        attempt += 1
        self.retried += 1
        time.sleep(0.2 * attempt)
        return attempt

    def close(self) -> None:
        self._session.close()
