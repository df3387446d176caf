"""Researcher accounts: a staff user in the "Researchers" group, with an API token.

The group's permissions are derived, not hand-picked: every model of the apps a study owner works in
(studies, explainers, stats) gets the actions its admin page can offer a non-superuser at all, and
shared reference data that belongs to nobody (datasets) is view-only, because a change there would
reach every researcher's studies. Which rows a researcher then sees is the admin's and the API's
business: querysets are scoped to the owner, so a researcher never sees another one's studies.
"""
from __future__ import annotations

import inspect
import secrets
from dataclasses import dataclass
from types import SimpleNamespace

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.auth.password_validation import validate_password
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import models, transaction
from rest_framework.authtoken.models import Token

RESEARCHER_GROUP = "Researchers"
OWNER_APPS = ("studies", "explainers", "stats")
ACTIONS = ("view", "add", "change", "delete")
GENERATED_PASSWORD_BYTES = 18


@dataclass(frozen=True)
class ResearcherAccount:
    user: object
    token: str
    #: The password when it was generated here (shown once); empty when the caller chose it.
    generated_password: str


class _HoldsEveryPermission:
    """A stand-in staff user that Django's own permission checks would let do anything, so asking an admin
    what it allows reveals the admin's own restrictions only (read-only inlines, no manual participants)."""

    is_active = is_staff = True
    is_superuser = False
    is_anonymous = False
    is_authenticated = True
    pk = id = None

    def has_perm(self, perm, obj=None) -> bool:
        return True

    def has_perms(self, perm_list, obj=None) -> bool:
        return True

    def has_module_perms(self, app_label) -> bool:
        return True


def _is_owned(model: type[models.Model], seen: frozenset = frozenset()) -> bool:
    """Whether the model's rows belong to a researcher: an owner field, or a required link to a model
    whose rows do (a condition through its study, a grid cell through its grid)."""
    if model in seen:
        return False
    for field in model._meta.get_fields():
        if not (field.many_to_one and field.concrete):
            continue
        if field.name == "owner":
            return True
        if not field.null and field.related_model._meta.app_label in OWNER_APPS:
            if _is_owned(field.related_model, seen | {model}):
                return True
    return False


def _admin_actions(model_admin, request) -> set[str]:
    checks = {
        "view": model_admin.has_view_permission,
        "add": model_admin.has_add_permission,
        "change": model_admin.has_change_permission,
        "delete": model_admin.has_delete_permission,
    }
    allowed = set()
    for action, check in checks.items():
        # Inlines take the parent object; None asks about the page in general, as the add form does.
        takes_obj = "obj" in inspect.signature(check).parameters
        if check(request, None) if takes_obj else check(request):
            allowed.add(action)
    if not getattr(model_admin, "can_delete", True):  # an inline whose rows cannot be removed
        allowed.discard("delete")
    declared = model_admin.fields
    if declared is not None and set(declared) <= set(model_admin.readonly_fields):
        allowed.discard("change")  # every field is shown read-only: the page is for looking
    return allowed


def researcher_permission_codenames() -> dict[type[models.Model], set[str]]:
    """Model -> the actions a study owner needs, from the admin registrations of OWNER_APPS."""
    request = SimpleNamespace(user=_HoldsEveryPermission(), method="GET")
    needed: dict[type[models.Model], set[str]] = {}
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label not in OWNER_APPS:
            continue
        pages = [(model, model_admin)] + [
            (inline.model, inline(model, admin.site)) for inline in model_admin.inlines
        ]
        for page_model, page_admin in pages:
            actions = _admin_actions(page_admin, request)
            if not _is_owned(page_model):
                actions &= {"view"}
            needed.setdefault(page_model, set()).update(actions)
    return {model: actions for model, actions in needed.items() if actions}


def researcher_permissions() -> list[Permission]:
    wanted = researcher_permission_codenames()
    content_types = ContentType.objects.get_for_models(*wanted, for_concrete_models=False)
    found = []
    for model, actions in wanted.items():
        codenames = {f"{action}_{model._meta.model_name}" for action in actions}
        found.extend(Permission.objects.filter(content_type=content_types[model], codename__in=codenames))
    return sorted(found, key=lambda permission: (permission.content_type_id, permission.codename))


def researcher_group_sync() -> Group:
    """Create or update the Researchers group so it holds exactly the derived permissions."""
    group, _ = Group.objects.get_or_create(name=RESEARCHER_GROUP)
    group.permissions.set(researcher_permissions())
    return group


@transaction.atomic
def researcher_create(*, username: str, email: str = "", password: str | None = None) -> ResearcherAccount:
    """A new staff (not superuser) account in the Researchers group, with its API token.

    Without a password one is generated. An existing username, an invalid email or a password the
    validators reject raise ValidationError and create nothing.
    """
    user_model = get_user_model()
    username = (username or "").strip()
    if not username:
        raise ValidationError({"username": ["A username is required."]})
    if user_model.objects.filter(username=username).exists():
        raise ValidationError({"username": [f"A user named {username!r} already exists; nothing was changed."]})
    user = user_model(username=username, email=user_model.objects.normalize_email(email),
                      is_staff=True, is_superuser=False)
    user.full_clean(exclude=["password"])
    generated = ""
    if password is None:
        generated = password = secrets.token_urlsafe(GENERATED_PASSWORD_BYTES)
    validate_password(password, user)
    user.set_password(password)
    user.save()
    user.groups.add(researcher_group_sync())
    token, _ = Token.objects.get_or_create(user=user)
    return ResearcherAccount(user=user, token=token.key, generated_password=generated)
