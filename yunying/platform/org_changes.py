"""Changes to the organisation model (platform layer): re-parent, split, merge.

Each change happens ``on`` a date: rows active that day are closed at it
(``valid_to = on``) and their replacements open on it. Codes never change;
a split or merge closes the old unit and creates new ones. Every check that
can refuse runs before the first write; still, call these inside one
transaction (``db.begin(write=True)``).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Mapping, Sequence

from sqlalchemy import Connection, and_, or_, select, update

from yunying.platform.errors import ValidationFailed
from yunying.platform.i18n import Text
from yunying.platform.org import (
    OrgCycle, OrgUnit, _active, _close, _require, _TREE, _UNIT, add_edge, add_unit,
    assign, descendants, location_of, move_location, refuse_cycle,
)
from yunying.platform.tables import (
    org_assignment, org_edge, org_head, org_location, org_tree, org_unit,
)

__all__ = ["reparent", "split", "merge"]


def reparent(conn: Connection, tree: str, unit: str, new_parent: str, on: date) -> None:
    """From ``on``, ``unit`` sits under ``new_parent`` in ``tree`` (with its subtree)."""
    _require(conn, org_tree, tree, _TREE, on)
    _require(conn, org_unit, unit, _UNIT, on)
    _require(conn, org_unit, new_parent, _UNIT, on)
    refuse_cycle(conn, tree, unit, new_parent, on)
    _close(conn, org_edge, and_(org_edge.c.tree_code == tree,
                                org_edge.c.child_code == unit), on)
    add_edge(conn, tree, new_parent, unit, on)


def _edges(conn: Connection, unit: str, on: date, column: str) -> list:
    """Edges active on ``on`` where ``unit`` is the ``column`` (parent/child)."""
    return conn.execute(select(org_edge).where(org_edge.c[column] == unit,
                                               _active(org_edge, on))).all()


def _members(conn: Connection, unit: str, on: date) -> list:
    a = org_assignment
    return conn.execute(select(a).where(a.c.unit_code == unit, _active(a, on))).all()


def _unmapped(kind: Text, missing: list[str], unit: str) -> ValidationFailed:
    return ValidationFailed(Text(
        f"拆分 {unit}：以下{kind.zh}没有指定去向：{'、'.join(missing)}",
        f"split of {unit}: no target given for {kind.en}: {', '.join(missing)}"),
        details={"unit": unit, "missing": missing})


def _new_units(conn: Connection, units: Sequence[OrgUnit], on: date) -> list[OrgUnit]:
    made = []
    for u in units:
        if u.valid_from not in (None, on):
            raise ValidationFailed(Text(
                f"新组织单元 {u.code} 的生效日期必须是 {on}",
                f"new org unit {u.code!r} must start on {on}"), details={"code": u.code})
        made.append(replace(u, valid_from=on))
    return made


def _close_unit(conn: Connection, unit: str, on: date) -> None:
    """End the unit itself and its heads, location link and parent edges."""
    for table, column in ((org_head, "unit_code"), (org_location, "unit_code"),
                          (org_edge, "child_code")):
        _close(conn, table, table.c[column] == unit, on)
    conn.execute(update(org_unit).where(org_unit.c.code == unit).values(valid_to=on))


def _move_member(conn: Connection, row, target: str, on: date) -> None:
    _close(conn, org_assignment, org_assignment.c.id == row.id, on)
    assign(conn, row.user_code, target, on, primary=row.is_primary, until=row.valid_to)


def split(conn: Connection, unit: str, into: Sequence[OrgUnit], on: date,
          reassign: Mapping[str, str], children: Mapping[str, str] | None = None) -> None:
    """Split ``unit`` on ``on`` into the new units ``into`` (new codes).

    The old unit is closed; each new unit takes its parents in every tree and
    its location. ``reassign`` maps each member (user code) and ``children``
    each child unit to one of the new codes; a member or child left without
    a target is refused.
    """
    children = children or {}
    _require(conn, org_unit, unit, _UNIT, on)
    new = _new_units(conn, into, on)
    codes = {u.code for u in new}
    if not new:
        raise ValidationFailed(Text(f"拆分 {unit} 至少需要一个新组织单元",
                                    f"split of {unit} needs at least one new unit"),
                               details={"unit": unit})
    members = _members(conn, unit, on)
    kids = _edges(conn, unit, on, "parent_code")
    _check_targets(unit, [m.user_code for m in members], reassign, codes,
                   Text("人员", "members"))
    _check_targets(unit, [k.child_code for k in kids], children, codes,
                   Text("下级单元", "child units"))
    parents = _edges(conn, unit, on, "child_code")
    where = location_of(conn, unit, on)
    for u in new:
        add_unit(conn, u)
    _close_unit(conn, unit, on)
    for u in new:
        for edge in parents:
            add_edge(conn, edge.tree_code, edge.parent_code, u.code, on, edge.valid_to)
        if where is not None:
            move_location(conn, u.code, where, on)
    for kid in kids:
        _close(conn, org_edge, org_edge.c.id == kid.id, on)
        add_edge(conn, kid.tree_code, children[kid.child_code], kid.child_code, on,
                 kid.valid_to)
    for member in members:
        _move_member(conn, member, reassign[member.user_code], on)


def _check_targets(unit: str, keys: list[str], mapping: Mapping[str, str],
                   codes: set[str], kind: Text) -> None:
    missing = sorted({k for k in keys if k not in mapping})
    if missing:
        raise _unmapped(kind, missing, unit)
    wrong = sorted({f"{k} → {t}" for k, t in mapping.items() if t not in codes})
    if wrong:
        raise ValidationFailed(Text(
            f"拆分 {unit}：{kind.zh}的去向必须是新组织单元：{'、'.join(wrong)}",
            f"split of {unit}: {kind.en} must go to one of the new units: "
            f"{', '.join(wrong)}"), details={"unit": unit, "wrong": wrong})


def merge(conn: Connection, units: Sequence[str], into: str | OrgUnit, on: date) -> None:
    """Merge ``units`` on ``on`` into ``into``: an existing unit (which may be
    one of ``units`` and then survives) or a new one, which takes the parents
    and location of the first of ``units``. The merged units are closed; their
    children and members move to ``into``. Units that are above one another
    (or above ``into``) in a tree are refused."""
    target = into if isinstance(into, str) else into.code
    closing = [u for u in dict.fromkeys(units) if u != target]
    for u in closing:
        _require(conn, org_unit, u, _UNIT, on)
    if isinstance(into, str):
        _require(conn, org_unit, into, _UNIT, on)
    else:
        _new_units(conn, [into], on)
    _refuse_nested(conn, [*closing, target] if isinstance(into, str) else closing, on)
    first = closing[0] if closing else None
    parents = _edges(conn, first, on, "child_code") if first else []
    where = location_of(conn, first, on) if first else None
    if not isinstance(into, str):
        add_unit(conn, _new_units(conn, [into], on)[0])
    for u in closing:
        _merge_one(conn, u, target, on)
    if not isinstance(into, str):
        for edge in parents:
            add_edge(conn, edge.tree_code, edge.parent_code, target, on, edge.valid_to)
        if where is not None:
            move_location(conn, target, where, on)


def _merge_one(conn: Connection, unit: str, target: str, on: date) -> None:
    kids = _edges(conn, unit, on, "parent_code")
    members = _members(conn, unit, on)
    _close_unit(conn, unit, on)
    for kid in kids:
        _close(conn, org_edge, org_edge.c.id == kid.id, on)
        add_edge(conn, kid.tree_code, target, kid.child_code, on, kid.valid_to)
    a = org_assignment
    for member in members:
        already = conn.execute(select(a.c.id).where(
            a.c.user_code == member.user_code, a.c.unit_code == target,
            _active(a, on))).first()
        if already is None:
            _move_member(conn, member, target, on)
        else:
            _close(conn, a, a.c.id == member.id, on)


def _refuse_nested(conn: Connection, units: list[str], on: date) -> None:
    trees = conn.execute(select(org_edge.c.tree_code).distinct().where(
        or_(org_edge.c.parent_code.in_(units), org_edge.c.child_code.in_(units)),
        _active(org_edge, on))).scalars().all()
    for tree in trees:
        for u in units:
            below = set(descendants(conn, tree, u, on)) & set(units)
            if below:
                raise OrgCycle(Text(
                    f"合并：组织树 {tree} 中 {', '.join(sorted(below))} 在 {u} 之下，不能合并",
                    f"merge: in tree {tree!r}, {', '.join(sorted(below))} "
                    f"is below {u!r}; merge siblings, or re-parent first"),
                    details={"tree": tree, "unit": u, "below": sorted(below)})
