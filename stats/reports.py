"""Analysis results rendered as JSON, CSV or HTML (response exports are in stats.services.exports)."""
from __future__ import annotations

import base64
import csv
import io
import json
from typing import Any

from django.template.loader import render_to_string

from studies.designs.registry import design_get

from .analysis import format_effect, format_p
from .spreadsheet import csv_row

ANALYSIS_FORMATS = ("json", "csv", "html")

CSV_COLUMNS = [
    "item", "family", "group", "reverse_coded", "scoring", "wording", "condition", "n", "median", "q1", "q3", "iqr",
    "mean", "mean_rank", "pct_disagree", "pct_neutral", "pct_agree", "H", "df", "N", "p", "p_adjusted", "correction",
    "family_size", "epsilon_squared", "eta_squared_h", "significant", "status", "message",
    "n_missing", "p_method", "p_asymptotic", "mc_error", "epsilon_squared_low", "epsilon_squared_high",
    "vargha_delaney_a", "cliffs_delta", "hl_shift", "hl_low", "hl_high", "apa",
]


def _effect_columns(test: dict[str, Any]) -> dict[str, Any]:
    """The columns added for small samples and effect sizes (empty where they do not apply)."""
    interval = test.get("epsilon_squared_ci") or (None, None)
    two = test.get("two_groups") or {}
    shift = two.get("hodges_lehmann") or {}
    exact = test.get("exact") or {}
    return {"p_method": test.get("p_method"), "p_asymptotic": test.get("p_asymptotic"),
            "mc_error": exact.get("mc_error"), "epsilon_squared_low": interval[0],
            "epsilon_squared_high": interval[1], "vargha_delaney_a": two.get("vargha_delaney_a"),
            "cliffs_delta": two.get("cliffs_delta"), "hl_shift": shift.get("estimate"), "hl_low": shift.get("low"),
            "hl_high": shift.get("high"), "apa": test.get("apa_full", test.get("apa"))}


def analysis_json(results: dict[str, Any]) -> str:
    return json.dumps(results, indent=2, sort_keys=False, ensure_ascii=False)


def analysis_csv(results: dict[str, Any]) -> str:
    """One row per item and condition; the test columns repeat on every row of an item."""
    if results.get("design"):
        columns, rows = design_get(results["design"]).analysis_csv_rows(results=results)
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(csv_row(row) for row in rows)
        return buffer.getvalue()
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for item in [*results["items"], *results.get("scales", [])]:
        test = item["test"]
        for condition, summary in item["conditions"].items():
            writer.writerow(csv_row({
                "item": item["key"], "family": item["family"], "group": item.get("group", "scale"),
                "reverse_coded": item.get("reverse_coded", False), "scoring": scoring_direction(item),
                "wording": item.get("text", ""), "condition": condition,
                **{key: summary[key] for key in ("n", "median", "q1", "q3", "iqr", "mean", "mean_rank",
                                                 "pct_disagree", "pct_neutral", "pct_agree")},
                **{key: test[key] for key in ("H", "df", "N", "p", "p_adjusted", "correction", "family_size",
                                              "epsilon_squared", "eta_squared_h", "significant", "status",
                                              "message")},
                "n_missing": summary.get("n_missing"), **_effect_columns(test),
            }))
    return buffer.getvalue()


def _data_uri(svg: bytes | None) -> str | None:
    # An <img> data URI rather than inline SVG: statement texts never become live markup in the page.
    return None if svg is None else "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")


def scoring_direction(item: dict[str, Any]) -> str:
    """How to read the agree / disagree shares of an item in the participant's wording. A reverse-coded item
    is scored reversed, so its "agree" is the participant disagreeing with the statement they read."""
    if item.get("reverse_coded"):
        return (f'reverse-coded: agree = not "{item["key"]}" (scored reversed: participants who disagreed with the '
                "statement as worded count as agreeing)")
    return "agree = agreed with the statement as worded"


def chart_title(family: str, results: dict[str, Any]) -> str:
    """A chart's title from the study itself: its title and the family's name (never another study's figure)."""
    study_title = (results.get("study") or {}).get("title") or ""
    name = family.replace("_", " ")
    return f"{study_title}: {name} statements" if study_title else f"{name.capitalize()} statements"


def report_context(results: dict[str, Any]) -> dict[str, Any]:
    """Template context: APA strings, per-condition rows and one diverging-bar chart per family."""
    if results.get("design"):  # a design that analyses itself renders its own section
        return {"results": results, "excluded_listed": results.get("exclusions", {}).get("participants", [])[:200],
                **design_get(results["design"]).report_context(results=results)}
    names = results.get("condition_names", {})
    rows = []
    for item in results["items"]:
        test = item["test"]
        rows.append({
            "item": item,
            "scoring": scoring_direction(item),
            "test": test,
            "p_text": format_p(test["p"]),
            "p_adjusted_text": format_p(test["p_adjusted"]),
            "epsilon_text": format_effect(test["epsilon_squared"]) + (
                " [{}, {}]".format(*map(format_effect, test["epsilon_squared_ci"]))
                if test.get("epsilon_squared_ci") else ""),
            "eta_text": format_effect(test["eta_squared_h"]),
            "conditions": [
                {"slug": slug, "name": names.get(slug, slug), **summary}
                for slug, summary in item["conditions"].items()
            ],
        })
    charts = []
    from .plots import chart_from_results  # matplotlib only where a chart is drawn

    for family in results.get("families", {}):
        title = chart_title(family, results)
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
