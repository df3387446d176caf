"""APA formatting."""
from __future__ import annotations

from stats.analysis.formatting import format_kruskal_apa, format_kruskal_apa_adjusted, format_p


def test_apa_formatting():
    assert format_p(0.0291) == ".029"
    assert format_p(0.0004) == "< .001"
    assert format_kruskal_apa(7.1, 2, 90, 0.029) == "H(2, N = 90) = 7.10, p = .029"
    assert format_kruskal_apa(30.0, 1, 60, 1e-6) == "H(1, N = 60) = 30.00, p < .001"


def test_adjusted_apa_appends_the_corrected_p_value():
    apa = format_kruskal_apa(8.86, 1, 60, 0.0029)
    assert format_kruskal_apa_adjusted(apa, 0.0175) == "H(1, N = 60) = 8.86, p = .003, p_adj = .018"
    assert format_kruskal_apa_adjusted(apa, 0.0001).endswith("p_adj < .001")
    assert format_kruskal_apa_adjusted(apa, None) == apa
