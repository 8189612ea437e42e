"""Access control applied to record operations (runtime layer).

The record service asks its :class:`Guard` for a *view* of one entity for one
action at the start of every call. A context without grants, or the
superuser's, gets an :class:`OpenView` — every check a no-op, the service behaves
exactly as without access control. Otherwise the caller needs a grant for the
action (else PermissionDenied, 403: which entities exist is not secret, the
metadata endpoints list them) and gets a :class:`View` that

- restricts reads: ``where`` is the union of the action's data scopes, added
  to list (count and page), get, row and export; a record outside it is
  reported exactly like a missing one;
- decides per record which fields the caller sees (a flag column per group
  of read grants, see :mod:`yunying.runtime.access.fields`) and strips the
  others from every record and line it returns;
- guards writes: update and delete need the record inside the action's scope
  (readable but outside: 403; not readable: 404 like a missing record); the
  payload may not name hidden fields nor change read-only ones; the written
  row must lie inside the action's scope, else 403 and the savepoint rolls
  the write back; references must point at records the caller may read.

Views live for one service call (they keep the stored row of a write).
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any, Mapping

from sqlalchemy import ColumnElement, Connection, Select, case, literal, or_, select

from yunying.platform.context import Context
from yunying.platform.errors import PermissionDenied, ValidationFailed
from yunying.platform.i18n import Text
from yunying.runtime.access.fields import (
    hidden_anywhere, hidden_on, locked_on, strip_line, strip_record, visibility_groups,
)
from yunying.runtime.access.grants import Grants
from yunying.runtime.access.policy import Held, held_grants, unrestricted
from yunying.runtime.access.scope import ScopeCompiler, ScopeEnv, scope_clause
from yunying.runtime.records.field_guard import refuse_hidden, refuse_read_only, sanitize
from yunying.runtime.records import rows
from yunying.runtime.records.plan import EntityPlan, Part
from yunying.runtime.records.query import ListQuery, hide_fields
from yunying.runtime.records.validation import Payload
from yunying.runtime.registry import Registry

__all__ = ["Guard", "View", "OpenView", "ACTION_LABELS", "denied"]

#: how an action is named in a refusal.
ACTION_LABELS: Mapping[str, Text] = {
    "read": Text("查看", "read"), "create": Text("新建", "create"),
    "update": Text("修改", "update"), "delete": Text("删除", "delete"),
    "submit": Text("提交", "submit"), "approve": Text("审批", "approve"),
    "export": Text("导出", "export"), "import": Text("导入", "import"),
}
#: actions whose own grants decide which fields show; other actions show what read shows.
_SELF_SHOWN = frozenset({"read", "export"})
_BARE = ("id", "version")   # what a written record the caller may not read shows


def denied(plan: EntityPlan, action: str, *, record: bool = False) -> PermissionDenied:
    """The 403 of a missing grant (``record``: for this record only)."""
    verb = ACTION_LABELS.get(action, Text(action, action))
    what = Text(f"此{plan.label.zh}记录", f"this {plan.label.en} record") if record else plan.label
    return PermissionDenied(Text(f"没有权限{verb.zh}{what.zh}", f"not allowed to {verb.en} {what.en}"),
                            details={"entity": plan.entity, "action": action})


_OUT_OF_SCOPE = Text("保存后的记录不在您的数据权限范围内，未保存",
                     "the record as written would be outside your data scope; nothing was saved")


class OpenView:
    """The view of an unrestricted caller: nothing is filtered, hidden or refused."""

    where: ColumnElement | None = None
    flags: tuple = ()
    restrict_references = None

    def query(self, query: ListQuery) -> ListQuery:
        return query

    @property
    def search_hidden(self) -> frozenset[str]:
        return frozenset()

    def __init__(self, plan: EntityPlan) -> None:
        self.plan = plan
        self._stored: dict[str, Any] | None = None
        self._locked: frozenset[str] = frozenset()
        self._extra_hidden: frozenset[str] = frozenset()

    def read_main(self, conn: Connection, rid: int) -> dict[str, Any] | None:
        return rows.read_main(conn, self.plan, rid)

    def read_row(self, conn: Connection, part: Part, rid: int) -> dict[str, Any] | None:
        row = conn.execute(select(*part.columns).where(part.table.c.id == rid)).first()
        return rows.as_dict(row) if row is not None else None

    def shown(self, record: dict[str, Any]) -> dict[str, Any]:
        return record

    def shown_line(self, line: dict[str, Any], child: str) -> dict[str, Any]:
        return line

    def hidden_in(self, record: dict[str, Any]) -> frozenset[str]:
        return frozenset()

    def load(self, conn: Connection, rid: int) -> bool:
        return True

    def restrict(self, conn: Connection, rid: int, hidden: frozenset[str],
                 locked: frozenset[str]) -> None:
        """Add a workflow's restrictions (a superuser's view: nothing hidden)."""
        self._extra_hidden = hidden
        self._locked = locked - hidden
        if self._locked and self._stored is None:
            self._stored = rows.read_main(conn, self.plan, rid)

    def refuse_hidden(self, data: Any) -> None:
        refuse_hidden(self.plan, data, self._extra_hidden)

    def access(self) -> tuple[frozenset[str], frozenset[str]]:
        """The fields hidden and the fields locked for the loaded record."""
        return self._extra_hidden, self._locked

    def refuse_read_only(self, conn: Connection, rid: int | None, data: Any,
                         payload: Payload, now: datetime) -> None:
        _refuse_locked(conn, self.plan, rid, data, payload, now, self._locked, self._stored)

    def written(self, conn: Connection, record: dict[str, Any], data: Any,
                payload: Payload, now: datetime) -> dict[str, Any]:
        if not self._extra_hidden:
            return record
        return strip_record(record, self._extra_hidden, self.plan.children)


class Guard:
    """Hands out the views of one registry's entities (one per RecordService)."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.scopes = ScopeCompiler(registry)

    def view(self, conn: Connection, ctx: Context, plan: EntityPlan,
             action: str) -> "OpenView | View":
        """The caller's view of ``plan`` for ``action``; PermissionDenied without a grant."""
        grants = ctx.grants
        if unrestricted(grants):
            return OpenView(plan)
        helds = held_grants(grants, self.registry, plan.entity, action)
        if not helds:
            raise denied(plan, action)
        shows = helds if action in _SELF_SHOWN else held_grants(
            grants, self.registry, plan.entity, "read")
        return View(self, plan, action, helds, shows, _env(conn, ctx, grants))

    def hidden_for_query(self, ctx: Context, plan: EntityPlan) -> frozenset[str]:
        """Main fields some read grant hides (no list may filter or sort by them)."""
        if unrestricted(ctx.grants):
            return frozenset()
        reads = held_grants(ctx.grants, self.registry, plan.entity, "read")
        if not reads:
            raise denied(plan, "read")
        return frozenset(f for f in hidden_anywhere(reads) if "." not in f)

    def sanitized(self, ctx: Context, plan: EntityPlan, action: str,
                  error: ValidationFailed) -> ValidationFailed:
        """``error`` naming no field that some grant of the caller hides."""
        if unrestricted(ctx.grants):
            return error
        helds = (held_grants(ctx.grants, self.registry, plan.entity, action)
                 + held_grants(ctx.grants, self.registry, plan.entity, "read"))
        return sanitize(error, hidden_anywhere(helds), plan.label)


def _env(conn: Connection, ctx: Context, grants: Grants) -> ScopeEnv:
    now = ctx.now()
    if now.tzinfo is not None:
        now = now.astimezone(timezone.utc).replace(tzinfo=None)
    today: date = grants.today or now.date()
    return ScopeEnv(grants, conn.dialect.name, today, now)


class View:
    """A restricted caller's access to one entity for one action (one call)."""

    def __init__(self, guard: Guard, plan: EntityPlan, action: str, helds: tuple[Held, ...],
                 shows: tuple[Held, ...], env: ScopeEnv) -> None:
        self.guard, self.plan, self.action, self.env = guard, plan, action, env
        self.helds, self.shows = helds, shows
        self.groups = visibility_groups(shows)
        # a read needs flags only when grants reaching different records hide different fields
        self._flagged = len(self.groups) > 1 or action not in _SELF_SHOWN
        self.where = self._union(helds, "yy_w")
        self.flags = self._group_flags() if self._flagged else ()
        self._stored: dict[str, Any] | None = None
        self._hidden: frozenset[str] = frozenset()
        self._locked: frozenset[str] = frozenset()
        self._extra_hidden: frozenset[str] = frozenset()

    # -- reading ---------------------------------------------------------------

    def read_main(self, conn: Connection, rid: int) -> dict[str, Any] | None:
        """The main row if it is in scope, with the flag columns ``shown`` reads."""
        table = self.plan.main.table
        stmt = select(*self.plan.main.columns, *self.flags).where(table.c.id == rid)
        row = conn.execute(stmt if self.where is None else stmt.where(self.where)).first()
        return rows.as_dict(row) if row is not None else None

    def read_row(self, conn: Connection, part: Part, rid: int) -> dict[str, Any] | None:
        """One row of ``part`` (a line: if its record is in scope), with flag columns."""
        main = self.plan.main.table
        stmt = select(*part.columns, *self.flags).where(part.table.c.id == rid)
        if part.code is not None:
            stmt = stmt.select_from(part.table.join(main, part.table.c.parent_id == main.c.id))
        row = conn.execute(stmt if self.where is None else stmt.where(self.where)).first()
        return rows.as_dict(row) if row is not None else None

    def hidden_in(self, record: dict[str, Any]) -> frozenset[str]:
        """The hidden fields of a row read by :meth:`read_main`."""
        return self._hidden_of(dict(record)) or frozenset()

    @property
    def search_hidden(self) -> frozenset[str]:
        return frozenset(f for f in hidden_anywhere(self.shows) if "." not in f)

    def query(self, query: ListQuery) -> ListQuery:
        """``query`` refused or trimmed where it names a field the caller may not see."""
        return hide_fields(query, self.plan.spec, self.search_hidden)

    def shown(self, record: dict[str, Any]) -> dict[str, Any]:
        """A record (or main row) as the caller may see it; flag columns removed."""
        hidden = self._hidden_of(record)
        if hidden is None:
            return {k: record[k] for k in _BARE if k in record}
        return strip_record(record, hidden, self.plan.children)

    def shown_line(self, line: dict[str, Any], child: str) -> dict[str, Any]:
        """One child line (read with the flag columns of its record) as the caller sees it."""
        hidden = self._hidden_of(line)
        if hidden is None:
            return {k: line[k] for k in _BARE if k in line}
        return strip_line(line, child, hidden)

    def _hidden_of(self, values: dict[str, Any]) -> frozenset[str] | None:
        """The hidden fields of a row read with this view's flags (None: not readable)."""
        if not self._flagged:
            return self.groups[0][0] if self.groups else None
        covering = [hidden for n, (hidden, _) in enumerate(self.groups)
                    if values.pop(f"_yy_v{n}", 0)]
        return frozenset.intersection(*covering) if covering else None

    # -- writing ---------------------------------------------------------------

    def load(self, conn: Connection, rid: int) -> bool:
        """Whether the record to update or delete is there for the caller: False
        when missing or unreadable; PermissionDenied when readable but outside
        the action's scope."""
        table = self.plan.main.table
        row = conn.execute(select(*self.plan.main.columns, *self._action_flags(), *self.flags)
                           .where(table.c.id == rid)).first()
        if row is None:
            return False
        values = dict(row._mapping)
        covering = self._covering(values)
        hidden = self._hidden_of(values)
        if hidden is None:
            return False
        if not covering:
            raise denied(self.plan, self.action, record=True)
        self._stored = values
        self._hidden = hidden
        self._locked = locked_on(covering) - hidden
        return True

    def restrict(self, conn: Connection, rid: int, hidden: frozenset[str],
                 locked: frozenset[str]) -> None:
        """Add a workflow's restrictions to the loaded record's (after :meth:`load`)."""
        self._extra_hidden = hidden
        self._hidden = self._hidden | hidden
        self._locked = (self._locked | locked) - self._hidden

    def refuse_hidden(self, data: Any) -> None:
        refuse_hidden(self.plan, data, self._hidden)

    def access(self) -> tuple[frozenset[str], frozenset[str]]:
        """Update (after :meth:`load`): the fields hidden and locked on the
        record; create: those every create grant hides and locks (the row
        written decides which grant covers it)."""
        if self._stored is not None:
            return self._hidden, self._locked
        hidden = _hidden_by(self.helds)
        return hidden, locked_on(self.helds) - hidden

    def refuse_read_only(self, conn: Connection, rid: int | None, data: Any,
                         payload: Payload, now: datetime) -> None:
        """Update: PermissionDenied naming the read-only fields the payload changes."""
        _refuse_locked(conn, self.plan, rid, data, payload, now, self._locked, self._stored)

    def written(self, conn: Connection, record: dict[str, Any], data: Any,
                payload: Payload, now: datetime) -> dict[str, Any]:
        """Check the row just written (inside the write's savepoint) and return the
        record as the caller may see it. PermissionDenied when it lies outside the
        action's scope or (create) writes hidden or read-only fields."""
        table = self.plan.main.table
        flags = dict(conn.execute(select(*self._action_flags(), *self.flags)
                                  .where(table.c.id == record["id"])).one()._mapping)
        covering = self._covering(flags)
        if not covering:
            raise PermissionDenied(_OUT_OF_SCOPE, code="out_of_scope",
                                   details={"entity": self.plan.entity, "action": self.action})
        hidden = self._hidden_of(dict(flags))
        if self._stored is None:   # create: the new row decides
            self._hidden = _hidden_by(covering) if hidden is None else hidden
            refuse_hidden(self.plan, data, self._hidden)
            refuse_read_only(self.plan, data, payload, locked_on(covering) - self._hidden,
                             None, {}, now)
        if hidden is None:
            return {k: record[k] for k in _BARE if k in record}
        return strip_record(dict(record), hidden | self._extra_hidden, self.plan.children)

    def restrict_references(self, conn: Connection, target: str, stmt: Select) -> Select:
        """The existence query of references to ``target`` limited to records the
        caller may read — or that the stored record already references."""
        registry = self.guard.registry
        spec, tables = registry.entity(target), registry.tables(target)
        if spec is None or tables is None:
            return stmt
        reads = held_grants(self.env.grants, registry, target, "read")
        clause = scope_clause(self.guard.scopes, reads, spec, tables.table, self.env,
                              prefix="yy_r")
        if clause is None:
            return stmt
        kept = self._kept_references(conn, target)
        if kept:
            clause = or_(clause, tables.table.c.id.in_(sorted(kept)))
        return stmt.where(clause)

    # -- internals -------------------------------------------------------------

    def _union(self, helds: tuple[Held, ...], prefix: str) -> ColumnElement | None:
        return scope_clause(self.guard.scopes, helds, self.plan.spec, self.plan.main.table,
                            self.env, prefix=prefix)

    def _flag(self, helds: tuple[Held, ...], name: str) -> ColumnElement:
        clause = self._union(helds, f"yy_{name}")
        value = literal(1) if clause is None else case((clause, 1), else_=0)
        return value.label(f"_yy_{name}")

    def _group_flags(self) -> tuple[ColumnElement, ...]:
        return tuple(self._flag(members, f"v{n}") for n, (_, members) in enumerate(self.groups))

    def _action_flags(self) -> tuple[ColumnElement, ...]:
        return tuple(self._flag((held,), f"a{n}") for n, held in enumerate(self.helds))

    def _covering(self, values: dict[str, Any]) -> list[Held]:
        return [held for n, held in enumerate(self.helds) if values.pop(f"_yy_a{n}", 0)]

    def _kept_references(self, conn: Connection, target: str) -> set[int]:
        if self._stored is None:
            return set()
        rid = self._stored["id"]
        kept = {self._stored.get(code) for code, t in self.plan.main.references if t == target}
        for part in self.plan.children.values():
            for code, t in part.references:
                if t == target:
                    kept |= set(conn.execute(select(part.table.c[code]).where(
                        part.table.c.parent_id == rid)).scalars())
        return {k for k in kept if k is not None}


def _refuse_locked(conn: Connection, plan: EntityPlan, rid: int | None, data: Any,
                   payload: Payload, now: datetime, locked: frozenset[str],
                   stored: Mapping[str, Any] | None) -> None:
    """PermissionDenied naming the ``locked`` fields an update changes (a locked
    child code: its lines may not be added or removed)."""
    if not locked:
        return
    lines = {code: {r.id: r._mapping for r in conn.execute(part.read, {"parent_id": rid})}
             for code, part in plan.children.items()
             if code in locked or any(n.startswith(f"{code}.") for n in locked)} if rid else {}
    refuse_read_only(plan, data, payload, locked, stored, lines, now)


def _hidden_by(helds: tuple[Held, ...] | list[Held]) -> frozenset[str]:
    """Fields every one of the write grants ``helds`` hides."""
    return hidden_on(helds) if helds else frozenset()
