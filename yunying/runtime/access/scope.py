"""Data scopes as SQL: which records a held grant reaches (runtime layer, access control).

Each :class:`~.policy.Held` grant becomes one SQL condition over the
entity's main table — its *scope part* AND its *domain part* — and the
grants a user holds for an action are combined with OR (:func:`scope_clause`).
``None`` means "every record"; an action without grants is ``false()``.

Scope parts (``GrantSpec.scope``):

- ``all``: no condition;
- ``own_unit``: the record's org dimension is one of the user's units today;
- ``unit_tree``: … or a unit below them in ``GrantSpec.tree`` on today's
  date — a recursive CTE nested in the statement
  (:func:`yunying.platform.org.descendants_query`), never a Python list;
- ``own_records``: ``created_by`` is the user;
- ``formula``: ``GrantSpec.filter`` compiled to SQL by the formula compiler,
  paths through references as correlated subqueries.

Domain part: a grant held in a domain D other than ``*`` on an entity with
an org dimension reaches only records whose unit is D or below D in the
``admin`` tree today. Entities without an org dimension are not restricted by
domain; ``own_unit`` and ``unit_tree`` on them reach nothing.

Anything that cannot be compiled (a filter that no longer checks against the
installed metadata) reaches nothing: access fails closed. The checked filter
formulas are cached on the :class:`ScopeCompiler`, one per registry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Callable, Iterable, Mapping

from sqlalchemy import (
    ARRAY, ColumnElement, Select, String, Table, and_, any_, false, func, or_, select,
)

from yunying.metadata.spec import EntitySpec
from yunying.platform.i18n import Text
from yunying.platform.org import descendants_query
from yunying.runtime.access.grants import ANY_DOMAIN, Grants
from yunying.runtime.access.policy import Held
from yunying.runtime.formula.checker import Binding, Checked, check
from yunying.runtime.formula.entity_context import context_for
from yunying.runtime.formula.errors import WHOLE, FormulaError
from yunying.runtime.formula.sql import compile_condition
from yunying.runtime.formula.types import FType
from yunying.runtime.registry import Registry

__all__ = ["DOMAIN_TREE", "ScopeEnv", "ScopeCompiler", "scope_clause", "any_of"]

#: the tree a domain reaches down: the administrative tree.
DOMAIN_TREE = "admin"
_MAX_CLAUSES = 4096  # built conditions kept per compiler (then it starts afresh)

Clause = ColumnElement | None


@dataclass(frozen=True)
class ScopeEnv:
    """What a scope condition depends on besides the grant: the user, the
    database dialect (for formula SQL) and the request's clock."""

    grants: Grants
    dialect: str
    today: date
    now: datetime


class ScopeCompiler:
    """Builds the SQL condition of held grants over one registry's entities.

    Filter formulas are checked once per (role, grant) and kept here — the
    compiler belongs to one registry (metadata version), so nothing is global.
    """

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._filters: dict[tuple[str, int], Checked | FormulaError] = {}
        self._clauses: dict[tuple, Clause] = {}

    def clause(self, held: Held, spec: EntitySpec, table: Table, env: ScopeEnv,
               name: str) -> Clause:
        """The records ``held`` reaches: scope part AND domain part (None: all).

        Built conditions are kept for the same user, units and day (building a
        recursive CTE costs more than running it on a small tree); a formula
        that may read NOW() is kept for the same instant only.
        """
        key = (held.key, held.domain, spec.qualified_code, table.name, name, env.dialect,
               env.today, env.grants.user, env.grants.units,
               env.now if held.grant.scope == "formula" else None)
        if key in self._clauses:
            return self._clauses[key]
        parts = [p for p in (self.scope_part(held, spec, table, env, name),
                             self.domain_part(held, spec, table, env, f"{name}_d"))
                 if p is not None]
        clause = and_(*parts) if parts else None
        if len(self._clauses) >= _MAX_CLAUSES:
            self._clauses.clear()
        self._clauses[key] = clause
        return clause

    def scope_part(self, held: Held, spec: EntitySpec, table: Table, env: ScopeEnv,
                   name: str) -> Clause:
        """The grant's data scope alone (None: every record)."""
        build = _SCOPES.get(held.grant.scope, _nothing)
        return build(self, held, spec, table, env, name)

    def domain_part(self, held: Held, spec: EntitySpec, table: Table, env: ScopeEnv,
                    name: str) -> Clause:
        """The restriction of the domain the grant is held in (None: none)."""
        if held.domain == ANY_DOMAIN or spec.org_dimension is None:
            return None
        below = descendants_query(DOMAIN_TREE, [held.domain], env.today, name=name)
        return _within(table.c[spec.org_dimension], below, env)

    def checked_filter(self, held: Held, spec: EntitySpec) -> Checked | FormulaError:
        """The grant's filter formula checked against the entity (or why it fails)."""
        key = held.key
        found = self._filters.get(key)
        if found is None:
            source = held.grant.filter or ""
            try:
                found = check(source, context_for(spec, self.registry), expect=FType.BOOLEAN)
            except FormulaError as exc:
                found = exc
            self._filters[key] = found
        return found

    def filter_problem(self, held: Held, spec: EntitySpec) -> Text | None:
        """Why a ``formula`` grant reaches nothing, if its filter does not check."""
        found = self.checked_filter(held, spec) if held.grant.scope == "formula" else None
        return found.message if isinstance(found, FormulaError) else None


def scope_clause(compiler: ScopeCompiler, helds: Iterable[Held], spec: EntitySpec,
                 table: Table, env: ScopeEnv, *, prefix: str = "yy_scope") -> Clause:
    """The union (OR) of the held grants' conditions: None when one of them
    reaches every record, ``false()`` when there is no grant at all."""
    clauses = []
    for n, held in enumerate(helds):
        clause = compiler.clause(held, spec, table, env, f"{prefix}_{n}")
        if clause is None:
            return None
        clauses.append(clause)
    return any_of(clauses)


def any_of(clauses: list[ColumnElement]) -> ColumnElement:
    """OR of ``clauses``; ``false()`` for none."""
    if not clauses:
        return false()
    return clauses[0] if len(clauses) == 1 else or_(*clauses)


# -- the scopes ----------------------------------------------------------------

_Build = Callable[[ScopeCompiler, Held, EntitySpec, Table, ScopeEnv, str], Clause]


def _all(compiler: ScopeCompiler, held: Held, spec: EntitySpec, table: Table,
         env: ScopeEnv, name: str) -> Clause:
    return None


def _nothing(compiler: ScopeCompiler, held: Held, spec: EntitySpec, table: Table,
             env: ScopeEnv, name: str) -> Clause:
    return false()


def _own_unit(compiler: ScopeCompiler, held: Held, spec: EntitySpec, table: Table,
              env: ScopeEnv, name: str) -> Clause:
    units = sorted(set(env.grants.units))
    if spec.org_dimension is None or not units:
        return false()
    return table.c[spec.org_dimension].in_(units)


def _unit_tree(compiler: ScopeCompiler, held: Held, spec: EntitySpec, table: Table,
               env: ScopeEnv, name: str) -> Clause:
    if spec.org_dimension is None or not env.grants.units:
        return false()
    below = descendants_query(held.grant.tree, env.grants.units, env.today, name=name)
    return _within(table.c[spec.org_dimension], below, env)


def _within(unit: ColumnElement, subtree: Select, env: ScopeEnv) -> ColumnElement:
    """``unit IN (subtree)``. PostgreSQL plans a recursive CTE's size badly (it
    guesses a few rows and hashes the whole table against it); as
    ``unit = ANY(ARRAY(subtree))`` the CTE runs once up front and the unit's
    index is used. SQLite plans ``IN`` well."""
    if env.dialect == "postgresql":
        units = func.array(subtree.scalar_subquery(), type_=ARRAY(String))
        return unit == any_(units)
    return unit.in_(subtree)


def _own_records(compiler: ScopeCompiler, held: Held, spec: EntitySpec, table: Table,
                 env: ScopeEnv, name: str) -> Clause:
    return table.c.created_by == env.grants.user


def _formula(compiler: ScopeCompiler, held: Held, spec: EntitySpec, table: Table,
             env: ScopeEnv, name: str) -> Clause:
    checked = compiler.checked_filter(held, spec)
    if isinstance(checked, FormulaError):
        return false()
    try:
        return compile_condition(checked, _columns(compiler.registry, spec, table),
                                 dialect=env.dialect, today=env.today, now=env.now)
    except FormulaError:  # too deep for this database, or the metadata moved on
        return false()


_SCOPES: Mapping[str, _Build] = {
    "all": _all, "own_unit": _own_unit, "unit_tree": _unit_tree,
    "own_records": _own_records, "formula": _formula,
}


def _columns(registry: Registry, spec: EntitySpec,
             table: Table) -> Callable[[Binding], ColumnElement]:
    """Where a filter's names are read: own fields from ``table``, paths through
    references (``item.category``) as correlated scalar subqueries."""
    def resolve(binding: Binding) -> ColumnElement:
        path = binding.path
        owner, code = spec, path[0]
        expr: ColumnElement = _column(table, code, binding)
        for step in path[1:]:
            field = owner.field(code)
            target = registry.entity(field.reference or "") if field is not None else None
            tables = registry.tables(target.qualified_code) if target is not None else None
            if tables is None or step not in tables.table.c:
                raise _no_column(binding)
            alias = tables.table.alias()
            expr = select(alias.c[step]).where(alias.c.id == expr).scalar_subquery()
            owner, code = target, step
        return expr
    return resolve


def _column(table: Table, code: str, binding: Binding) -> ColumnElement:
    if code not in table.c:
        raise _no_column(binding)
    return table.c[code]


def _no_column(binding: Binding) -> FormulaError:
    return FormulaError.single("context", WHOLE, f"字段“{binding.key}”没有对应的数据库列",
                               f"the field {binding.key!r} has no column to read it from")
