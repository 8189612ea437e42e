"""Reading and writing the rows of one record (runtime layer).

The statements behind the record service: insert a record with its lines,
update the main row under its version, replace a child list (update by id,
insert, delete, renumber), read lines, delete a record. Rows come back as
plain dicts (``Decimal``, ``date``, ``datetime``, ``bool``, ``int``, ``str``,
``None``); JSON is the HTTP layer's business.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, delete, insert, update

from yunying.runtime.records.checks import check_line_ids, line_ids
from yunying.runtime.records.messages import ErrorBag
from yunying.runtime.records.plan import EntityPlan, Part
from yunying.runtime.records.validation import Line, Payload

__all__ = ["insert_record", "update_main", "replace_lines", "read_lines", "read_main",
           "delete_record", "as_dict"]


def as_dict(row: Row) -> dict[str, Any]:
    return dict(row._mapping)


def insert_record(conn: Connection, plan: EntityPlan, payload: Payload, now: datetime,
                  actor: str) -> dict[str, Any]:
    """Insert the main row and every given line; returns the stored record."""
    main = plan.main
    stamp = {"version": 1, "created_at": now, "created_by": actor,
             "updated_at": now, "updated_by": actor}
    row = conn.execute(main.insert, {**payload.values, **stamp}).one()
    record = as_dict(row)
    for code, part in plan.children.items():
        lines = payload.children.get(code, [])
        record[code] = _insert_lines(conn, part, record["id"], lines, 1) if lines else []
    return record


def _insert_lines(conn: Connection, part: Part, parent_id: int, lines: list[Line],
                  first: int) -> list[dict[str, Any]]:
    blank = dict.fromkeys(part.stored)
    rows = [{**blank, **line.values, "parent_id": parent_id, "line_no": first + n}
            for n, line in enumerate(lines)]
    result = conn.execute(part.insert, rows)
    return [as_dict(r) for r in result]


def update_main(conn: Connection, plan: EntityPlan, record_id: int, version: int,
                values: dict[str, Any], now: datetime, actor: str) -> dict[str, Any] | None:
    """Update the main row if it still has ``version``; None when it does not."""
    table = plan.main.table
    stmt = (update(table)
            .where(table.c.id == record_id, table.c.version == version)
            .values({**values, "version": table.c.version + 1,
                     "updated_at": now, "updated_by": actor})
            .returning(*plan.main.columns))
    row = conn.execute(stmt).first()
    return as_dict(row) if row is not None else None


def replace_lines(conn: Connection, part: Part, parent_id: int, lines: list[Line],
                  errors: ErrorBag) -> None:
    """Make ``lines`` the record's complete child list, in this order.

    Lines with an id update that line (which must be this record's), lines
    without are inserted, lines not mentioned are deleted. Problems with ids
    go to ``errors`` and nothing is written.
    """
    table = part.table
    existing = line_ids(conn, part, parent_id)
    check_line_ids(part, lines, existing, errors)
    if errors:
        return
    kept = {line.id for line in lines if line.id is not None}
    if existing - kept:
        conn.execute(delete(table).where(table.c.parent_id == parent_id,
                                         table.c.id.not_in(kept)))
    if kept:
        # park kept lines on negative numbers so renumbering never collides
        conn.execute(update(table).where(table.c.parent_id == parent_id)
                     .values(line_no=-table.c.line_no))
    new = []
    for position, line in enumerate(lines, 1):
        if line.id is None:
            new.append((position, line))
        else:
            conn.execute(update(table).where(table.c.id == line.id)
                         .values({**line.values, "line_no": position}))
    if new:
        blank = dict.fromkeys(part.stored)
        conn.execute(insert(table), [
            {**blank, **line.values, "parent_id": parent_id, "line_no": position}
            for position, line in new])


def read_main(conn: Connection, plan: EntityPlan, record_id: int) -> dict[str, Any] | None:
    row = conn.execute(plan.main.read, {"record_id": record_id}).first()
    return as_dict(row) if row is not None else None


def read_lines(conn: Connection, part: Part, parent_id: int) -> list[dict[str, Any]]:
    return [as_dict(r) for r in conn.execute(part.read, {"parent_id": parent_id})]


def delete_record(conn: Connection, plan: EntityPlan, record_id: int,
                  version: int | None) -> bool:
    """Delete the lines and the row (under ``version`` if given); False if no row matched."""
    for part in plan.children.values():
        conn.execute(delete(part.table).where(part.table.c.parent_id == record_id))
    table = plan.main.table
    stmt = delete(table).where(table.c.id == record_id)
    if version is not None:
        stmt = stmt.where(table.c.version == version)
    return conn.execute(stmt).rowcount > 0
