"""How a simulated participant answers: weights over the scale points per condition and item.

The default follows the answer shares Sixt et al. report in Figure 4 and Figure 10 (the seed study's
REPORTED_SHARES); a JSON file can override any condition and item. `ResponsePolicy` turns the weights into
one answer per item; a study design that asks differently plugs in a subclass.
"""
from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from .spec import ItemSpec, StudySpec

#: How a reported "agree" share spreads over somewhat agree / agree / strongly agree (mirrored for disagree).
AGREE_SPLIT = (0.25, 0.45, 0.30)
FREE_TEXT_ANSWERS = (
    "I compared the columns from left to right and looked at what changed.",
    "Mostly the position of the arms; colour seemed to shift a little too.",
    "I was not sure; the rows looked very similar to me.",
    "The rotation of the animal changed along the rows, so I agreed with that statement.",
)

Policy = dict[str, dict[str, tuple[float, ...]]]  # condition slug -> item key -> weights per scale point


class PolicyError(ValueError):
    """A response policy (file) is malformed; the message says where."""


class ResponsePolicy:
    """One answer per item: Likert items drawn from the weights, attention checks passed or failed as the
    bot's plan says, optional free text left blank half of the time."""

    free_texts: tuple[str, ...] = FREE_TEXT_ANSWERS

    def __init__(self, weights: Policy | None = None) -> None:
        self.weights: Policy = weights or {}

    def answer(self, item: ItemSpec, *, condition: str, fail_attention: bool, rng: random.Random,
               participant: int) -> str | None:
        """The value to submit for `item`, or None to leave it blank; `participant` is the bot's index."""
        if item.kind == "free_text":
            if not item.required and rng.random() < 0.5:
                return None
            return self.free_text(rng, participant)
        if item.is_attention_check:
            if not fail_attention:
                return str(item.expected_answer)
            wrong = [point for point in range(1, item.scale_points + 1) if point != item.expected_answer]
            return str(rng.choice(wrong))
        weights = self.weights.get(condition, {}).get(item.key) or uninformed_weights(item.scale_points)
        return str(rng.choices(range(1, item.scale_points + 1), weights=weights)[0])

    def free_text(self, rng: random.Random, participant: int) -> str:
        return rng.choice(self.free_texts)


def shares_to_weights(agree: float, neutral: float, disagree: float, points: int = 7) -> tuple[float, ...]:
    """Map (agree, neutral, disagree) shares onto a Likert scale: disagree over the lower half, neutral in
    the middle, agree over the upper half (for 7 points: AGREE_SPLIT over 5-7, mirrored over 1-3)."""
    half = points // 2
    if half == 3:
        upper = AGREE_SPLIT
    else:
        upper = tuple(1.0 / half for _ in range(half))
    weights = [disagree * w for w in reversed(upper)] + [float(neutral)] + [agree * w for w in upper]
    total = sum(weights)
    return tuple(w / total for w in weights)


def uninformed_weights(points: int) -> tuple[float, ...]:
    """Items the policy says nothing about: a triangular distribution peaking at the neutral middle."""
    middle = points // 2
    weights = [float(middle + 1 - abs(index - middle)) for index in range(points)]
    total = sum(weights)
    return tuple(w / total for w in weights)


def policy_default(spec: StudySpec) -> Policy:
    """The seed study's reported answer shares, for every condition and item the seed names."""
    reported, satisfaction_shares, satisfaction_keys = _seed_study_shares()
    policy: Policy = {}
    scaled = spec.scaled_items()
    for condition in spec.conditions:
        per_item: dict[str, tuple[float, ...]] = {}
        for key, shares in reported.get(condition, {}).items():
            if key in scaled and not scaled[key].is_attention_check:
                per_item[key] = shares_to_weights(*shares, points=scaled[key].scale_points)
        satisfaction = satisfaction_shares.get(condition)
        if satisfaction is not None:
            for key, item in scaled.items():
                if key in satisfaction_keys and item.page == "satisfaction" and not item.is_attention_check:
                    per_item[key] = shares_to_weights(*satisfaction, points=item.scale_points)
        policy[condition] = per_item
    return policy


def _seed_study_shares() -> tuple[dict, dict, set[str]]:
    """(shares per condition and item, satisfaction shares per condition, satisfaction item keys)."""
    from studies.study_templates import reported_answer_shares

    shares = reported_answer_shares()
    return shares.per_item, shares.satisfaction, set(shares.satisfaction_keys)


def policy_parse(raw: Any, spec: StudySpec, *, source: str = "policy") -> Policy:
    """Validate a policy {condition: {item key: [weight per scale point]}}; "*" stands for every condition.

    Raises PolicyError naming the offending condition, item or weight.
    """
    if not isinstance(raw, dict):
        raise PolicyError(f"{source}: expected a JSON object mapping condition slugs to items, "
                          f"got {type(raw).__name__}.")
    scaled = spec.scaled_items()
    parsed: Policy = {}
    for condition, items in raw.items():
        if condition != "*" and condition not in spec.conditions:
            raise PolicyError(f"{source}: unknown condition {condition!r}; the study {spec.slug!r} has "
                              f"{', '.join(spec.conditions) or 'no conditions'} (or use \"*\" for all).")
        if not isinstance(items, dict):
            raise PolicyError(f"{source}: condition {condition!r} must map item keys to weight lists.")
        for key, weights in items.items():
            where = f"{source}: {condition}/{key}"
            item = scaled.get(key)
            if item is None:
                raise PolicyError(f"{where}: no Likert item {key!r} in the study; scaled items are "
                                  f"{', '.join(sorted(scaled)) or 'none'}.")
            if item.is_attention_check:
                raise PolicyError(f"{where}: attention checks follow --attention-fail-share, not the policy.")
            if not isinstance(weights, list) or len(weights) != item.scale_points:
                length = len(weights) if isinstance(weights, list) else type(weights).__name__
                raise PolicyError(f"{where}: give a list of {item.scale_points} weights (one per scale point), "
                                  f"got {length}.")
            for weight in weights:
                if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight < 0 \
                        or weight != weight or weight == float("inf"):
                    raise PolicyError(f"{where}: weights must be finite non-negative numbers, got {weight!r}.")
            total = float(sum(weights))
            if total <= 0:
                raise PolicyError(f"{where}: at least one weight must be positive.")
            targets = spec.conditions if condition == "*" else (condition,)
            for target in targets:
                parsed.setdefault(target, {})[key] = tuple(w / total for w in weights)
    return parsed


def policy_file_read(path: str | Path) -> Any:
    """The JSON of a policy file; PolicyError when it cannot be read or is not JSON."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise PolicyError(f"Cannot read the policy file {str(path)!r}: {error.strerror or error}.") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise PolicyError(f"{path}: not valid JSON ({error.msg} at line {error.lineno}, column {error.colno}).") \
            from None


def policy_load(path: str | Path, spec: StudySpec) -> Policy:
    """The default policy overridden by a JSON file (see policy_parse for the format)."""
    raw = policy_file_read(path)
    return policy_merge(policy_default(spec), policy_parse(raw, spec, source=str(path)))


def policy_merge(base: Policy, override: Policy) -> Policy:
    merged = {condition: dict(items) for condition, items in base.items()}
    for condition, items in override.items():
        merged.setdefault(condition, {}).update(items)
    return merged
