"""The seed study as data: Sixt et al., "Do users benefit from interpretable vision?" (ICLR 2021 submission,
section 3.3 and appendix E), rebuilt on the procedural Two4Two data.

Two between-group conditions (example-based baseline vs counterfactual interpolations), six pattern
statements and explanation-satisfaction statements (Hoffman et al., 2018) on a 7-point Likert scale, an
attention check, free text, and the preregistered hypotheses of appendix E.
"""
from __future__ import annotations

SLUG = "two4two-counterfactuals"
TITLE = "Which patterns does the network use? (Two4Two)"

AGREEMENT_LABELS = [
    "Strongly disagree",
    "Disagree",
    "Somewhat disagree",
    "Neither agree nor disagree",
    "Somewhat agree",
    "Agree",
    "Strongly agree",
]

CONDITIONS = [
    {
        "slug": "baseline",
        "name": "Baseline (example-based)",
        "description": "Real validation images sorted by the network's logit, 30 × 5.",
        "method": "example_based",
    },
    {
        "slug": "counterfactual",
        "name": "Counterfactual interpolations",
        "description": "30 originals (golden frame) each with counterfactuals set to every column's logit.",
        "method": "counterfactual_interpolation",
    },
]

_NETWORK = "The network uses"
PATTERN_STATEMENTS = [
    ("arms", f"{_NETWORK} the spatial arrangement of the blocks, in particular the position of the arms, "
             "to tell Stretchy from Sticky."),
    ("colour", f"{_NETWORK} the colour of the animal to tell Stretchy from Sticky."),
    ("rotation", f"{_NETWORK} how much the whole animal is rotated or tilted to tell Stretchy from Sticky."),
    ("background", f"{_NETWORK} the colour of the background to tell Stretchy from Sticky."),
    ("blocks", f"{_NETWORK} the shape of the individual blocks (cubes or spheres) to tell Stretchy from Sticky."),
    ("maturity", "The network has learned the right patterns and is ready to be used."),
]

SATISFACTION_STATEMENTS = [
    ("complete", "The explanation of how the network decides seems complete."),
    ("detailed", "The explanation of how the network decides has sufficient detail."),
    ("helpful", "The explanation helped me understand what the network pays attention to."),
    ("illustrative", "The explanation illustrates well how the network tells the two animals apart."),
    ("satisfying", "The explanation of how the network decides is satisfying."),
]

ATTENTION_CHECK = (
    "attention",
    "To show that you are reading carefully, please select “Somewhat disagree” for this statement.",
    3,  # "Somewhat disagree" on the 7-point scale
)

FREE_TEXT = [
    ("reasoning", "Please describe briefly how you decided on the statements about colour and rotation."),
    ("feedback", "Anything else you would like to tell us about the study? (optional)"),
]

CONSENT_TEXT = (
    "This study is part of research on how people understand explanations of image classifiers. It takes "
    "about 15 minutes. You will look at a grid of computer-generated images of two abstract animals and rate "
    "statements about how a neural network tells them apart. We record your answers, the time you spend on "
    "each page and your platform ID, store them on our server and publish only anonymised, aggregated "
    "results. Participation is voluntary; you may stop at any time by closing the window. If you do not "
    "consent, please return the study on your recruitment platform."
)

INSTRUCTIONS_TEXT = """\
A neural network has learned to tell two abstract animals apart: **Stretchy** and **Sticky**. Each animal is
built from eight blocks. Your task is to find out which visual properties the network uses for its decision.

**How to read the grid.** The grid has five columns. Each column shows images on which the network gives a
similar score:

* far left: the network is *very confident* the animal is **Stretchy**;
* second column: the network thinks it is *probably Stretchy*;
* middle: the network is *unsure*;
* fourth column: the network thinks it is *probably Sticky*;
* far right: the network is *very confident* the animal is **Sticky**.

Compare the columns: what changes from left to right? Compare the rows: what stays the same?

If your grid has images with a **golden frame**, these are real images. The other images in the same row are
computer-made variations of that image, changed only as much as needed for the network to give the score of
their column. Properties that change along such a row are the ones the network uses; properties that never
change are ones it ignores.

Click any image to enlarge it. Take your time: you can scroll through all 30 rows while you answer."""

# Appendix E.1, as machine-checkable hypotheses. Thresholds: a majority (50 %) at least somewhat agreeing or
# disagreeing; comparisons at alpha .05 after Bonferroni over the six pattern statements.
HYPOTHESES = [
    {"key": "H1", "kind": "proportion_agree",
     "parameters": {"item": "arms", "condition": "baseline", "threshold": 0.5},
     "description": "Baseline lets users verify that the network uses the spatial arrangement (pattern 1)."},
    {"key": "H2-colour", "kind": "proportion_agree",
     "parameters": {"item": "colour", "condition": "baseline", "threshold": 0.5, "comparison": "below"},
     "description": "Baseline does not let users detect the colour bias (pattern 2)."},
    {"key": "H2-rotation", "kind": "proportion_agree",
     "parameters": {"item": "rotation", "condition": "baseline", "threshold": 0.5, "comparison": "below"},
     "description": "Baseline does not let users detect the rotation bias (pattern 3)."},
    {"key": "H4", "kind": "proportion_agree",
     "parameters": {"item": "arms", "condition": "counterfactual", "threshold": 0.5},
     "description": "Counterfactual interpolations let users verify pattern 1."},
    {"key": "H5-colour", "kind": "proportion_agree",
     "parameters": {"item": "colour", "condition": "counterfactual", "threshold": 0.5},
     "description": "Counterfactual interpolations let users detect pattern 2."},
    {"key": "H5-rotation", "kind": "proportion_agree",
     "parameters": {"item": "rotation", "condition": "counterfactual", "threshold": 0.5},
     "description": "Counterfactual interpolations let users detect pattern 3."},
    {"key": "H6-background", "kind": "proportion_agree",
     "parameters": {"item": "background", "condition": "counterfactual", "threshold": 0.5, "side": "disagree"},
     "description": "Counterfactual interpolations let users reject pattern 4 (background)."},
    {"key": "H6-blocks", "kind": "proportion_agree",
     "parameters": {"item": "blocks", "condition": "counterfactual", "threshold": 0.5, "side": "disagree"},
     "description": "Counterfactual interpolations let users reject pattern 5 (block shape)."},
    {"key": "H7", "kind": "condition_greater",
     "parameters": {"item": "arms", "higher": "counterfactual", "lower": "baseline", "alpha": 0.05},
     "description": "Counterfactual interpolations let users detect pattern 1 with higher confidence."},
    {"key": "H9-colour", "kind": "condition_greater",
     "parameters": {"item": "colour", "higher": "counterfactual", "lower": "baseline", "alpha": 0.05},
     "description": "Counterfactual interpolations let users detect pattern 2 with higher confidence."},
    {"key": "H10", "kind": "condition_greater",
     "parameters": {"item": "maturity", "higher": "counterfactual", "lower": "baseline", "alpha": 0.05},
     "description": "Counterfactual interpolations make users more confident in the system's maturity."},
    {"key": "H11", "kind": "condition_greater",
     "parameters": {"item": "satisfying", "higher": "counterfactual", "lower": "baseline", "alpha": 0.05},
     "description": "Users are more satisfied with counterfactual interpolations."},
]

# Answer shares reported in Figure 4 (agree / neutral / disagree, in %) per statement and condition, used
# as the default policy of simulated participants. Order: (agree, neutral, disagree).
REPORTED_SHARES = {
    "counterfactual": {"arms": (97, 0, 3), "colour": (70, 0, 30), "rotation": (33, 10, 57),
                       "background": (13, 3, 83), "blocks": (27, 0, 73), "maturity": (73, 3, 23)},
    "baseline": {"arms": (83, 0, 17), "colour": (43, 7, 50), "rotation": (47, 10, 43),
                 "background": (10, 7, 83), "blocks": (10, 0, 90), "maturity": (70, 0, 30)},
}
# Figure 10: satisfaction ratings were almost all agreeing in both conditions.
REPORTED_SATISFACTION_SHARES = {"counterfactual": (98, 0, 2), "baseline": (99, 1, 0)}
