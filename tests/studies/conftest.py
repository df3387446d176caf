from __future__ import annotations

import pytest

from .factories import make_study, make_user


@pytest.fixture
def researcher(db):
    return make_user("alice", is_staff=True)


@pytest.fixture
def other_researcher(db):
    return make_user("mallory", is_staff=True)


@pytest.fixture
def study(researcher):
    return make_study(owner=researcher, slug="pattern-study")


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # PBKDF2 with its full iteration count would dominate these tests' run time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
