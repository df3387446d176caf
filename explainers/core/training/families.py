"""Every model family the training loop and the checkpoint reader know, by configuration, model and format;
and every family's named presets, found by name (preset names are unique across families)."""
from __future__ import annotations

from typing import Any

from explainers.core.nets.glow import NetConfigError

from . import cnn, exaggeration, glow, ibinn, vae
from .config import preset_with
from .family import ModelFamily

FAMILIES: tuple[ModelFamily, ...] = (glow.FAMILY, ibinn.FAMILY, cnn.FAMILY, vae.FAMILY,
                                      exaggeration.FAMILY)


class PresetError(ValueError):
    """An unknown preset name, or overrides a preset cannot take."""


def family_of_config(config) -> ModelFamily:
    for family in FAMILIES:
        if isinstance(config, family.config_class):
            return family
    raise TypeError(f"no model family trains a {type(config).__name__}")


def family_of_model(model) -> ModelFamily:
    for family in FAMILIES:
        if isinstance(model, family.model_class):
            return family
    raise TypeError(f"no model family has a {type(model).__name__}")


def family_of_format(checkpoint_format: str) -> ModelFamily | None:
    return next((f for f in FAMILIES if f.checkpoint_format == checkpoint_format), None)


def known_formats() -> list[str]:
    return [family.checkpoint_format for family in FAMILIES]


def all_presets() -> dict[str, ModelFamily]:
    """Every preset name -> its family; a name two families define is an error (it would be ambiguous)."""
    names: dict[str, ModelFamily] = {}
    for family in FAMILIES:
        for name in family.presets:
            if name in names:
                raise PresetError(f"preset {name!r} is defined by both the {names[name].architecture} and the "
                                  f"{family.architecture} family")
            names[name] = family
    return names


def family_of_preset(name: str) -> ModelFamily:
    presets = all_presets()
    if name not in presets:
        raise PresetError(f"unknown preset {name!r}; choose one of {', '.join(sorted(presets))}")
    return presets[name]


def preset_config(name: str, **overrides: Any):
    """The training configuration of preset ``name`` (any family) with overrides; None values keep the preset's.

    Overrides are fields of the family's training configuration (``image_size`` goes to the network); a
    field the family lacks raises PresetError naming it.
    """
    family = family_of_preset(name)
    overrides = {k: v for k, v in overrides.items() if v is not None}
    field_names = set(family.config_class.__dataclass_fields__) | {"image_size"}
    unknown = sorted(set(overrides) - field_names)
    if unknown:
        raise PresetError(f"preset {name!r} ({family.architecture}) has no setting {', '.join(unknown)}")
    return preset_with(family.presets, name, family.config_class.error_class, (NetConfigError,), **overrides)
