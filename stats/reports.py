"""Analysis results rendered as JSON, CSV or HTML, and response exports with a codebook."""
from __future__ import annotations

import base64
import csv
import io
import json
from typing import Any

from django.template.loader import render_to_string

from studies.models import Item, Study

from . import selectors
from .analysis import format_effect, format_p

ANALYSIS_FORMATS = ("json", "csv", "html")
EXPORT_FORMATS = ("long", "wide", "json", "codebook")

CSV_COLUMNS = [
    "item", "family", "group", "reverse_coded", "condition", "n", "median", "q1", "q3", "iqr", "mean",
    "mean_rank", "pct_disagree", "pct_neutral", "pct_agree", "H", "df", "N", "p", "p_adjusted", "correction",
    "family_size", "epsilon_squared", "eta_squared_h", "significant", "status", "message",
]


def analysis_json(results: dict[str, Any]) -> str:
    return json.dumps(results, indent=2, sort_keys=False, ensure_ascii=False)


def analysis_csv(results: dict[str, Any]) -> str:
    """One row per item and condition; the test columns repeat on every row of an item."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for item in results["items"]:
        test = item["test"]
        for condition, summary in item["conditions"].items():
            writer.writerow({
                "item": item["key"], "family": item["family"], "group": item["group"],
                "reverse_coded": item["reverse_coded"], "condition": condition,
                **{key: summary[key] for key in ("n", "median", "q1", "q3", "iqr", "mean", "mean_rank",
                                                 "pct_disagree", "pct_neutral", "pct_agree")},
                **{key: test[key] for key in ("H", "df", "N", "p", "p_adjusted", "correction", "family_size",
                                              "epsilon_squared", "eta_squared_h", "significant", "status",
                                              "message")},
            })
    return buffer.getvalue()


def _data_uri(svg: bytes | None) -> str | None:
    # An <img> data URI rather than inline SVG: statement texts never become live markup in the page.
    return None if svg is None else "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")


def report_context(results: dict[str, Any]) -> dict[str, Any]:
    """Template context: APA strings, per-condition rows and the two charts (Figures 4 and 10)."""
    names = results.get("condition_names", {})
    rows = []
    for item in results["items"]:
        test = item["test"]
        rows.append({
            "item": item,
            "test": test,
            "p_text": format_p(test["p"]),
            "p_adjusted_text": format_p(test["p_adjusted"]),
            "epsilon_text": format_effect(test["epsilon_squared"]),
            "eta_text": format_effect(test["eta_squared_h"]),
            "conditions": [
                {"slug": slug, "name": names.get(slug, slug), **summary}
                for slug, summary in item["conditions"].items()
            ],
        })
    charts = []
    from .plots import chart_from_results  # matplotlib only where a chart is drawn

    for family in results.get("families", {}):
        title = {"pattern": "Pattern statements (seed Figure 4)",
                 "satisfaction": "Explanation satisfaction (seed Figure 10)"}.get(family, f"Family {family}")
        uri = _data_uri(chart_from_results(results, family=family, title=title))
        if uri:
            charts.append({"family": family, "title": title, "uri": uri})
    return {"results": results, "rows": rows, "charts": charts,
            "excluded_listed": results["exclusions"]["participants"][:200]}


def analysis_html(results: dict[str, Any]) -> str:
    return render_to_string("stats/analysis_report.html", report_context(results))


def analysis_render(results: dict[str, Any], fmt: str) -> tuple[str, str, str]:
    """(content, content type, file extension) of the results in one of ANALYSIS_FORMATS."""
    if fmt == "json":
        return analysis_json(results), "application/json", "json"
    if fmt == "csv":
        return analysis_csv(results), "text/csv; charset=utf-8", "csv"
    if fmt == "html":
        return analysis_html(results), "text/html; charset=utf-8", "html"
    raise ValueError(f"Unknown format {fmt!r}; choose one of: {', '.join(ANALYSIS_FORMATS)}.")


# --------------------------------------------------------------------------------------------------
# Response exports
# --------------------------------------------------------------------------------------------------
PARTICIPANT_COLUMNS = ["participant", "condition", "status", "is_simulated", "attention_failed",
                       "stimulus_seconds", "started_at", "completed_at"]


def codebook(study: Study) -> dict[str, Any]:
    """What every column and value of the exports means."""
    items = Item.objects.filter(study=study).order_by("page", "order", "pk")
    return {
        "study": study.slug,
        "columns": {
            "participant": "participant id (stable within this server; not the platform id)",
            "condition": "condition slug the participant was assigned to",
            "status": "participant status: " + ", ".join(
                ["active", "completed", "returned", "declined", "failed_attention", "timed_out"]),
            "is_simulated": "true for simulated participants (never mixed into real analyses by default)",
            "attention_failed": "true when the participant failed an attention check",
            "stimulus_seconds": "seconds on the stimulus page, summed over visits",
            "started_at": "ISO 8601 UTC", "completed_at": "ISO 8601 UTC, empty if not completed",
            "item": "item key (long format)", "value": "answer: the scale point for Likert items and attention "
            "checks (raw, not reverse-coded), the text for free-text items",
        },
        "conditions": [{"slug": c.slug, "name": c.name} for c in study.conditions.order_by("order", "pk")],
        "items": [
            {
                "key": item.key, "text": item.text, "kind": item.kind, "group": item.group, "page": item.page,
                "scale_points": item.scale_points if item.is_scaled else None,
                "anchor_low": item.anchor_low if item.is_scaled else None,
                "anchor_high": item.anchor_high if item.is_scaled else None,
                "labels": item.labels or None, "reverse_coded": item.reverse_coded,
                "expected_answer": item.expected_answer,
                "condition": item.condition.slug if item.condition_id else None,
            }
            for item in items
        ],
    }


def _participant_rows(study: Study, include_simulated: bool):
    data = selectors.study_data(study=study, include_simulated=include_simulated)
    slugs = {c.pk: c.slug for c in data.conditions}
    items = data.items
    for participant in data.participants:
        base = {
            "participant": participant["pk"],
            "condition": slugs.get(participant["condition_id"], ""),
            "status": participant["status"],
            "is_simulated": participant["is_simulated"],
            "attention_failed": participant["attention_failed"],
            "stimulus_seconds": data.stimulus_seconds.get(participant["pk"], ""),
            "started_at": participant["started_at"].isoformat() if participant["started_at"] else "",
            "completed_at": participant["completed_at"].isoformat() if participant["completed_at"] else "",
        }
        answers = data.responses.get(participant["pk"], {})
        values = {}
        for item in items:
            if item.pk in answers:
                value_int, value_text = answers[item.pk]
                values[item.key] = value_int if value_int is not None else value_text
        yield base, values, items


def responses_export(*, study: Study, fmt: str, include_simulated: bool = False) -> tuple[str, str, str]:
    """(content, content type, file name) of the study's responses: long CSV, wide CSV, JSON or codebook."""
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"Unknown export format {fmt!r}; choose one of: {', '.join(EXPORT_FORMATS)}.")
    stem = f"{study.slug}-responses"
    if fmt == "codebook":
        return json.dumps(codebook(study), indent=2, ensure_ascii=False), "application/json", f"{study.slug}-codebook.json"
    if fmt == "json":
        participants = [
            {**base, "responses": values} for base, values, _ in _participant_rows(study, include_simulated)
        ]
        payload = {"format_version": 1, "codebook": codebook(study), "include_simulated": include_simulated,
                   "participants": participants}
        return json.dumps(payload, indent=2, ensure_ascii=False, default=str), "application/json", f"{stem}.json"
    buffer = io.StringIO()
    if fmt == "long":
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow([*PARTICIPANT_COLUMNS, "item", "value"])
        for base, values, _ in _participant_rows(study, include_simulated):
            for key, value in values.items():
                writer.writerow([*base.values(), key, value])
        return buffer.getvalue(), "text/csv; charset=utf-8", f"{stem}-long.csv"
    item_keys = [item.key for item in Item.objects.filter(study=study).order_by("page", "order", "pk")]
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*PARTICIPANT_COLUMNS, *item_keys])
    for base, values, _ in _participant_rows(study, include_simulated):
        writer.writerow([*base.values(), *(values.get(key, "") for key in item_keys)])
    return buffer.getvalue(), "text/csv; charset=utf-8", f"{stem}-wide.csv"
