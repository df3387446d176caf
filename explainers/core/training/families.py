"""Every model family the training loop and the checkpoint reader know, by configuration, model and format."""
from __future__ import annotations

from . import glow, ibinn
from .family import ModelFamily

FAMILIES: tuple[ModelFamily, ...] = (glow.FAMILY, ibinn.FAMILY)


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
