"""The long response export read back for analysis, and the data hash computed from its rows (no Django).

Every analysis reads its answers from the long CSV (stats.services.exports): the stored analysis of a
study and ``manage.py analyze --from-csv FILE`` run the same code on the same rows, so anyone holding the
file gets the same numbers. The data hash is the sha256 of the header line and the rows of the participants
the analysis kept, written back exactly as the export writes them (comma separated, minimal quoting, "\\n"
line ends, file order); participants appear under a pseudonym, never a database or platform id. Columns
naming a participant on the recruiting platform (``identity_columns``: in the owner's export, not in the
pseudonymised one) are dropped on reading, so both files give the same hash.
"""
from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .cleaning import AnalysisInputError

REQUIRED_COLUMNS = ("participant", "condition", "status", "is_simulated", "attention_failed", "stimulus_seconds",
                    "item", "group", "kind", "page", "scale_points", "reverse_coded", "value", "expected_answer")
PAGE_ORDER = ("consent", "instructions", "stimulus", "satisfaction", "free_text", "completion")


@dataclass
class LongData:
    header: list[str]
    rows: list[list[str]]
    participants: dict[str, dict[str, Any]] = field(default_factory=dict)  # pseudonym -> columns + row numbers
    items: dict[str, dict[str, Any]] = field(default_factory=dict)  # key -> what the columns say of the item
    answers: dict[str, dict[str, str]] = field(default_factory=dict)  # pseudonym -> item key -> raw value
    conditions: list[str] = field(default_factory=list)  # in order of first appearance
    file_sha256: str = ""


def _flag(value: str) -> bool:
    return value.strip().lower() in ("true", "1", "yes")


def _number_or_none(value: str, label: str) -> float | None:
    if value.strip() == "":
        return None
    try:
        return float(value)
    except ValueError:
        raise AnalysisInputError(f"{label}: {value!r} is not a number.") from None


def parse_long_csv(text: str, *, identity_columns: Sequence[str] = ()) -> LongData:
    """Read a long export; AnalysisInputError names missing columns or unreadable values."""
    reader = csv.reader(io.StringIO(text))
    try:
        full_header = next(reader)
    except StopIteration:
        raise AnalysisInputError("The file is empty: expected the long CSV export of a study.") from None
    kept = [index for index, name in enumerate(full_header) if name not in identity_columns]
    header = [full_header[index] for index in kept]
    missing = [column for column in REQUIRED_COLUMNS if column not in header]
    if missing:
        raise AnalysisInputError(f"Not a long export of this platform: missing column(s) {', '.join(missing)}.")
    at = {name: header.index(name) for name in header}
    data = LongData(header=header, rows=[], file_sha256=hashlib.sha256(text.encode("utf-8")).hexdigest())
    for number, full_row in enumerate(reader, start=2):
        if not full_row:
            continue
        if len(full_row) != len(full_header):
            raise AnalysisInputError(f"Line {number} has {len(full_row)} fields, the header {len(full_header)}.")
        row = [full_row[index] for index in kept]
        index = len(data.rows)
        data.rows.append(row)
        pseudonym = row[at["participant"]]
        participant = data.participants.get(pseudonym)
        if participant is None:
            participant = data.participants[pseudonym] = {
                "participant": pseudonym, "condition": row[at["condition"]], "status": row[at["status"]],
                "is_simulated": _flag(row[at["is_simulated"]]),
                "attention_failed": _flag(row[at["attention_failed"]]),
                "stimulus_seconds": _number_or_none(row[at["stimulus_seconds"]], f"line {number}, stimulus_seconds"),
                # Optional: files exported before researchers could exclude participants lack the column.
                "excluded_reason": row[at["excluded_reason"]].strip() if "excluded_reason" in at else "",
                "rows": [],
            }
            if participant["condition"] and participant["condition"] not in data.conditions:
                data.conditions.append(participant["condition"])
        participant["rows"].append(index)
        key = row[at["item"]]
        if key not in data.items:
            points = _number_or_none(row[at["scale_points"]], f"line {number}, scale_points")
            expected = _number_or_none(row[at["expected_answer"]], f"line {number}, expected_answer")
            data.items[key] = {
                "key": key, "group": row[at["group"]], "kind": row[at["kind"]], "page": row[at["page"]],
                "scale_points": int(points) if points is not None else None,
                "reverse_coded": _flag(row[at["reverse_coded"]]),
                "expected_answer": int(expected) if expected is not None else None, "first_seen": index,
            }
        data.answers.setdefault(pseudonym, {})[key] = row[at["value"]]
    return data


def ordered_items(data: LongData, kind: str) -> list[dict[str, Any]]:
    """Items of one kind in the order participants see them: by page, then as the export lists them."""
    rank = {page: position for position, page in enumerate(PAGE_ORDER)}
    chosen = [item for item in data.items.values() if item["kind"] == kind]
    return sorted(chosen, key=lambda item: (rank.get(item["page"], len(rank)), item["first_seen"]))


def rows_sha256(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """sha256 of the header and the rows as the export writes them (see the module docstring)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return hashlib.sha256(buffer.getvalue().encode("utf-8")).hexdigest()
