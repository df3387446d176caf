"""The seed template's hypotheses (appendix E.1, H1-H11 with their sub-parts) are all evaluated on data shaped
like the seed's Figure 4, with the verdicts the paper reports where the shares decide them."""
from __future__ import annotations

import pytest

from stats.services import analysis_run
from studies.models import Study
from studies.study_templates.services import seed_template, study_from_template

from ..factories import make_participant, make_user

pytestmark = pytest.mark.django_db

# Figure 4 in % as [agree, neutral, disagree]; agreement answered 7 with counterfactuals on arms (H7: more
# confident), 6 otherwise.
SHARES = {
    "counterfactual": {"arms": [97, 0, 3], "colour": [70, 0, 30], "rotation": [33, 10, 57],
                       "background": [13, 3, 83], "blocks": [27, 0, 73], "maturity": [73, 3, 23]},
    "baseline": {"arms": [83, 0, 17], "colour": [43, 7, 50], "rotation": [47, 10, 43],
                 "background": [10, 7, 83], "blocks": [10, 0, 90], "maturity": [70, 0, 30]},
}


def _answers(condition: str, index: int, n: int = 30) -> dict[str, int]:
    answers = {"attention": 3}
    for item, (agree, neutral, _) in SHARES[condition].items():
        agree_n, neutral_n = round(agree * n / 100), round(neutral * n / 100)
        high = 7 if (condition, item) == ("counterfactual", "arms") else 5
        answers[item] = high if index < agree_n else 4 if index < agree_n + neutral_n else 2
    for item in ("complete", "detailed", "helpful", "illustrative", "satisfying"):
        answers[item] = 6 + (index + len(item)) % 2
    return answers


def test_every_appendix_e_hypothesis_gets_a_verdict():
    study = study_from_template(seed_template(), owner=make_user())
    for condition in ("counterfactual", "baseline"):
        for index in range(30):
            make_participant(study, condition, _answers(condition, index))
    study.status = Study.Status.CLOSED
    study.save(update_fields=["status"])
    results = analysis_run(study=study).results
    verdicts = {h["key"]: h["verdict"] for h in results["hypotheses"]}
    assert list(verdicts) == [f"H{i}" for i in range(1, 12)]
    assert "not_evaluable" not in verdicts.values()
    assert verdicts["H1"] == verdicts["H4"] == verdicts["H6"] == "confirmed"
    assert verdicts["H2"] == verdicts["H3"] == "confirmed"  # 43 % agree with colour and 47 % with rotation
    assert verdicts["H5"] == "rejected" and verdicts["H9"] == "rejected"  # rotation: 33 % agree
    h9 = next(h for h in results["hypotheses"] if h["key"] == "H9")
    assert h9["statement"].startswith("Requires H5, which is rejected.")
    h7 = next(h for h in results["hypotheses"] if h["key"] == "H7")
    arms = next(item for item in results["items"] if item["key"] == "arms")
    assert h7["p_adjusted"] == arms["test"]["p_adjusted"] and arms["test"]["family_size"] == 6
    assert verdicts["H7"] == ("confirmed" if arms["test"]["significant"] else "rejected")
    scale = results["scales"][0]
    assert scale["key"] == "satisfaction_scale" and results["reliability"]["satisfaction_scale"]["k"] == 5
    h11 = next(h for h in results["hypotheses"] if h["key"] == "H11")
    assert h11["p_adjusted"] == scale["test"]["p_adjusted"]
    assert arms["test"]["two_groups"]["first"] == "baseline"  # conditions in the study's order
