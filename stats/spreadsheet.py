"""Cells that a spreadsheet shows as text and never runs as a formula (OWASP, "CSV Injection").

Used by every CSV the platform writes: the response exports and the analysis tables.
"""
from __future__ import annotations

from typing import Any

#: First characters that make Excel, LibreOffice and Google Sheets read a cell as a formula (OWASP, "CSV
#: Injection"); carriage return and line feed start a new formula line in some of them.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")


def spreadsheet_safe(value: Any) -> Any:
    """A cell value that a spreadsheet shows as text, never runs: a string starting with a formula trigger
    gets a leading apostrophe (OWASP's rule). Numbers are left alone (-3 stays a number)."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def csv_cell(value: Any) -> Any:
    # The writer quotes fields holding "\n" (its line terminator) but not a lone "\r", which readers take for
    # a row break; line breaks inside an answer are therefore written as "\n".
    if isinstance(value, str) and "\r" in value:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    return spreadsheet_safe(value)



def csv_row(row: dict[str, Any]) -> dict[str, Any]:
    return {key: csv_cell(value) for key, value in row.items()}
