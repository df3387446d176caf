"""Pure statistics of Likert user studies (no Django): one module per concern.

The procedure follows the human-subject study of the seed paper on ideal counterfactuals from invertible
networks (seeds/invertibility-ideal-counterfactuals-user-study.txt, section 3.3 and appendix E): per
statement a Kruskal-Wallis test across conditions, Bonferroni correction over the statements of a family,
effect sizes, and the share of participants who disagree (1-3), are neutral (4) or agree (5-7) on a
7-point scale (its Figure 4).

- cleaning: raw answers -> numbers, missing values counted, AnalysisInputError for anything else
- descriptives: quartiles shared by the tests and the Likert summaries
- kruskal: the Kruskal-Wallis statistic with its tie correction (once), effect sizes, group summaries
- corrections: Bonferroni / Holm / Benjamini-Hochberg over a family
- posthoc: Dunn's pairwise test
- likert: scale validation, reverse coding, agree / neutral / disagree summaries
- formatting: APA strings
- exact: exact / seeded permutation p values for small groups (or on request)
- effect_sizes: epsilon-squared with a bootstrap interval, Vargha-Delaney A, Cliff's delta, Hodges-Lehmann
- reliability: Cronbach's alpha with the Feldt interval
- questionnaire: every item (and scale score) of a study tested and corrected per family
- hypotheses: preregistered hypotheses (single or compound) and their verdicts on the table
- plan: the analysis plan (validation, defaults, departures, AsPredicted text)
- long_table: the long CSV export read back, and the data hash of its rows
- study_analysis: a between-group study analysed from its long export under its plan (exclusions, missing
  answers, sensitivity)
- power: sample-size planning (simulations call kruskal.kruskal_h)

The names below are the package's public API, so callers need not know which module holds what.
"""
from .cleaning import AnalysisInputError, clean_values
from .corrections import CORRECTION_METHODS, adjust_pvalues, check_correction
from .formatting import format_effect, format_kruskal_apa, format_kruskal_apa_adjusted, format_p
from .hypotheses import (
    CONFIRMED,
    HYPOTHESIS_KINDS,
    HYPOTHESIS_TESTS,
    NOT_EVALUABLE,
    REJECTED,
    evaluate_hypothesis,
    validate_hypothesis,
)
from .kruskal import GroupSummary, KruskalResult, TestStatus, kruskal_h, kruskal_wallis
from .likert import check_scale_points, likert_summary, likert_values, reverse_code
from .posthoc import dunn_posthoc
from .questionnaire import NO_ANSWERS, ItemSpec, analyze_items, item_families, item_values

__all__ = [
    "CONFIRMED",
    "CORRECTION_METHODS",
    "HYPOTHESIS_KINDS",
    "HYPOTHESIS_TESTS",
    "NOT_EVALUABLE",
    "NO_ANSWERS",
    "REJECTED",
    "AnalysisInputError",
    "GroupSummary",
    "ItemSpec",
    "KruskalResult",
    "TestStatus",
    "adjust_pvalues",
    "analyze_items",
    "check_correction",
    "check_scale_points",
    "clean_values",
    "dunn_posthoc",
    "evaluate_hypothesis",
    "format_effect",
    "format_kruskal_apa",
    "format_kruskal_apa_adjusted",
    "format_p",
    "item_families",
    "item_values",
    "kruskal_h",
    "kruskal_wallis",
    "likert_summary",
    "likert_values",
    "reverse_code",
    "validate_hypothesis",
]
