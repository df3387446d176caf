"""The models an explanation method uses besides the one it explains (a VAE, an exaggeration explainer, an
ensemble): checked against the explained model before anything is generated, loaded by the worker.

Roles and the kinds they need are declared once in explainers.core.methods.registry.AUXILIARY_ROLES.
"""
from __future__ import annotations

from typing import Any

from explainers.core.methods.registry import AUXILIARY_ROLES, MethodError, auxiliary_field, method_get
from explainers.models import RegisteredModel


def _auxiliary_keys(value, field: str) -> list[int]:
    keys = value if isinstance(value, (list, tuple)) else [value]
    if not keys or any(isinstance(k, bool) or not isinstance(k, int) or k < 1 for k in keys):
        raise MethodError(f"{field} must name a registered model by its id (a positive whole number"
                          f"{', or a list of them' if isinstance(value, (list, tuple)) else ''}), got {value!r}")
    return list(keys)


def auxiliary_models_check(*, owner, model: RegisteredModel, method: str,
                           config: dict[str, Any]) -> dict[str, list[RegisteredModel]]:
    """The registered models a method uses besides ``model`` (role -> models), each checked: it exists, it is the
    researcher's own, of the kind the role needs, takes the explained model's images and, where it records
    which model it was trained to explain (``metrics["explains"]["sha256"]``), was trained for this one.
    MethodError naming the problem otherwise."""
    found: dict[str, list[RegisteredModel]] = {}
    for role in method_get(method).auxiliary:
        field = auxiliary_field(role)
        kind, what = AUXILIARY_ROLES[role]
        value = config.get(field)
        if value in (None, [], ()):
            raise MethodError(f"{method} needs {what}: set {field} to the id of a registered {kind} model")
        models = []
        for key in _auxiliary_keys(value, field):
            other = RegisteredModel.objects.filter(pk=key).first()
            if other is None or (owner is not None and not owner.is_superuser
                                 and other.owner_id not in (None, owner.pk)):
                raise MethodError(f"{field}: there is no registered model {key} of yours")
            if other.kind != kind:
                raise MethodError(f"{field}: model {other.name!r} is a {other.get_kind_display().lower()} model; "
                                  f"{method} needs {what}")
            if list(other.input_shape) != list(model.input_shape):
                raise MethodError(f"{field}: model {other.name!r} takes images of shape {list(other.input_shape)} "
                                  f"(C×H×W) but {model.name!r} takes {list(model.input_shape)}")
            explains = (other.metrics or {}).get("explains") or {}
            if explains.get("sha256") and explains["sha256"] != model.sha256:
                raise MethodError(f"{field}: {other.name!r} was trained to explain model "
                                  f"{explains.get('name') or explains.get('id')!r}, not {model.name!r}")
            if kind == RegisteredModel.Kind.DIFFERENTIABLE and list(other.class_names) != list(model.class_names):
                raise MethodError(f"{field}: model {other.name!r} has classes {list(other.class_names)}, "
                                  f"{model.name!r} has {list(model.class_names)}")
            models.append(other)
        found[role] = models
    return found


def auxiliary_models_load(*, owner, model: RegisteredModel, method: str, config: dict[str, Any], device):
    """(role -> the loaded network, or a list of them for a list of ids; role -> the registered models) after
    the same checks as ``auxiliary_models_check``."""
    from explainers.services.classifiers import classifier_load

    used = auxiliary_models_check(owner=owner, model=model, method=method, config=config)
    loaded = {}
    for role, models in used.items():
        networks = [classifier_load(other).to(device).eval() for other in models]
        loaded[role] = networks if isinstance(config.get(auxiliary_field(role)), list) else networks[0]
    return loaded, used
