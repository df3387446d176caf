"""A local stand-in for the part of Prolific's researcher API the platform uses, served by a threaded HTTP
server. Shapes follow Prolific's API reference (docs.prolific.com/api-reference):

- studies/get-study-submissions: GET /api/v1/studies/{id}/submissions/ -> {"results": [{"id",
  "participant_id", "status", "started_at", "completed_at", "study_code", ...}], "_links": {"next": {"href"}}}
- submissions/transition-submission: POST /api/v1/submissions/{id}/transition/ {"action": "APPROVE"|"REJECT",
  "message" (required for REJECT, >= 100 characters), "rejection_category"} -> the submission
- submissions/bulk-approve-submissions: POST /api/v1/submissions/bulk-approve/ {"submission_ids": [...]}
  -> "The request to bulk approve has been made successfully."
- bonuses/create-bonus-payments: POST /api/v1/submissions/bonus-payments/ {"study_id", "csv_bonuses"} ->
  {"id", "study", "amount", "fees", "total_amount", "vat"}; 400 naming ids that did not take part
- bonuses/pay-bonus-payments: POST /api/v1/bulk-bonus-payments/{id}/pay/ -> a message string
- errors: {"error": {"status", "error_code", "title", "detail"}}; 401 without "Authorization: Token <token>";
  429 with Retry-After when rate-limited.
"""
from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOKEN = "fake-prolific-token"
PAGE_SIZE = 2


class FakeProlific:
    def __init__(self):
        self.submissions: dict[str, list[dict]] = {}  # study id -> submissions
        self.requests: list[tuple[str, str, object]] = []
        self.rate_limited = 0  # answer this many next requests with 429
        self.malformed = False
        self.bonus_setups: dict[str, dict] = {}
        self.paid: list[str] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def add(self, study_id: str, submission_id: str, participant_id: str, status: str) -> None:
        self.submissions.setdefault(study_id, []).append({
            "id": submission_id, "participant_id": participant_id, "status": status,
            "started_at": "2026-11-20T10:00:00Z", "completed_at": None, "study_code": None,
            "has_siblings": False, "return_requested": None,
        })

    def find(self, submission_id: str) -> dict | None:
        return next((s for rows in self.submissions.values() for s in rows if s["id"] == submission_id), None)

    def posted(self, path_part: str) -> list:
        return [body for method, path, body in self.requests if method == "POST" and path_part in path]

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status: int, body, headers=None):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def _error(self, status: int, title: str, detail, headers=None):
                self._send(status, {"error": {"status": status, "error_code": status * 100, "title": title,
                                              "detail": detail}}, headers)

            def _handle(self, method: str):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                with fake.lock:
                    fake.requests.append((method, self.path, body))
                    if fake.rate_limited:
                        fake.rate_limited -= 1
                        return self._error(429, "Too Many Requests", "Request was throttled.", {"Retry-After": "1"})
                if self.headers.get("Authorization") != f"Token {TOKEN}":
                    return self._error(401, "Unauthorized", "Invalid token.")
                if fake.malformed:
                    return self._send(200, {"results": "not a list"})
                route = self.path.split("?")[0]
                if method == "GET" and (m := re.fullmatch(r"/api/v1/studies/(\w+)/submissions/", route)):
                    if m.group(1) not in fake.submissions:
                        return self._error(404, "Not Found", "Study not found.")
                    rows = fake.submissions[m.group(1)]
                    page = int(self.path.split("page=")[1]) if "page=" in self.path else 1
                    chunk = rows[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]
                    more = page * PAGE_SIZE < len(rows)
                    links = {"next": {"href": f"{fake.url}{route}?page={page + 1}" if more else None}}
                    return self._send(200, {"results": chunk, "_links": links, "meta": {"count": len(rows)}})
                if method == "POST" and (m := re.fullmatch(r"/api/v1/submissions/(\w+)/transition/", route)):
                    submission = fake.find(m.group(1))
                    if submission is None:
                        return self._error(404, "Not Found", "Submission not found.")
                    if body.get("action") == "REJECT":
                        if len(body.get("message") or "") < 100 or not body.get("rejection_category"):
                            return self._error(400, "Bad Request",
                                               {"message": ["Ensure this field has at least 100 characters."]})
                        submission["status"] = "REJECTED"
                    elif body.get("action") == "APPROVE":
                        submission["status"] = "APPROVED"
                    else:
                        return self._error(400, "Bad Request", {"action": ["Invalid action."]})
                    return self._send(200, {"id": submission["id"], "status": submission["status"],
                                            "participant": submission["participant_id"], "study_id": "x"})
                if method == "POST" and route == "/api/v1/submissions/bulk-approve/":
                    ids = body.get("submission_ids") or []
                    unknown = [i for i in ids if fake.find(i) is None]
                    if unknown:
                        return self._error(400, "Bad Request", {"submission_ids": [f"Unknown: {unknown}"]})
                    for i in ids:
                        fake.find(i)["status"] = "APPROVED"
                    return self._send(200, "The request to bulk approve has been made successfully.")
                if method == "POST" and route == "/api/v1/submissions/bonus-payments/":
                    rows = fake.submissions.get(body.get("study_id"), [])
                    known = {s["participant_id"] for s in rows}
                    lines = [line.split(",") for line in (body.get("csv_bonuses") or "").splitlines()]
                    bad = [line[0] for line in lines if line[0] not in known]
                    if bad:
                        return self._error(400, "Bad Request", {"csv_bonuses": [f"Invalid participant ids: {bad}"]})
                    amount = sum(float(line[1]) for line in lines)
                    setup_id = f"bonus{len(fake.bonus_setups) + 1}"
                    fake.bonus_setups[setup_id] = {"id": setup_id, "study": body["study_id"], "amount": amount,
                                                   "fees": 0.0, "total_amount": amount, "vat": 0.0}
                    return self._send(201, fake.bonus_setups[setup_id])
                if method == "POST" and (m := re.fullmatch(r"/api/v1/bulk-bonus-payments/(\w+)/pay/", route)):
                    if m.group(1) not in fake.bonus_setups:
                        return self._error(404, "Not Found", "Bulk bonus payment not found.")
                    fake.paid.append(m.group(1))
                    return self._send(202, f"Bulk bonus payment with ID {m.group(1)} is being processed.")
                return self._error(404, "Not Found", "No such endpoint.")

            def do_GET(self):
                self._handle("GET")

            def do_POST(self):
                self._handle("POST")

        return Handler
