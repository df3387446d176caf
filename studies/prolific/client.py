"""A small client for Prolific's researcher API (https://docs.prolific.com/api-reference), the calls used here:

- GET  /api/v1/studies/{id}/submissions/         list a study's submissions ({"results": [...], "_links": ...})
- POST /api/v1/submissions/{id}/transition/      APPROVE, or REJECT with message (>= 100 chars) and category
- POST /api/v1/submissions/bulk-approve/         {"submission_ids": [...]}
- POST /api/v1/submissions/bonus-payments/       {"study_id", "csv_bonuses": "<participant id>,<amount>\\n..."}
- POST /api/v1/bulk-bonus-payments/{id}/pay/     pays a bonus set up before (not idempotent: sent once)

Authentication is the header ``Authorization: Token <token>``. A 429 answer is retried after its Retry-After
(capped), as are 502/503/504; other errors raise ProlificError with Prolific's message. Answers that do not
have the documented shape raise ProlificError too, so nothing is changed on bad data.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable

import requests

#: Statuses a submission can have (Prolific's SubmissionShortStatus).
SUBMISSION_STATUSES = ("RESERVED", "ACTIVE", "TIMED-OUT", "AWAITING REVIEW", "APPROVED", "RETURNED", "REJECTED",
                       "SCREENED OUT", "PARTIALLY APPROVED", "UNKNOWN")
#: Prolific's rejection categories (transition-submission, rejection_category).
REJECTION_CATEGORIES = ("TOO_QUICKLY", "TOO_SLOWLY", "FAILED_INSTRUCTIONS", "INCOMP_LONGITUDINAL", "FAILED_CHECK",
                        "LOW_EFFORT", "MALINGERING", "NO_CODE", "BAD_CODE", "NO_DATA", "UNSUPP_PREF", "OTHER")
REJECTION_MESSAGE_MIN_LENGTH = 100
_RETRY_STATUSES = (429, 502, 503, 504)
_MAX_PAGES = 1000


class ProlificError(Exception):
    """Prolific refused a call, could not be reached, or answered something malformed."""

    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Submission:
    id: str
    participant_id: str
    status: str


class ProlificClient:
    def __init__(self, *, token: str, base_url: str = "https://api.prolific.com", timeout: float = 20.0,
                 max_retries: int = 4, max_wait: float = 30.0, sleep: Callable[[float], None] = time.sleep,
                 session: requests.Session | None = None):
        if not token:
            raise ProlificError("No Prolific API token is configured (PROLIFIC_API_TOKEN).")
        self.base_url = base_url.rstrip("/")
        self.timeout, self.max_retries, self.max_wait, self.sleep = timeout, max_retries, max_wait, sleep
        self.session = session or requests.Session()
        self.session.headers.update({"Authorization": f"Token {token}", "Accept": "application/json"})

    # -- transport --

    def _request(self, method: str, path_or_url: str, *, json: Any = None) -> Any:
        url = path_or_url if path_or_url.startswith("http") else self.base_url + path_or_url
        for attempt in range(self.max_retries + 1):
            try:
                response = self.session.request(method, url, json=json, timeout=self.timeout)
            except requests.RequestException as error:
                if attempt == self.max_retries:
                    raise ProlificError(f"Prolific could not be reached: {error}") from error
                self.sleep(min(2 ** attempt, self.max_wait))
                continue
            if response.status_code in _RETRY_STATUSES and attempt < self.max_retries:
                self.sleep(self._retry_after(response, attempt))
                continue
            if response.status_code >= 400:
                raise ProlificError(f"Prolific answered {response.status_code}: {self._error_text(response)}",
                                    status=response.status_code)
            try:
                return response.json() if response.content else None
            except ValueError as error:
                raise ProlificError(f"Prolific answered {method} {url} with something that is not JSON.",
                                    status=response.status_code) from error
        raise ProlificError("Prolific kept answering 'too many requests'; try again later.", status=429)

    def _retry_after(self, response: requests.Response, attempt: int) -> float:
        try:
            wait = float(response.headers.get("Retry-After", ""))
        except ValueError:
            wait = float(2 ** attempt)
        return max(0.0, min(wait, self.max_wait))

    @staticmethod
    def _error_text(response: requests.Response) -> str:
        try:
            body = response.json()
        except ValueError:
            return response.text[:200] or response.reason
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            detail = body["error"].get("detail") or body["error"].get("title")
            return str(detail)[:300]
        return str(body)[:300]

    # -- calls --

    def study_submissions(self, study_id: str) -> list[Submission]:
        submissions: list[Submission] = []
        url: str | None = f"/api/v1/studies/{study_id}/submissions/"
        for _ in range(_MAX_PAGES):
            if url is None:
                return submissions
            page = self._request("GET", url)
            if not isinstance(page, dict) or not isinstance(page.get("results"), list):
                raise ProlificError("Prolific's submission list has no 'results' list.")
            for row in page["results"]:
                submissions.append(_submission(row))
            links = page.get("_links") or {}
            following = links.get("next") if isinstance(links, dict) else None
            url = following.get("href") if isinstance(following, dict) else None
        raise ProlificError("Prolific's submission list did not end.")

    def approve(self, submission_ids: list[str]) -> None:
        if submission_ids:
            self._request("POST", "/api/v1/submissions/bulk-approve/", json={"submission_ids": submission_ids})

    def reject(self, submission_id: str, *, message: str, rejection_category: str) -> Submission:
        answer = self._request("POST", f"/api/v1/submissions/{submission_id}/transition/", json={
            "action": "REJECT", "message": message, "rejection_category": rejection_category})
        if not isinstance(answer, dict):
            raise ProlificError("Prolific's answer to a rejection is not an object.")
        return Submission(id=str(answer.get("id", submission_id)), participant_id=str(answer.get("participant", "")),
                          status=str(answer.get("status", "")))

    def pay_bonuses(self, study_id: str, bonuses: list[tuple[str, Decimal]]) -> str:
        """Set up and pay bonuses (participant id, amount in the study's currency); returns the payment id."""
        csv_bonuses = "\n".join(f"{participant_id},{amount:.2f}" for participant_id, amount in bonuses)
        setup = self._request("POST", "/api/v1/submissions/bonus-payments/",
                              json={"study_id": study_id, "csv_bonuses": csv_bonuses})
        if not isinstance(setup, dict) or not isinstance(setup.get("id"), str):
            raise ProlificError("Prolific's answer to the bonus set-up has no payment id.")
        self._request("POST", f"/api/v1/bulk-bonus-payments/{setup['id']}/pay/", json={})
        return setup["id"]


def _submission(row: Any) -> Submission:
    if not isinstance(row, dict):
        raise ProlificError("A submission in Prolific's list is not an object.")
    values = {name: row.get(name) for name in ("id", "participant_id", "status")}
    if not all(isinstance(value, str) and value for value in values.values()):
        raise ProlificError(f"A submission in Prolific's list lacks id, participant_id or status: {str(row)[:200]}")
    if values["status"] not in SUBMISSION_STATUSES:
        raise ProlificError(f"Unknown submission status {values['status'][:40]!r} from Prolific.")
    return Submission(**values)
