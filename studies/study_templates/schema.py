"""The study-template format: what a template file may contain, read into typed, validated specs.

A template is a JSON object with a ``template_version`` (the format, so that an old platform refuses a newer
file instead of misreading it), a ``name``, an ``about`` text for researchers, and the study it describes:
``study`` (the fields of a Study), ``scales`` (named Likert scales the items refer to), ``conditions``,
``items`` (in the order participants see them), ``hypotheses`` (preregistered, as the stats app defines
them) and, optionally, ``simulated_answer_shares`` (the answer shares simulated participants follow) and
``design_settings`` (for a ``study.design`` other than between_group: read by that design when it is built).
Long texts may be written as a list of lines. Every problem is reported with the file and the entry it is
in; a template that parses here can still be refused when it is built (a slug already taken, a hypothesis
naming an item the template lacks), and then nothing is created.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError

TEMPLATE_VERSION = 1


class StudyTemplateError(ValueError):
    """A template that cannot be used; the message names the file and the entry to fix."""


@dataclass(frozen=True)
class ScaleSpec:
    points: int
    labels: tuple[str, ...]

    def item_fields(self) -> dict[str, Any]:
        return {"scale_points": self.points, "labels": list(self.labels),
                "anchor_low": self.labels[0], "anchor_high": self.labels[-1]}


@dataclass(frozen=True)
class ConditionSpec:
    slug: str
    name: str
    description: str
    method: str | None  # the explanation method whose grid the condition shows
    image: str | None  # or a stimulus image under MEDIA_ROOT


@dataclass(frozen=True)
class ItemSpec:
    key: str
    text: str
    kind: str
    group: str
    page: str
    scale: ScaleSpec | None
    required: bool
    reverse_coded: bool
    expected_answer: int | None
    condition: str | None


@dataclass(frozen=True)
class HypothesisSpec:
    key: str
    kind: str
    parameters: dict[str, Any]
    description: str


Shares = tuple[float, float, float]  # agree, neutral, disagree


@dataclass(frozen=True)
class AnswerShares:
    """Reported answer shares per condition: per item, and one for every item of the satisfaction group."""
    per_item: dict[str, dict[str, Shares]] = field(default_factory=dict)
    satisfaction: dict[str, Shares] = field(default_factory=dict)
    satisfaction_keys: frozenset[str] = frozenset()


@dataclass(frozen=True)
class StudyTemplate:
    name: str
    source: str  # where it was read from, for messages
    about: str
    study: dict[str, Any]  # Study fields, as study_create takes them
    conditions: tuple[ConditionSpec, ...]
    items: tuple[ItemSpec, ...]
    hypotheses: tuple[HypothesisSpec, ...]
    answer_shares: AnswerShares
    #: What a study design other than between-group reads itself when the study is built (its own format).
    design_settings: dict[str, Any] = field(default_factory=dict)
    #: The analysis plan (the stats app's format, docs/ANALYSIS_FORMAT.md); checked against the built study.
    analysis_plan: dict[str, Any] | None = None

    @property
    def slug(self) -> str:
        return self.study["slug"]

    @property
    def title(self) -> str:
        return self.study["title"]


_MISSING = object()


class _Entry:
    """One JSON object of the template: typed reads, and a complaint about any field nobody read."""

    def __init__(self, data: Any, where: str, source: str):
        self.where, self.source = where, source
        if not isinstance(data, dict):
            self.fail(f"expected an object, got {type(data).__name__}")
        self.data, self.read = data, set()

    def fail(self, message: str, key: str | None = None):
        where = f"{self.where}.{key}" if key else self.where
        raise StudyTemplateError(f"{self.source}: {where}: {message}")

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = _MISSING) -> Any:
        self.read.add(key)
        if key not in self.data:
            if default is _MISSING:
                self.fail("this field is required", key)
            return default
        value = self.data[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        # JSON true/false are ints to Python; a count or a score must not accept them.
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            names = " or ".join("null" if k is type(None) else _JSON_NAMES.get(k, k.__name__) for k in kinds)
            self.fail(f"expected {names}, got {json_type(value)}", key)
        return value

    def text(self, key: str, default: Any = _MISSING) -> str:
        """A text, written either as one string or as a list of lines."""
        value = self.get(key, (str, list), default)
        if isinstance(value, list):
            if not all(isinstance(line, str) for line in value):
                self.fail("expected a string or a list of strings", key)
            return "\n".join(value)
        return value

    def choice(self, key: str, choices: list[str], default: Any = _MISSING) -> str:
        value = self.get(key, str, default)
        if value not in choices:
            self.fail(f"{value!r} is not one of {', '.join(choices)}", key)
        return value

    def entries(self, key: str) -> list[_Entry]:
        values = self.get(key, list, [])
        return [_Entry(value, f"{self.where}.{key}[{index}]", self.source) for index, value in enumerate(values)]

    def done(self) -> None:
        unknown = sorted(set(self.data) - self.read)
        if unknown:
            self.fail(f"unknown field(s) {', '.join(map(repr, unknown))}; known: {', '.join(sorted(self.read))}")


_JSON_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false", list: "a list",
               dict: "an object"}


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    return _JSON_NAMES.get(type(value), type(value).__name__)


def template_parse(data: Any, *, source: str) -> StudyTemplate:
    """Validate a template's decoded JSON into a StudyTemplate; StudyTemplateError names the first problem."""
    from stats.models import Hypothesis
    from studies.models import Item, Study

    root = _Entry(data, "template", source)
    version = root.get("template_version", int)
    if version != TEMPLATE_VERSION:
        root.fail(f"this platform reads template version {TEMPLATE_VERSION}; the file is version {version}",
                  "template_version")
    name = root.get("name", str)
    about = root.text("about", "")

    study_entry = _Entry(root.get("study", dict), "study", source)
    study = {
        "slug": study_entry.get("slug", str), "title": study_entry.get("title", str),
        "description": study_entry.text("description", ""),
        "platform": study_entry.choice("platform", Study.Platform.values, Study.Platform.PROLIFIC),
        "completion_code": study_entry.get("completion_code", str, ""),
        "attention_fail_code": study_entry.get("attention_fail_code", str, ""),
        "consent_text": study_entry.text("consent_text", ""),
        "instructions_text": study_entry.text("instructions_text", ""),
        "instructions_video_url": study_entry.get("instructions_video_url", str, ""),
        "target_per_condition": study_entry.get("target_per_condition", (int, type(None)), None),
        "min_stimulus_seconds": study_entry.get("min_stimulus_seconds", int, 0),
        "randomize_items": study_entry.get("randomize_items", bool, False),
        "design": study_entry.choice("design", Study.Design.values, Study.Design.BETWEEN_GROUP),
    }
    study_entry.done()

    scales = _scales(_Entry(root.get("scales", dict, {}), "scales", source))
    conditions = tuple(_condition(entry) for entry in root.entries("conditions"))
    _unique(root, "conditions", [c.slug for c in conditions], "condition slug")
    items = tuple(_item(entry, scales, {c.slug for c in conditions}, Item) for entry in root.entries("items"))
    _unique(root, "items", [i.key for i in items], "item key")
    analysis_plan = root.get("analysis_plan", (dict, type(None)), None)
    hypotheses = tuple(_hypothesis(entry, Hypothesis) for entry in root.entries("hypotheses"))
    _unique(root, "hypotheses", [h.key for h in hypotheses], "hypothesis key")
    shares = root.get("simulated_answer_shares", dict, None)
    answer_shares = _answer_shares(_Entry(shares, "simulated_answer_shares", source), conditions, items) \
        if shares is not None else AnswerShares()
    design_settings = root.get("design_settings", dict, {})
    root.done()
    return StudyTemplate(name=name, source=source, about=about, study=study, conditions=conditions, items=items,
                         hypotheses=hypotheses, answer_shares=answer_shares, design_settings=design_settings,
                         analysis_plan=analysis_plan)


def _unique(root: _Entry, key: str, values: list[str], what: str) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            root.fail(f"{what} {value!r} appears twice", key)
        seen.add(value)


def _scales(entry: _Entry) -> dict[str, ScaleSpec]:
    scales = {}
    for name in list(entry.data):
        scale = _Entry(entry.get(name, dict), f"scales.{name}", entry.source)
        labels = scale.get("labels", list)
        points = scale.get("points", int)
        if len(labels) != points or not all(isinstance(label, str) and label for label in labels):
            scale.fail(f"give one non-empty label per point ({points}), got {len(labels)}", "labels")
        scale.done()
        scales[name] = ScaleSpec(points=points, labels=tuple(labels))
    return scales


def _condition(entry: _Entry) -> ConditionSpec:
    slug, name = entry.get("slug", str), entry.get("name", str)
    description = entry.text("description", "")
    method = entry.get("method", (str, type(None)), None)
    image = entry.get("image", (str, type(None)), None)
    if method and image:
        entry.fail("give either a method (its grid is linked when the study is built) or an image, not both")
    entry.done()
    return ConditionSpec(slug=slug, name=name, description=description, method=method, image=image)


def _item(entry: _Entry, scales: dict[str, ScaleSpec], conditions: set[str], Item) -> ItemSpec:
    kind = entry.choice("kind", Item.Kind.values)
    scale_name = entry.get("scale", (str, type(None)), None)
    if kind == Item.Kind.FREE_TEXT:
        if scale_name is not None:
            entry.fail("a free-text item has no scale", "scale")
        scale = None
    elif scale_name not in scales:
        entry.fail(f"name one of the template's scales ({', '.join(scales) or 'none defined'})", "scale")
    else:
        scale = scales[scale_name]
    expected = entry.get("expected_answer", (int, type(None)), None)
    if kind == Item.Kind.ATTENTION_CHECK and not (expected is not None and 1 <= expected <= scale.points):
        entry.fail(f"an attention check needs the scale point (1 to {scale.points}) careful participants pick",
                   "expected_answer")
    condition = entry.get("condition", (str, type(None)), None)
    if condition is not None and condition not in conditions:
        entry.fail(f"{condition!r} is not a condition of the template", "condition")
    spec = ItemSpec(key=entry.get("key", str), text=entry.text("text"), kind=kind, group=entry.get("group", str, ""),
                    page=entry.choice("page", Item.Page.values), scale=scale,
                    required=entry.get("required", bool, True), reverse_coded=entry.get("reverse_coded", bool, False),
                    expected_answer=expected, condition=condition)
    entry.done()
    return spec


def _hypothesis(entry: _Entry, Hypothesis) -> HypothesisSpec:
    spec = HypothesisSpec(key=entry.get("key", str), kind=entry.get("kind", str),
                          parameters=entry.get("parameters", dict), description=entry.text("description", ""))
    entry.done()
    # The stats app's own validation (kind and parameters); whether the items and conditions it names exist
    # is checked against the built study, in the same transaction.
    unsaved = Hypothesis(key=spec.key, kind=spec.kind, parameters=dict(spec.parameters), description=spec.description)
    try:
        unsaved.full_clean(exclude=["study"], validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        entry.fail(validation_message(exc))
    return HypothesisSpec(key=spec.key, kind=spec.kind, parameters=unsaved.parameters, description=spec.description)


def _answer_shares(entry: _Entry, conditions: tuple[ConditionSpec, ...],
                   items: tuple[ItemSpec, ...]) -> AnswerShares:
    slugs, keys = {c.slug for c in conditions}, {i.key for i in items}

    def shares(value: Any, where: str) -> Shares:
        if not (isinstance(value, list) and len(value) == 3
                and all(isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0 for v in value)
                and sum(value) > 0):
            entry.fail("expected [agree, neutral, disagree]: three non-negative numbers, not all zero", where)
        return tuple(float(v) for v in value)

    def known_condition(condition: str, where: str) -> None:
        if condition not in slugs:
            entry.fail(f"{condition!r} is not a condition of the template", where)

    per_item: dict[str, dict[str, Shares]] = {}
    for condition, by_item in entry.get("per_item", dict, {}).items():
        known_condition(condition, f"per_item.{condition}")
        if not isinstance(by_item, dict):
            entry.fail("expected an object mapping item keys to shares", f"per_item.{condition}")
        for key, value in by_item.items():
            if key not in keys:
                entry.fail(f"{key!r} is not an item of the template", f"per_item.{condition}")
            per_item.setdefault(condition, {})[key] = shares(value, f"per_item.{condition}.{key}")
    satisfaction = {}
    for condition, value in entry.get("satisfaction", dict, {}).items():
        known_condition(condition, f"satisfaction.{condition}")
        satisfaction[condition] = shares(value, f"satisfaction.{condition}")
    entry.text("source", "")
    entry.done()
    return AnswerShares(per_item=per_item, satisfaction=satisfaction,
                        satisfaction_keys=frozenset(i.key for i in items if i.group == "satisfaction"))


def validation_message(exc: ValidationError) -> str:
    """A Django ValidationError as one line: "field: message; other: message"."""
    if hasattr(exc, "error_dict"):
        return "; ".join(f"{name}: {' '.join(messages)}" if name != "__all__" else " ".join(messages)
                         for name, messages in exc.message_dict.items())
    return " ".join(exc.messages)
