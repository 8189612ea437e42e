"""Record checks that need the database (runtime layer).

References and attachments must exist (one query per referenced entity per
write, ids batched, child lines included); unique values must not be taken by
another row; a line named by id must belong to the record; a row referenced
by another entity may not be deleted. Read-only queries: the service decides
when to run them (after its writes, inside its savepoint).
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

from sqlalchemy import Connection, Select, and_, select

from yunying.platform.i18n import Text
from yunying.platform.tables import attachment
from yunying.runtime.records.messages import ErrorBag, Location, Problem
from yunying.runtime.records.plan import EntityPlan, Part, Referrer, ids_in
from yunying.runtime.records.validation import Payload

__all__ = ["Restrict", "check_existence", "check_unique", "check_line_ids", "check_lines_belong",
           "line_ids", "find_referrers", "current_version"]

_Slot = tuple[Part, dict[str, Any], Location]
#: narrows the existence query of one referenced entity (see check_existence).
Restrict = Callable[[Connection, str, Select], Select]
_ATTACHMENTS = ids_in(attachment)


def _slots(plan: EntityPlan, payload: Payload) -> Iterator[_Slot]:
    """Every row of the payload with its part and location."""
    yield plan.main, payload.values, Location()
    for code, lines in payload.children.items():
        part = plan.children[code]
        for line in lines:
            yield part, line.values, Location(code, part.label, line.row)


def check_existence(conn: Connection, plan: EntityPlan, payload: Payload,
                    errors: ErrorBag, restrict: Restrict | None = None) -> None:
    """Referenced rows and attachments named by the payload must exist.

    ``restrict(conn, target, statement)`` narrows the query for the ids of
    ``target`` to the rows the caller may reference (access control): a row
    outside it is reported exactly like a missing one.
    """
    wanted: dict[str, list[tuple[int, str, Part, Location]]] = {}
    for part, values, location in _slots(plan, payload):
        for code, target in part.references:
            if values.get(code) is not None:
                wanted.setdefault(target, []).append((values[code], code, part, location))
        for code in part.attachments:
            if values.get(code) is not None:
                wanted.setdefault("", []).append((values[code], code, part, location))
    for target, uses in wanted.items():
        stmt = _ATTACHMENTS if target == "" else plan.exists.get(target)
        if restrict is not None and stmt is not None and target != "":
            stmt = restrict(conn, target, stmt)
        ids = sorted({use[0] for use in uses})
        found = set() if stmt is None else set(
            conn.execute(stmt, {"ids": ids}).scalars())
        for value, code, part, location in uses:
            if value in found:
                continue
            problem = (Problem("attachment", {"value": value}) if target == "" else
                       Problem("reference", {"value": value,
                                             "target": plan.target_labels[target]}))
            errors.add(code, problem, part.fields[code].label, location)


def check_unique(conn: Connection, plan: EntityPlan, payload: Payload,
                 record_id: int | None, errors: ErrorBag) -> None:
    """Unique fields (and unique indexes) must not repeat another row's values.

    On update, fields of a composite unique index that the payload leaves out
    are taken from the stored row.
    """
    stored: dict[str, Any] | None = None
    for names in plan.main.uniques:
        values = payload.values
        if len(names) > 1 and record_id is not None and not all(n in values for n in names):
            if stored is None:
                stored = _stored(conn, plan.main, record_id)
            values = {**stored, **values}
        if not all(n in values for n in names) or any(values[n] is None for n in names):
            continue
        table = plan.main.table
        taken = and_(*(table.c[n] == values[n] for n in names))
        if record_id is not None:
            taken = and_(taken, table.c.id != record_id)
        if conn.execute(select(table.c.id).where(taken).limit(1)).first() is not None:
            for name in names:
                if name in payload.values:
                    errors.add(name, _unique(values[name], names),
                               plan.main.fields[name].label)
    for code, lines in payload.children.items():
        _check_line_unique(conn, plan.children[code], lines, record_id, errors)


def _check_line_unique(conn: Connection, part: Part, lines, record_id: int | None,
                       errors: ErrorBag) -> None:
    # a record's own lines are all resent or deleted, so only other parents count
    table = part.table
    for (name,) in (u for u in part.uniques if len(u) == 1):
        seen: set[Any] = set()
        for line in lines:
            value = line.values.get(name)
            if value is None:
                continue
            taken = value in seen
            seen.add(value)
            if not taken:
                where = table.c[name] == value
                if record_id is not None:
                    where = and_(where, table.c.parent_id != record_id)
                taken = conn.execute(select(table.c.id).where(where).limit(1)).first() is not None
            if taken:
                errors.add(name, _unique(value, (name,)), part.fields[name].label,
                           Location(part.code, part.label, line.row))


def _unique(value: Any, names: tuple[str, ...]) -> Problem:
    params: dict[str, Any] = {"value": value if isinstance(value, (int, str)) else str(value)}
    if len(names) > 1:
        params["fields"] = list(names)
    return Problem("unique", params)


def _stored(conn: Connection, part: Part, record_id: int) -> dict[str, Any]:
    row = conn.execute(select(*part.columns).where(part.table.c.id == record_id)).first()
    return dict(row._mapping) if row is not None else {}


def line_ids(conn: Connection, part: Part, parent_id: int) -> set[int]:
    """The ids of the lines ``parent_id`` has now."""
    table = part.table
    return set(conn.execute(select(table.c.id).where(table.c.parent_id == parent_id)).scalars())


def check_lines_belong(conn: Connection, plan: EntityPlan, payload: Payload,
                       record_id: int, errors: ErrorBag) -> None:
    """Every line an update names by id must be one of the record's lines."""
    for code, lines in payload.children.items():
        if any(line.id is not None for line in lines):
            part = plan.children[code]
            check_line_ids(part, lines, line_ids(conn, part, record_id), errors)


def check_line_ids(part: Part, lines, existing: set[int], errors: ErrorBag) -> None:
    """Lines named by id must be this record's, each named once."""
    seen: set[int] = set()
    for line in lines:
        if line.id is None:
            continue
        if line.id not in existing or line.id in seen:
            errors.add("id", Problem("reference", {"value": line.id}, template="line"),
                       Text("明细行 id", "line id"), Location(part.code, part.label, line.row))
        seen.add(line.id)


def find_referrers(conn: Connection, plan: EntityPlan, record_id: int) -> list[Referrer]:
    """The tables holding a reference to row ``record_id`` (one query each)."""
    return [ref for ref in plan.referrers if conn.execute(
        select(ref.table.c.id).where(ref.table.c[ref.column] == record_id).limit(1)
    ).first() is not None]


def current_version(conn: Connection, plan: EntityPlan, record_id: int) -> int | None:
    table = plan.main.table
    return conn.execute(select(table.c.version).where(table.c.id == record_id)).scalar()
