"""What a record write changed, for the audit trail (runtime layer).

The record service calls the ``log_*`` functions inside the savepoint of the
write, so the event and the change commit or roll back together. The diffing
itself is pure: functions over the entity plan and row dicts, returning the
JSON stored in ``yy_audit_event.changes``::

    {"<field>": [old, new],                      # main fields that changed
     "<child>": {"added":   [{"id", "line_no", "values": {field: value}}],
                 "removed": [{"id", "line_no", "values": {field: value}}],
                 "changed": [{"id", "line_no", "changes": {field: [old, new]}}]}}

A create lists every stored value that is not null as ``[null, value]`` and
every line as added; a delete lists every value that was not null as
``[value, null]`` and every line as removed; an update lists the main fields
whose value changed (system columns excluded — the event itself says who and
when) and, for each child list the write replaced, the lines added, removed
and changed (``line_no`` counts as a change: the order is visible). Values
are JSON-safe: a Decimal as a string with every digit it carries
(``"32.5000"``), dates and datetimes ISO 8601.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, Callable, Iterable, Mapping

from sqlalchemy import Connection

from yunying.platform.audit import record_event
from yunying.platform.context import Context
from yunying.runtime.records import rows
from yunying.runtime.records.plan import EntityPlan, Part

__all__ = ["Snapshot", "json_safe", "created_changes", "updated_changes",
           "deleted_changes", "strip_changes", "snapshot", "log_create", "log_update",
           "log_delete"]

Row = Mapping[str, Any]


def _iso(value: date | datetime | time) -> str:
    return value.isoformat()


_JSON_SAFE: Mapping[type, Callable[[Any], Any]] = {
    Decimal: lambda value: format(value, "f"),
    date: _iso,
    datetime: _iso,
    time: _iso,
    bool: lambda value: value,
    int: lambda value: value,
    str: lambda value: value,
    type(None): lambda value: value,
}


def json_safe(value: Any) -> Any:
    """``value`` as JSON can hold it without losing a digit."""
    convert = _JSON_SAFE.get(type(value))
    if convert is not None:
        return convert(value)
    for kind, convert in _JSON_SAFE.items():  # subclasses (rare)
        if isinstance(value, kind):
            return convert(value)
    return str(value)


@dataclass(frozen=True)
class Snapshot:
    """A record as stored before a write: the main row and some child lists."""

    main: Row
    lines: Mapping[str, list[Row]]


# ---------------------------------------------------------------- pure diffs

def created_changes(plan: EntityPlan, record: Row) -> dict[str, Any]:
    """Changes of a create: every stored value as [null, value], lines added."""
    changes: dict[str, Any] = {code: [None, json_safe(record[code])]
                               for code in plan.main.stored if record.get(code) is not None}
    for code, part in plan.children.items():
        lines = record.get(code) or []
        if lines:
            changes[code] = {"added": [_line(part, line) for line in lines]}
    return changes


def deleted_changes(plan: EntityPlan, before: Snapshot) -> dict[str, Any]:
    """Changes of a delete: every stored value as [value, null], lines removed."""
    changes: dict[str, Any] = {code: [json_safe(before.main[code]), None]
                               for code in plan.main.stored
                               if before.main.get(code) is not None}
    for code, part in plan.children.items():
        lines = before.lines.get(code) or []
        if lines:
            changes[code] = {"removed": [_line(part, line) for line in lines]}
    return changes


def updated_changes(plan: EntityPlan, before: Snapshot, after: Row) -> dict[str, Any]:
    """Changes of an update: the main fields that changed, and for every child
    list in ``before.lines`` (the ones the write replaced) the lines added,
    removed and changed."""
    changes: dict[str, Any] = _field_changes(plan.main.stored, before.main, after)
    for code, old_lines in before.lines.items():
        lines = _line_changes(plan.children[code], old_lines, after.get(code) or [])
        if lines:
            changes[code] = lines
    return changes


def _field_changes(codes: Iterable[str], old: Row, new: Row) -> dict[str, list[Any]]:
    return {code: [json_safe(old.get(code)), json_safe(new.get(code))]
            for code in codes if old.get(code) != new.get(code)}


def _line(part: Part, line: Row) -> dict[str, Any]:
    return {"id": line["id"], "line_no": line["line_no"],
            "values": {code: json_safe(line[code]) for code in part.stored
                       if line.get(code) is not None}}


def _line_changes(part: Part, old: list[Row], new: list[Row]) -> dict[str, list]:
    before = {line["id"]: line for line in old}
    after = {line["id"]: line for line in new}
    result: dict[str, list] = {}
    added = [_line(part, line) for line in new if line["id"] not in before]
    removed = [_line(part, line) for line in old if line["id"] not in after]
    changed = []
    for line in new:
        previous = before.get(line["id"])
        if previous is None:
            continue
        diff = _field_changes(("line_no", *part.stored), previous, line)
        if diff:
            changed.append({"id": line["id"], "line_no": line["line_no"], "changes": diff})
    for key, entries in (("added", added), ("removed", removed), ("changed", changed)):
        if entries:
            result[key] = entries
    return result


def strip_changes(changes: Mapping[str, Any] | None,
                  hidden: Iterable[str]) -> dict[str, Any] | None:
    """``changes`` without the ``hidden`` fields (``field`` or ``child.field``).

    A changed line left with no visible change is dropped, and so is a child
    section left empty: nothing tells a hidden field changed.
    """
    if changes is None:
        return None
    main: set[str] = set()
    by_child: dict[str, set[str]] = {}
    for name in hidden:
        child, dot, field = name.partition(".")
        if dot:
            by_child.setdefault(child, set()).add(field)
        else:
            main.add(name)
    out: dict[str, Any] = {}
    for key, value in changes.items():
        if key in main:
            continue
        if isinstance(value, Mapping):
            value = _strip_section(value, by_child.get(key, set()))
            if not value:
                continue
        out[key] = value
    return out


def _strip_section(section: Mapping[str, Any], gone: set[str]) -> dict[str, list]:
    out: dict[str, list] = {}
    for kind, entries in section.items():
        kept = []
        for entry in entries:
            inner = "changes" if kind == "changed" else "values"
            visible = {k: v for k, v in entry.get(inner, {}).items() if k not in gone}
            if inner == "changes" and not visible:
                continue
            kept.append({**entry, inner: visible})
        if kept:
            out[kind] = kept
    return out


# ---------------------------------------------------------------- writing events

def snapshot(conn: Connection, plan: EntityPlan, record_id: int,
             children: Iterable[str]) -> Snapshot | None:
    """The stored record (locked for update where the database can) with the
    given child lists; None when there is no such row."""
    row = conn.execute(plan.main.read.with_for_update(), {"record_id": record_id}).first()
    if row is None:
        return None
    return Snapshot(rows.as_dict(row), {code: rows.read_lines(conn, plan.children[code],
                                                              record_id)
                                        for code in children})


def log_create(conn: Connection, ctx: Context, plan: EntityPlan, record: Row) -> None:
    """Append ``record.create`` for the stored ``record`` (with its lines)."""
    record_event(conn, ctx, "record.create", entity=plan.entity, record_id=record["id"],
                 changes=created_changes(plan, record),
                 detail={"version": record["version"]})


def log_update(conn: Connection, ctx: Context, plan: EntityPlan, before: Snapshot,
               record: Row) -> None:
    """Append ``record.update``: ``before`` as snapshotted, ``record`` as stored now."""
    record_event(conn, ctx, "record.update", entity=plan.entity, record_id=record["id"],
                 changes=updated_changes(plan, before, record),
                 detail={"version": record["version"]})


def log_delete(conn: Connection, ctx: Context, plan: EntityPlan, before: Snapshot) -> None:
    """Append ``record.delete`` with the values the record had."""
    record_event(conn, ctx, "record.delete", entity=plan.entity,
                 record_id=before.main["id"], changes=deleted_changes(plan, before),
                 detail={"version": before.main["version"]})
