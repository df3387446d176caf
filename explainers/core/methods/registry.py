"""One registry for every explanation method.

Each method module decorates its class with ``@register_method("name")`` and declares a frozen dataclass
config whose ``__post_init__`` validates every field, so that a bad configuration fails when a study is
configured (``method_config(name, params)``), never inside a worker.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, TypeVar

_REGISTRY: dict[str, type] = {}

T = TypeVar("T", bound=type)


#: What a method may require of a model, with the words used when a model lacks it.
CAPABILITIES = {
    "gradients": "gradients of its output with respect to the input image",
    "layers": "access to an inner layer's activations (a torch.export program or a platform-trained network; "
              "TorchScript modules do not allow forward hooks)",
    "invertible": "an invertible network (a flow trained by the platform: train_model or train_ibinn)",
    "generator": "a generative model that decodes latent codes to images",
}


#: Models a method may use besides the one it explains: role -> (the registered model kind it must be, what it
#: is, in words). The config of a method using role R has a field ``R_model``: the primary key of a registered
#: model (a list of keys for ``ensemble``); the Django side checks and loads it, the core receives the loaded
#: network in ``explain(model, images, auxiliaries={R: network})``.
AUXILIARY_ROLES = {
    "generator": ("generator", "a generative model (e.g. a VAE) of the explained model's images"),
    "explainer": ("generator", "a progressive-exaggeration explainer trained for the explained classifier"),
    "ensemble": ("differentiable", "classifiers of the explained model's classes (a list of models)"),
}

#: What a method's ``explain`` returns: ``maps`` (attribution maps N×1×H×W over each image) or ``images``
#: (K generated images per input: a counterfactual or exaggeration row, Explanation.images N×K×C×H×W).
OUTPUTS = ("map", "images")


class MethodError(ValueError):
    """An unknown method or an invalid method configuration."""


def auxiliary_field(role: str) -> str:
    """The config field naming the registered model that plays ``role``."""
    return f"{role}_model"


def register_method(name: str, *, requires: tuple[str, ...] = (),
                    auxiliary: tuple[str, ...] = ()) -> Callable[[T], T]:
    """Register an explanation method class under ``name``; the class must define ``Config``.

    ``requires`` names the model capabilities (keys of ``CAPABILITIES``) the method cannot work without;
    ``auxiliary`` the other models it uses (keys of ``AUXILIARY_ROLES``), each named in its config by
    ``auxiliary_field(role)``. A class attribute ``output`` (one of ``OUTPUTS``, default "map") says what
    ``explain`` returns.
    """
    unknown = sorted(set(requires) - set(CAPABILITIES))
    if unknown:
        raise MethodError(f"explanation method {name!r} requires unknown capabilities {unknown}")
    unknown = sorted(set(auxiliary) - set(AUXILIARY_ROLES))
    if unknown:
        raise MethodError(f"explanation method {name!r} uses unknown auxiliary model roles {unknown}; "
                          f"known: {', '.join(AUXILIARY_ROLES)}")

    def decorator(cls: T) -> T:
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise MethodError(f"explanation method {name!r} is registered twice")
        config_cls = getattr(cls, "Config", None)
        if config_cls is None or not dataclasses.is_dataclass(config_cls):
            raise MethodError(f"explanation method {name!r} must define a dataclass Config")
        fields = {f.name for f in dataclasses.fields(config_cls)}
        missing = [auxiliary_field(role) for role in auxiliary if auxiliary_field(role) not in fields]
        if missing:
            raise MethodError(f"explanation method {name!r} uses auxiliary models but its Config lacks "
                              f"{', '.join(missing)}")
        output = getattr(cls, "output", "map")
        if output not in OUTPUTS:
            raise MethodError(f"explanation method {name!r} has output {output!r}; choose one of {OUTPUTS}")
        cls.name = name
        cls.requires = frozenset(requires)
        cls.auxiliary = tuple(auxiliary)
        cls.output = output
        _REGISTRY[name] = cls
        return cls

    return decorator


def method_list() -> list[str]:
    _load_builtin_methods()
    return sorted(_REGISTRY)


def method_get(name: str) -> type:
    _load_builtin_methods()
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise MethodError(f"unknown explanation method {name!r}; known methods: {known}") from None


def methods_with_output(output: str) -> list[str]:
    """Registered methods whose ``explain`` returns ``output`` ("map" or "images")."""
    _load_builtin_methods()
    return sorted(name for name, cls in _REGISTRY.items() if cls.output == output)


def method_config(name: str, params: dict[str, Any] | None = None):
    """Build and validate the typed config of method ``name`` from plain parameters (e.g. JSON)."""
    cls = method_get(name)
    params = dict(params or {})
    fields = {f.name for f in dataclasses.fields(cls.Config)}
    unknown = sorted(set(params) - fields)
    if unknown:
        raise MethodError(
            f"{name}: unknown parameter(s) {', '.join(unknown)}; allowed: {', '.join(sorted(fields)) or 'none'}"
        )
    try:
        return cls.Config(**params)
    except (TypeError, ValueError) as exc:
        raise MethodError(f"{name}: invalid configuration: {exc}") from exc


def method_check_model(name: str, capabilities, model_description: str = "this model") -> None:
    """Refuse a model that lacks a capability method ``name`` requires (MethodError naming what is missing)."""
    cls = method_get(name)
    missing = sorted(cls.requires - set(capabilities))
    if missing:
        needs = "; ".join(CAPABILITIES[m] for m in missing)
        raise MethodError(f"{name} needs {needs}, which {model_description} does not offer")


_loaded = False


def _load_builtin_methods() -> None:
    """Import the method modules once so their decorators run."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    import importlib
    import pkgutil
    from pathlib import Path

    package = __name__.rpartition(".")[0]
    for module in pkgutil.iter_modules([str(Path(__file__).parent)]):
        if module.name != "registry" and not module.name.startswith("_"):
            importlib.import_module(f"{package}.{module.name}")
