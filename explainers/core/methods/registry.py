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


class MethodError(ValueError):
    """An unknown method or an invalid method configuration."""


def register_method(name: str, *, requires: tuple[str, ...] = ()) -> Callable[[T], T]:
    """Register an explanation method class under ``name``; the class must define ``Config``.

    ``requires`` names the model capabilities (keys of ``CAPABILITIES``) the method cannot work without.
    """
    unknown = sorted(set(requires) - set(CAPABILITIES))
    if unknown:
        raise MethodError(f"explanation method {name!r} requires unknown capabilities {unknown}")

    def decorator(cls: T) -> T:
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise MethodError(f"explanation method {name!r} is registered twice")
        config_cls = getattr(cls, "Config", None)
        if config_cls is None or not dataclasses.is_dataclass(config_cls):
            raise MethodError(f"explanation method {name!r} must define a dataclass Config")
        cls.name = name
        cls.requires = frozenset(requires)
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
