"""Database constraint violations → located Yunying errors (runtime layer).

The record service checks what it can itself; when a constraint still fires
and its checks cannot explain it (say a concurrent transaction is still
holding the conflicting row), the violated constraint is read from the
driver's error — PostgreSQL names it, SQLite names the columns — and mapped
back to the fields it protects.
"""

from __future__ import annotations

import re

from sqlalchemy.exc import IntegrityError

from yunying.platform.errors import Conflict, YunyingError
from yunying.platform.i18n import Text
from yunying.runtime.records.messages import ErrorBag, Location, Problem
from yunying.runtime.records.plan import Constraint, EntityPlan

__all__ = ["explain_integrity_error"]

_SQLITE_UNIQUE = re.compile(r"UNIQUE constraint failed: (.+)$")
_CONFLICT = Text("数据与已有记录冲突，未保存",
                 "the data conflicts with existing records; nothing was saved")
_PROBLEMS = {
    "unique": Problem("unique", template="unique_taken"),
    "reference": Problem("reference", template="reference_gone"),
}


def explain_integrity_error(plan: EntityPlan, exc: IntegrityError) -> YunyingError:
    """ValidationFailed naming the fields of the violated constraint, or
    Conflict (code ``integrity``) when the constraint cannot be told."""
    constraint = _named_constraint(plan, exc)
    errors = ErrorBag()
    if constraint is not None:
        part = plan.main if constraint.part is None else plan.children[constraint.part]
        location = Location() if part.code is None else Location(part.code, part.label)
        for name in constraint.fields:
            field = part.fields.get(name)
            if field is not None:
                errors.add(name, _PROBLEMS[constraint.kind], field.label, location)
    if not errors:
        return Conflict(_CONFLICT, code="integrity", details={"entity": plan.entity})
    return errors.failure(plan.label)


def _named_constraint(plan: EntityPlan, exc: IntegrityError) -> Constraint | None:
    name = getattr(getattr(exc.orig, "diag", None), "constraint_name", None)
    if name:  # PostgreSQL
        return plan.constraints.get(name)
    match = _SQLITE_UNIQUE.search(str(exc.orig))
    if match is None:
        return None
    columns = [item.strip().rpartition(".") for item in match.group(1).split(",")]
    tables = {table for table, _, _ in columns}
    if len(tables) != 1 or next(iter(tables)) not in plan.part_by_table:
        return None
    return Constraint("unique", plan.part_by_table[tables.pop()],
                      tuple(column for _, _, column in columns))
