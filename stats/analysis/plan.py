"""The analysis plan of a study: validated, completed with defaults, compared and written out (no Django).

A plan says, before any data are in, how the study will be analysed: which statements form a correction
family and which correction, the test of each item and its sidedness, alpha, when p values are exact,
the exclusion rules and their thresholds, the scale scores, the hypotheses and the planned sample size.
The stats app stores it with the study and freezes it when the study is launched; an analysis that
follows it is confirmatory, one that departs from it is exploratory and lists each departure. The text
form follows the AsPredicted questions (aspredicted.org: data collected? hypothesis, dependent variable,
conditions, analyses, outliers and exclusions, sample size, other).
"""
from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from typing import Any

from .cleaning import AnalysisInputError
from .corrections import CORRECTION_METHODS
from .exact import ALTERNATIVES, DEFAULT_RESAMPLES
from .hypotheses import hypothesis_references, validate_hypothesis
from .kruskal import SMALL_GROUP_SIZE
from .questionnaire import ITEM_TESTS, UNCORRECTED

PLAN_FORMAT = 1
FAMILY_CORRECTIONS = (*CORRECTION_METHODS, UNCORRECTED)
EXACT_POLICIES = ("auto", "always")
SCALE_GROUP = "satisfaction"
DEFAULT_SEED = 20210101
PLAN_KEYS = ("plan_format", "conditions", "items", "families", "tests", "scales", "correction", "alpha",
             "sidedness", "exact", "effect_sizes", "exclusions", "hypotheses", "planned_sample_size")
EDITABLE_KEYS = tuple(key for key in PLAN_KEYS if key not in ("plan_format", "conditions", "items"))


def _fail(message: str) -> None:
    raise AnalysisInputError(message)


def _number(value: Any, name: str, low: float, high: float, *, closed_low: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        _fail(f"{name} must be a number, not {value!r}.")
    if not ((low <= value if closed_low else low < value) and value < high):
        _fail(f"{name} must be {'at least' if closed_low else 'above'} {low:g} and below {high:g}, not {value!r}.")
    return float(value)


def _integer(value: Any, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        _fail(f"{name} must be an integer of at least {low}, not {value!r}.")
    return int(value)


def default_scales(items: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """The explanation-satisfaction scale (Hoffman et al., 2018) when a study has two or more of its items."""
    members = [item["key"] for item in items if item.get("group") == SCALE_GROUP]
    if len(members) < 2:
        return {}
    return {f"{SCALE_GROUP}_scale": {"items": members, "text": "Mean of the explanation satisfaction items."}}


def default_plan(
    *,
    conditions: Sequence[Mapping[str, str]],
    items: Sequence[Mapping[str, Any]],
    min_stimulus_seconds: float = 0.0,
    target_per_condition: int | None = None,
) -> dict[str, Any]:
    """The plan a study gets when its researcher writes none: the seed study's procedure (section 3.3)."""
    return complete_plan({"planned_sample_size": {"per_condition": target_per_condition, "rationale": ""},
                          "exclusions": {"min_stimulus_seconds": float(min_stimulus_seconds)}},
                         conditions=conditions, items=items)


def complete_plan(
    spec: Mapping[str, Any], *, conditions: Sequence[Mapping[str, str]], items: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """A researcher's plan (only EDITABLE_KEYS) validated and completed with the study's conditions and
    Likert items and the defaults; AnalysisInputError names the first problem."""
    if not isinstance(spec, Mapping):
        _fail("The analysis plan must be an object.")
    unknown = sorted(set(spec) - set(PLAN_KEYS))
    if unknown:
        _fail(f"Unknown plan field(s) {', '.join(map(repr, unknown))}; known: {', '.join(EDITABLE_KEYS)}.")
    item_keys = [item["key"] for item in items]
    slugs = [condition["slug"] for condition in conditions]
    plan: dict[str, Any] = {
        "plan_format": PLAN_FORMAT,
        "conditions": [{"slug": c["slug"], "name": c.get("name", c["slug"])} for c in conditions],
        "items": [{"key": i["key"], "text": i.get("text", ""), "group": i.get("group", ""),
                   "scale_points": int(i.get("scale_points", 7)), "reverse_coded": bool(i.get("reverse_coded"))}
                  for i in items],
    }
    correction = spec.get("correction", "bonferroni")
    if correction not in CORRECTION_METHODS:
        _fail(f"Unknown correction method {correction!r}; choose one of: {', '.join(CORRECTION_METHODS)}.")
    plan["correction"] = correction
    plan["alpha"] = _number(spec.get("alpha", 0.05), "alpha", 0.0, 1.0)
    sidedness = spec.get("sidedness", "two-sided")
    if sidedness != "two-sided":
        _fail("sidedness applies to every test and must be 'two-sided'; give a one-sided comparison per item "
              "in tests, e.g. {\"arms\": {\"test\": \"mann_whitney\", \"alternative\": \"greater\"}}.")
    plan["sidedness"] = sidedness

    scales_spec = spec.get("scales", default_scales(plan["items"]))
    if not isinstance(scales_spec, Mapping):
        _fail("scales must map a scale name to {\"items\": [...]}.")
    scales: dict[str, dict[str, Any]] = {}
    for name, scale in scales_spec.items():
        if name in item_keys:
            _fail(f"Scale {name!r} has the name of an item; choose another name.")
        members = scale.get("items") if isinstance(scale, Mapping) else None
        if not isinstance(members, list) or len(members) < 2:
            _fail(f"Scale {name!r} needs a list of at least two items.")
        for key in members:
            if key not in item_keys:
                _fail(f"Scale {name!r} names {key!r}, which is not a Likert item of this study.")
        scales[str(name)] = {"items": list(members), "text": str(scale.get("text", ""))}
    plan["scales"] = scales
    known = item_keys + list(scales)

    tests_spec = spec.get("tests", {})
    if not isinstance(tests_spec, Mapping):
        _fail("tests must map an item key to {\"test\": ..., \"alternative\": ...}.")
    tests: dict[str, dict[str, str]] = {}
    for key in known:
        chosen = tests_spec.get(key, {})
        if not isinstance(chosen, Mapping):
            _fail(f"tests.{key} must be an object.")
        name = chosen.get("test", "kruskal_wallis")
        alternative = chosen.get("alternative", "two-sided")
        if name not in ITEM_TESTS:
            _fail(f"tests.{key}: unknown test {name!r}; choose one of: {', '.join(ITEM_TESTS)}.")
        if alternative not in ALTERNATIVES:
            _fail(f"tests.{key}: alternative must be one of {', '.join(ALTERNATIVES)}, not {alternative!r}.")
        if name == "kruskal_wallis" and alternative != "two-sided":
            _fail(f"tests.{key}: the Kruskal-Wallis test is two-sided; use mann_whitney for a one-sided test.")
        if name == "mann_whitney" and len(slugs) != 2:
            _fail(f"tests.{key}: the Mann-Whitney test needs exactly two conditions; this study has {len(slugs)}.")
        tests[key] = {"test": name, "alternative": alternative}
    for key in tests_spec:
        if key not in known:
            _fail(f"tests names {key!r}, which is not a Likert item or scale of this study.")
    plan["tests"] = tests

    plan["families"] = _families(spec.get("families"), plan, known, correction)

    exact = spec.get("exact", {})
    if not isinstance(exact, Mapping):
        _fail("exact must be an object.")
    policy = exact.get("policy", "auto")
    if policy not in EXACT_POLICIES:
        _fail(f"exact.policy must be one of {', '.join(EXACT_POLICIES)}, not {policy!r} (an approximate p is "
              "never used for small groups).")
    plan["exact"] = {"policy": policy,
                     "min_group_size": _integer(exact.get("min_group_size", SMALL_GROUP_SIZE), "exact.min_group_size",
                                                SMALL_GROUP_SIZE),
                     "resamples": _integer(exact.get("resamples", DEFAULT_RESAMPLES), "exact.resamples", 999),
                     "seed": _integer(exact.get("seed", DEFAULT_SEED), "exact.seed", 0)}
    effects = spec.get("effect_sizes", {})
    if not isinstance(effects, Mapping):
        _fail("effect_sizes must be an object.")
    plan["effect_sizes"] = {
        "confidence": _number(effects.get("confidence", 0.95), "effect_sizes.confidence", 0.0, 1.0),
        "bootstrap_resamples": _integer(effects.get("bootstrap_resamples", 2000),
                                        "effect_sizes.bootstrap_resamples", 200),
    }
    exclusions = spec.get("exclusions", {})
    if not isinstance(exclusions, Mapping):
        _fail("exclusions must be an object.")
    rules = {}
    for rule in ("simulated", "incomplete", "failed_attention"):
        value = exclusions.get(rule, True)
        if not isinstance(value, bool):
            _fail(f"exclusions.{rule} must be true or false, not {value!r}.")
        rules[rule] = value
    rules["min_stimulus_seconds"] = _number(exclusions.get("min_stimulus_seconds", 0.0),
                                            "exclusions.min_stimulus_seconds", 0.0, math.inf, closed_low=True)
    unknown = sorted(set(exclusions) - set(rules))
    if unknown:
        _fail(f"Unknown exclusion rule(s) {', '.join(map(repr, unknown))}; known: {', '.join(rules)}.")
    plan["exclusions"] = rules

    plan["hypotheses"] = _hypotheses(spec.get("hypotheses", []), known, slugs)
    planned = spec.get("planned_sample_size") or {}
    if not isinstance(planned, Mapping):
        _fail("planned_sample_size must be an object: {\"per_condition\": 30, \"rationale\": \"...\"}.")
    per_condition = planned.get("per_condition")
    if per_condition is not None:
        per_condition = _integer(per_condition, "planned_sample_size.per_condition", 1)
    plan["planned_sample_size"] = {
        "per_condition": per_condition,
        "total": per_condition * len(slugs) if per_condition else None,
        "rationale": str(planned.get("rationale", "")),
    }
    return plan


def _families(given: Any, plan: Mapping[str, Any], known: Sequence[str], correction: str) -> dict[str, Any]:
    """{family: {"items": [...], "correction": ...}}; items not named go to their group's family."""
    families: dict[str, dict[str, Any]] = {}
    assigned: dict[str, str] = {}
    if given is not None and not isinstance(given, Mapping):
        _fail('families must map a family name to a list of item keys, e.g. {"pattern": ["arms", "colour"]}.')
    for name, members in (given or {}).items():
        own = members.get("correction", correction) if isinstance(members, Mapping) else correction
        keys = members.get("items") if isinstance(members, Mapping) else members
        if not isinstance(keys, list) or not keys or not all(isinstance(k, str) for k in keys):
            _fail(f"Family {name!r} must list at least one item key.")
        if own not in FAMILY_CORRECTIONS:
            _fail(f"Family {name!r}: unknown correction {own!r}; choose one of: {', '.join(FAMILY_CORRECTIONS)}.")
        for key in keys:
            if key not in known:
                _fail(f"Family {name!r} names {key!r}, which is not a Likert item or scale of this study.")
        if len(keys) == 1 and own != UNCORRECTED:
            _fail(f"Family {name!r} has one item, so a {own} correction over it changes nothing: give it "
                  f"\"correction\": \"{UNCORRECTED}\" or put the item in a family with others.")
        for key in keys:
            if key in assigned:
                _fail(f"Item {key!r} is in two families ({assigned[key]!r}, {name!r}).")
            assigned[key] = str(name)
        families[str(name)] = {"items": list(keys), "correction": own}
    # Items the researcher did not place form a family per item group (a scale score one of its own),
    # corrected with the plan's correction when it has several members.
    groups = {item["key"]: item["group"] or "default" for item in plan["items"]}
    automatic: dict[str, list[str]] = {}
    for key in known:
        if key not in assigned:
            name = groups.get(key, key)
            automatic.setdefault(name if name not in families else f"{name}_unassigned", []).append(key)
    for name, keys in automatic.items():
        families[name] = {"items": keys, "correction": correction if len(keys) > 1 else UNCORRECTED}
    return families


def _hypotheses(given: Any, known: Sequence[str], slugs: Sequence[str]) -> list[dict[str, Any]]:
    if not isinstance(given, list):
        _fail("hypotheses must be a list.")
    hypotheses = []
    seen: set[str] = set()
    for entry in given:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("key"), str) or not entry["key"]:
            _fail("Every hypothesis needs a key.")
        key = entry["key"]
        if key in seen:
            _fail(f"Hypothesis {key!r} appears twice.")
        try:
            parameters = validate_hypothesis(entry.get("kind", ""), entry.get("parameters", {}))
        except AnalysisInputError as error:
            _fail(f"Hypothesis {key!r}: {error}")
        names, conditions = hypothesis_references(entry["kind"], parameters)
        for name in sorted(names):
            if name not in known:
                _fail(f"Hypothesis {key!r} names item {name!r}, which is not a Likert item or scale of this study.")
        for condition in sorted(conditions):
            if condition not in slugs:
                _fail(f"Hypothesis {key!r} names condition {condition!r}, which is not a condition of this study.")
        for required in parameters.get("requires", []) if entry["kind"] == "compound" else []:
            if required not in seen:
                _fail(f"Hypothesis {key!r} requires {required!r}, which is not an earlier hypothesis of the plan.")
        seen.add(key)
        hypotheses.append({"key": key, "kind": entry["kind"], "parameters": parameters,
                           "description": str(entry.get("description", ""))})
    return hypotheses


OVERRIDE_FIELDS = ("correction", "alpha", "families", "include_simulated", "min_stimulus_seconds",
                   "exclude_failed_attention", "exclude_incomplete", "exact")


def apply_overrides(plan: Mapping[str, Any], overrides: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The plan with an analysis' own options applied, and each departure from the plan in words."""
    effective = copy.deepcopy(dict(plan))
    departures: list[str] = []

    def depart(what: str, planned: Any, used: Any) -> None:
        departures.append(f"{what}: {used!r} instead of the planned {planned!r}")

    if overrides.get("correction") not in (None, plan["correction"]):
        if overrides["correction"] not in CORRECTION_METHODS:
            _fail(f"Unknown correction method {overrides['correction']!r}; choose one of: "
                  f"{', '.join(CORRECTION_METHODS)}.")
        depart("correction", plan["correction"], overrides["correction"])
        effective["correction"] = overrides["correction"]
        for family in effective["families"].values():
            family["correction"] = overrides["correction"]  # one p adjusted alone stays as it is
    if overrides.get("alpha") is not None and overrides["alpha"] != plan["alpha"]:
        effective["alpha"] = _number(overrides["alpha"], "alpha", 0.0, 1.0)
        depart("alpha", plan["alpha"], effective["alpha"])
    if overrides.get("families") is not None:
        families = overrides["families"]
        if not (isinstance(families, Mapping) and all(
                isinstance(k, str) and isinstance(v, list) and all(isinstance(x, str) for x in v)
                for k, v in families.items())):
            _fail('families must map a family name to a list of item keys, e.g. {"main": ["arms"]}.')
        planned = {name: family["items"] for name, family in plan["families"].items()}
        if {k: list(v) for k, v in families.items()} != planned:
            known = [item["key"] for item in plan["items"]] + list(plan["scales"])
            explicit = {name: {"items": list(keys), "correction": effective["correction"]}
                        for name, keys in families.items()}
            for name, keys in families.items():
                for key in keys:
                    if key not in known:
                        _fail(f"Family {name!r} names unknown item {key!r}.")
            rest = _families(None, {"items": [i for i in plan["items"]
                                              if all(i["key"] not in keys for keys in families.values())]},
                             [k for k in known if all(k not in keys for keys in families.values())],
                             effective["correction"])
            effective["families"] = {**explicit, **rest}
            depart("families", planned, {k: list(v) for k, v in families.items()})
    rules = effective["exclusions"]
    for name, rule, invert in (("include_simulated", "simulated", True), ("exclude_incomplete", "incomplete", False),
                               ("exclude_failed_attention", "failed_attention", False)):
        if overrides.get(name) is not None:
            wanted = (not overrides[name]) if invert else bool(overrides[name])
            if wanted != rules[rule]:
                depart(f"exclusion rule {rule}", rules[rule], wanted)
                rules[rule] = wanted
    seconds = overrides.get("min_stimulus_seconds")
    if seconds is not None:
        seconds = _number(seconds, "min_stimulus_seconds", 0.0, math.inf, closed_low=True)
        if seconds != rules["min_stimulus_seconds"]:
            depart("exclusion threshold min_stimulus_seconds", rules["min_stimulus_seconds"], seconds)
            rules["min_stimulus_seconds"] = seconds
    if overrides.get("exact") not in (None, plan["exact"]["policy"]):
        if overrides["exact"] not in EXACT_POLICIES:
            _fail(f"exact must be one of {', '.join(EXACT_POLICIES)}, not {overrides['exact']!r}.")
        depart("exact p policy", plan["exact"]["policy"], overrides["exact"])
        effective["exact"]["policy"] = overrides["exact"]
    return effective, departures


def plan_text(plan: Mapping[str, Any], *, title: str, version: int | None, frozen_at: str | None) -> str:
    """The plan as AsPredicted-style answers, for a preregistration or an appendix."""
    conditions = ", ".join(f"{c['name']} ({c['slug']})" for c in plan["conditions"])
    items = {item["key"]: item for item in plan["items"]}
    lines = [f"Analysis plan of “{title}”" + (f", version {version}" if version else ""),
             f"Frozen at launch: {frozen_at}" if frozen_at else "Not frozen yet (the study is a draft).", ""]
    lines += ["1) Have any data been collected for this study already?",
              "No data had been collected when this plan was frozen (it is frozen when the study is launched)."
              if frozen_at else "Not yet: the study is a draft.", ""]
    lines.append("2) Hypotheses")
    for hypothesis in plan["hypotheses"]:
        lines.append(f"- {hypothesis['key']}: {hypothesis['description'] or hypothesis['kind']}")
        lines.append(f"  operationalised as {_hypothesis_words(hypothesis)}")
    if not plan["hypotheses"]:
        lines.append("- None preregistered (every analysis is exploratory).")
    lines += ["", "3) Dependent variables"]
    for key, item in items.items():
        lines.append(f"- {key}: “{item['text']}” ({item['scale_points']}-point Likert scale"
                     f"{', reverse-coded' if item['reverse_coded'] else ''})")
    for name, scale in plan["scales"].items():
        lines.append(f"- {name}: mean of {', '.join(scale['items'])} (Cronbach's alpha reported with its "
                     "Feldt interval)")
    lines += ["", "4) Conditions", f"Between groups, participants assigned at random and balanced: {conditions}.",
              "", "5) Analyses"]
    for key, test in plan["tests"].items():
        name = "Kruskal-Wallis H test across conditions" if test["test"] == "kruskal_wallis" else \
            f"Mann-Whitney U test ({test['alternative']})"
        lines.append(f"- {key}: {name}")
    for name, family in plan["families"].items():
        lines.append(f"- Family {name}: {', '.join(family['items'])}; correction: {family['correction']}")
    exact = plan["exact"]
    lines += [f"- alpha = {plan['alpha']}, two-sided unless stated above; a hypothesis that compares conditions "
              "uses its item's p adjusted within the family.",
              f"- p values are exact (full enumeration) or permutation estimates (seed {exact['seed']}, "
              f"{exact['resamples']} resamples, Monte-Carlo error reported) "
              + ("for every test." if exact["policy"] == "always" else
                 f"whenever a condition has fewer than {exact['min_group_size']} answers."),
              f"- Effect sizes: epsilon-squared with a {plan['effect_sizes']['confidence']:.0%} bootstrap interval "
              f"({plan['effect_sizes']['bootstrap_resamples']} resamples); for two conditions Vargha-Delaney A, "
              "Cliff's delta and the Hodges-Lehmann shift with its interval.", "",
              "6) Outliers and exclusions"]
    rules = plan["exclusions"]
    lines += [f"- Simulated participants: {'excluded' if rules['simulated'] else 'included'}.",
              f"- Participants who did not complete the study: {'excluded' if rules['incomplete'] else 'included'}.",
              f"- Failed attention check: {'excluded' if rules['failed_attention'] else 'included'}.",
              f"- Less than {rules['min_stimulus_seconds']:g} s on the stimulus page: excluded."
              if rules["min_stimulus_seconds"] else "- No minimum time on the stimulus page.",
              "- An exclusion sensitivity table reports whether any verdict changes with each rule switched off.",
              "", "7) Sample size"]
    planned = plan["planned_sample_size"]
    lines.append(f"{planned['per_condition']} participants per condition ({planned['total']} in total)."
                 if planned["per_condition"] else "Not planned.")
    if planned["rationale"]:
        lines.append(planned["rationale"])
    lines += ["", "8) Other", "Analyses departing from this plan are reported as exploratory, listing each "
              "departure; interim looks at the data are logged with the plan."]
    return "\n".join(lines) + "\n"


def _hypothesis_words(hypothesis: Mapping[str, Any]) -> str:
    params = hypothesis["parameters"]
    if hypothesis["kind"] == "compound":
        parts = [_hypothesis_words({"kind": s["kind"], "parameters": s}) for s in params["statements"]]
        text = f" {params['combine'].upper()} ".join(f"({part})" for part in parts)
        return text + (f", requires {', '.join(params['requires'])}" if params["requires"] else "")
    if hypothesis["kind"] == "proportion_agree":
        relation = "at least" if params["comparison"] == "at_least" else "below"
        return (f"share of {params['condition']} who at least somewhat {params['side']} with {params['item']} "
                f"{relation} {params['threshold']:.0%}")
    return f"{params['item']} rated higher in {params['higher']} than in {params['lower']} (family-adjusted p < alpha)"
