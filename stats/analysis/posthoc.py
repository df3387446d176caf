"""Pairwise comparisons after a significant Kruskal-Wallis test."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .cleaning import clean_values
from .corrections import check_correction


def dunn_posthoc(
    groups: Mapping[str, Sequence[Any]], *, p_adjust: str = "bonferroni"
) -> list[dict[str, Any]]:
    """Dunn's pairwise test (two-sided) after a Kruskal-Wallis test, via scikit_posthocs.posthoc_dunn.

    With more than two groups the pairwise p-values are adjusted with ``p_adjust`` over the k(k-1)/2
    comparisons; with two groups there is one comparison and p_adjusted equals p.
    Returns one dict per pair: {"a", "b", "p", "p_adjusted"}.
    """
    import pandas as pd
    import scikit_posthocs

    check_correction(p_adjust)
    rows = []
    for name, values in groups.items():
        clean, _ = clean_values(values, label=f"group {name!r}")
        rows.extend((str(name), value) for value in clean)
    frame = pd.DataFrame(rows, columns=["group", "value"])
    names = [str(name) for name in groups if (frame["group"] == str(name)).any()]
    if len(names) < 2 or frame["value"].nunique() < 2:
        return []
    raw = scikit_posthocs.posthoc_dunn(frame, val_col="value", group_col="group")
    adjusted = (
        scikit_posthocs.posthoc_dunn(frame, val_col="value", group_col="group", p_adjust=p_adjust)
        if len(names) > 2
        else raw
    )
    pairs = []
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            pairs.append(
                {"a": a, "b": b, "p": float(raw.loc[a, b]), "p_adjusted": float(adjusted.loc[a, b])}
            )
    return pairs

