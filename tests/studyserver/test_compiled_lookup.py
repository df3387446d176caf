"""studyserver/compiled_lookup.py: the hot whole-row lookups, compiled once, give what the ORM gives."""
from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext

from studies.models import Participant
from studyserver.compiled_lookup import CompiledLookup
from tests.studies.factories import make_study, make_user

pytestmark = pytest.mark.django_db


def _participant(study, **fields) -> Participant:
    return Participant.objects.create(study=study, platform="prolific", current_page="stimulus",
                                      item_order={"stimulus": ["b", "a"]}, **fields)


def test_rows_equal_the_orms_field_for_field_and_the_sql_is_compiled_once(django_assert_num_queries):
    study = make_study(owner=make_user(), slug="compiled")
    first, second = _participant(study, external_id="A"), _participant(study, external_id="B",
                                                                      condition=study.conditions.first())
    lookup = CompiledLookup(lambda token: Participant.objects.filter(token=token).order_by()[:1])
    for participant in (first, second):
        with django_assert_num_queries(1):
            found = lookup.get(participant.token)
        expected = Participant.objects.get(pk=participant.pk)
        fields = [f.attname for f in Participant._meta.concrete_fields]
        assert [getattr(found, f) for f in fields] == [getattr(expected, f) for f in fields]
        assert found.item_order == {"stimulus": ["b", "a"]} and found.last_seen_at == expected.last_seen_at
        assert not found._state.adding and found._state.db == "default"
    assert lookup.get("no such token") is None
    with pytest.raises(Participant.DoesNotExist):
        lookup.require("no such token")
    with CaptureQueriesContext(connection) as queries:
        lookup.get(first.token)
    assert len(queries) == 1 and "%s" not in queries[0]["sql"]


@pytest.mark.django_db(transaction=True)  # autocommit outside the atomic block, as in a web request
def test_a_locking_lookup_refuses_autocommit_and_a_value_of_another_type_goes_through_the_orm():
    study = make_study(owner=make_user(), slug="compiled-lock")
    participant = _participant(study, external_id="A")
    locked = CompiledLookup(lambda pk: Participant.objects.select_for_update(no_key=True).filter(pk=pk)[:1])
    with transaction.atomic():
        assert locked.require(participant.pk).pk == participant.pk
        assert locked.get(str(participant.pk)).pk == participant.pk  # not the compiled statement's type
    if connection.features.has_select_for_update:
        with pytest.raises(TransactionManagementError):
            locked.get(participant.pk)


def test_lookups_the_orm_would_change_or_that_select_more_than_whole_rows_are_refused():
    study = make_study(owner=make_user(), slug="compiled-refused")
    participant = _participant(study, external_id="A")
    with pytest.raises(ValueError, match="only parameter"):
        CompiledLookup(lambda token: Participant.objects.filter(token=token, external_id="A")[:1]).get(
            participant.token)
    with pytest.raises(ValueError, match="whole rows"):
        CompiledLookup(lambda token: Participant.objects.filter(token=token).only("token")[:1]).get(
            participant.token)
