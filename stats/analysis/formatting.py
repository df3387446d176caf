"""Statistics written in APA style for reports and verdicts."""
from __future__ import annotations


def format_p(p: float | None) -> str:
    """APA style: no leading zero, three decimals, "< .001" below that."""
    if p is None:
        return "n/a"
    if p < 0.001:
        return "< .001"
    text = f"{p:.3f}"
    return text[1:] if text.startswith("0") else text


def format_effect(value: float | None) -> str:
    if value is None:
        return "n/a"
    text = f"{value:.2f}"
    return text[1:] if text.startswith("0") else text


def format_kruskal_apa(h: float | None, df: int | None, n: int, p: float | None) -> str:
    """E.g. "H(2, N = 90) = 7.10, p = .029"."""
    if h is None or df is None:
        return "no test"
    p_text = format_p(p)
    relation = "p " + p_text if p_text.startswith("<") else f"p = {p_text}"
    return f"H({df}, N = {n}) = {h:.2f}, {relation}"


def format_kruskal_apa_adjusted(apa: str, p_adjusted: float | None) -> str:
    """The APA string followed by the corrected p-value, e.g. "H(1, N = 60) = 8.86, p = .003, p_adj = .018"."""
    if p_adjusted is None:
        return apa
    p_text = format_p(p_adjusted)
    return f"{apa}, p_adj {p_text}" if p_text.startswith("<") else f"{apa}, p_adj = {p_text}"


def format_mann_whitney_apa(u: float | None, n1: int, n2: int, p: float | None, alternative: str) -> str:
    """E.g. "U = 3.0, n = 8 / 8, p = .002 (one-sided, greater)"."""
    if u is None:
        return "no test"
    p_text = format_p(p)
    relation = "p " + p_text if p_text.startswith("<") else f"p = {p_text}"
    sided = "" if alternative == "two-sided" else f" (one-sided, {alternative})"
    return f"U = {u:.1f}, n = {n1} / {n2}, {relation}{sided}"


def _interval(values) -> str:
    return f"[{format_effect(values[0])}, {format_effect(values[1])}]" if values else ""


def format_effects_apa(test: dict) -> str:
    """Effect sizes of a test row with their intervals, e.g. "ε² = .55 [.31, .79], A = .92, HL = 2.00 [1.00, 3.00]"."""
    if test.get("epsilon_squared") is None:
        return ""
    parts = [f"ε² = {format_effect(test['epsilon_squared'])}"
             + (f" {_interval(test['epsilon_squared_ci'])}" if test.get("epsilon_squared_ci") else "")]
    two = test.get("two_groups")
    if two:
        shift = two["hodges_lehmann"]
        parts.append(f"A({two['first']} > {two['second']}) = {format_effect(two['vargha_delaney_a'])}")
        parts.append(f"HL shift = {shift['estimate']:.2f} [{shift['low']:.2f}, {shift['high']:.2f}]")
    return ", ".join(parts)
