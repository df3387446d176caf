"""Whole-row lookups by one value whose SQL the ORM compiles once per process, for the hottest reads.

Every participant request starts by reading the participant's row by its token, and every submission reads
it again under its lock. Building and compiling those querysets (a Q object, a lookup, a column list of the
model's ~25 fields, each quoted and converted) cost more CPU than the rest of the read, round trip
included: 18 % of a gunicorn worker's CPU went to the token lookup alone under the participant load test
(bench/flow, py-spy --gil). A ``CompiledLookup`` asks the ORM for the statement once, with the first value
looked up, and then only executes it: the same SQL, through Django's cursor (query logging, execute wrappers and
health checks apply), the rows turned into model instances with the ORM's own converters and
``Model.from_db``.
"""
from __future__ import annotations

import threading
from typing import Callable, Generic, TypeVar

from django.db import connections
from django.db.models import Model, QuerySet
from django.db.transaction import TransactionManagementError

ModelT = TypeVar("ModelT", bound=Model)


class CompiledLookup(Generic[ModelT]):
    """``lookup.get(value)``: the one row that ``build(value)`` selects, or None.

    ``build`` returns a queryset of one model, with no deferred fields, annotations or related selects, that
    uses ``value`` as its only parameter, unchanged (e.g. ``lambda token: Participant.objects.filter(
    token=token)[:1]``). The statement is compiled from the first value looked up; a value of another type
    (which the ORM might prepare differently) goes through the ORM as usual.
    """

    def __init__(self, build: Callable[[object], QuerySet[ModelT]], *, using: str = "default") -> None:
        self.build = build
        self.using = using
        self._compiled: dict[str, tuple] = {}
        self._lock = threading.Lock()

    def _compile(self, value: object, connection) -> tuple:
        queryset = self.build(value).using(self.using)
        query = queryset.query
        if query.deferred_loading[0] or query.annotations or query.select_related or query.extra:
            raise ValueError("CompiledLookup selects whole rows of one model only")
        compiler = query.get_compiler(using=self.using)
        sql, params = compiler.as_sql(with_limits=True)
        if len(params) != 1 or type(params[0]) is not type(value) or params[0] != value:
            raise ValueError(f"CompiledLookup needs the looked-up value as the only parameter, unchanged "
                             f"(got {params!r} for {value!r})")
        expressions = [column for column, _sql, _alias in compiler.select]
        names = [expression.target.attname for expression in expressions]
        return (queryset.model, type(value), sql, names, compiler.get_converters(expressions),
                bool(query.select_for_update) and connection.features.has_select_for_update)

    def get(self, value: object) -> ModelT | None:
        connection = connections[self.using]
        compiled = self._compiled.get(connection.vendor)
        if compiled is None:
            with self._lock:
                compiled = self._compiled.get(connection.vendor) or self._compile(value, connection)
                self._compiled[connection.vendor] = compiled
        model, value_type, sql, names, converters, locks = compiled
        if type(value) is not value_type:
            return next(iter(self.build(value).using(self.using)), None)
        if locks and connection.get_autocommit():
            raise TransactionManagementError("select_for_update cannot be used outside of a transaction.")
        with connection.cursor() as cursor:
            cursor.execute(sql, [value])
            row = cursor.fetchone()
        if row is None:
            return None
        values = list(row)
        for index, (functions, expression) in converters.items():
            for convert in functions:
                values[index] = convert(values[index], expression, connection)
        return model.from_db(self.using, names, values)

    def require(self, value: object) -> ModelT:
        """As ``get``, raising the model's DoesNotExist (as QuerySet.get does) when no row matches."""
        found = self.get(value)
        if found is None:
            model = self.build(value).model
            raise model.DoesNotExist(f"No {model._meta.object_name} matches {value!r}.")
        return found
