"""The record service: create, read, update, delete and list records (runtime layer).

Every write path (JSON API, generated UI, seed loading, package install) goes
through :class:`RecordService`, so all of them get the same validation,
numbering, optimistic locking and error messages. The service never owns a
transaction: callers pass a Connection inside theirs. Each write runs in a
savepoint of its own, so a refused write leaves nothing behind — not even a
consumed document number — even when the caller carries on.

Formulas (default formulas, computed fields, rules — see ``derive``) run
inside the savepoint before the row is written, so a failing rule leaves
nothing behind either. What a write would store and which fields a caller
may change are described without writing by :mod:`.describe`.

Workflow rules (:mod:`.workflow_rules`) add to the role permissions of the
guard: field permissions per workflow state and approval node, the state
field only the engine writes, no delete of a record in approval, and reads
by the participants of a record's approval. A create runs the entity's
``create`` posting rules (业财融合, :mod:`yunying.runtime.posting`) in its
savepoint, so a posting that fails takes the record back with it.

Each successful write appends its audit event (``record.create`` /
``update`` / ``delete`` with old → new values, see ``audit_changes``) as the
last statement of the same savepoint: a refused write leaves no event, and a
failing audit insert takes the write back. Update and delete read the stored
row first (``FOR UPDATE`` on PostgreSQL) for the old values.

Writes go first and checks follow inside the savepoint. The first statement
of a write takes the write lock, so concurrent SQLite writers queue on the
busy timeout instead of failing (as long as the caller has not read earlier
in the same transaction: a SQLite reader cannot later become a writer once
another writer has committed). The database's own unique constraints decide
races; an ``IntegrityError`` is diagnosed with the same checks the service
runs for invalid input and reported as ``ValidationFailed`` (or ``Conflict``),
never as a raw database error.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any, Callable, Iterator, Mapping

from marshmallow import ValidationError
from sqlalchemy import Connection, select
from sqlalchemy.exc import IntegrityError

from yunying.metadata.spec import EntitySpec
from yunying.platform.context import Context
from yunying.platform.errors import (
    NotFound, PermissionDenied, StaleRecord, ValidationFailed, YunyingError,
)
from yunying.platform.i18n import Text
from yunying.platform.numbering import format_number, next_value, period_key
from yunying.runtime.access.fields import strip_record
from yunying.runtime.access.scope import ScopeCompiler
from yunying.runtime.access.policy import held_grants, unrestricted
from yunying.runtime.records import audit_changes, checks, describe, rows
from yunying.runtime.records.derive import derive
from yunying.runtime.records.describe import FieldAccess, write_time
from yunying.runtime.records.formulas import Clock
from yunying.runtime.records.guard import Guard, OpenView, View
from yunying.runtime.records.integrity import explain_integrity_error
from yunying.runtime.records.messages import ErrorBag, Problem
from yunying.runtime.records.plan import EntityPlan, compile_plans
from yunying.runtime.records.query import ListQuery, Page, compile_list, hide_fields
from yunying.runtime.records.refusals import (
    STALE, bad_version, is_id, is_version, no_record, record_id_of, referenced, wrong_query,
)
from yunying.runtime.records.validation import Payload, clean_record
from yunying.runtime.records.workflow_rules import WorkflowRules
from yunying.runtime.posting import Postings
from yunying.runtime.registry import Registry

__all__ = ["RecordService", "FieldAccess"]


def _sanitized(action: str) -> Callable:
    """A write whose validation errors never name a field the caller may not see."""
    def decorate(method: Callable) -> Callable:
        @functools.wraps(method)
        def write(self: "RecordService", conn: Connection, ctx: Context, entity: str,
                  *args: Any, **kwargs: Any) -> Any:
            try:
                return method(self, conn, ctx, entity, *args, **kwargs)
            except ValidationFailed as exc:
                clean = self._guard.sanitized(ctx, self._plan(entity), action, exc)
                if clean is exc:
                    raise
                raise clean from exc
        return write
    return decorate


class RecordService:
    """CRUD and list over every entity of one registry (built once per registry)."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._plans = compile_plans(registry)
        self._guard = Guard(registry)
        self._flow = WorkflowRules(registry)
        self._postings = Postings(registry)

    # -- reading -------------------------------------------------------------

    def get(self, conn: Connection, ctx: Context, entity: str, record_id: int) -> dict:
        """The record with its child lines; NotFound if there is none.

        A participant of the record's workflow (initiator, assignee of any task)
        may read it outside their data scope (see ``workflow_rules``)."""
        plan = self._plan(entity)
        view, record, rid = self._readable(conn, ctx, plan, record_id)
        for code, part in plan.children.items():
            record[code] = rows.read_lines(conn, part, rid)
        return self._flow.strip(conn, ctx, plan, rid, view.shown(record))

    def _readable(self, conn: Connection, ctx: Context, plan: EntityPlan,
                  record_id: Any) -> tuple[OpenView | View, dict, int]:
        """The caller's view and the main row of a record to ``get``."""
        try:
            view: OpenView | View | None = self._guard.view(conn, ctx, plan, "read")
            denial = None
        except PermissionDenied as exc:
            view, denial = None, exc
        if denial is not None and not is_id(record_id):
            raise denial
        rid = record_id_of(plan, record_id)
        record = view.read_main(conn, rid) if view is not None else None
        if record is None:
            view = self._flow.participant_view(conn, ctx, plan, rid)
            record = view.read_main(conn, rid) if view is not None else None
            if view is None and denial is not None:
                raise denial
        if record is None or view is None:
            raise no_record(plan, record_id)
        return view, record, rid

    def row(self, conn: Connection, ctx: Context, entity: str, record_id: int, *,
            child: str | None = None) -> dict:
        """One stored row: the main row of a record (without its lines) or, with
        ``child``, the line with that id. NotFound if there is none."""
        plan = self._plan(entity)
        view = self._guard.view(conn, ctx, plan, "read")
        part = plan.main if child is None else plan.children.get(child)
        if part is None:
            raise NotFound(Text(f"{plan.label.zh} 没有子表 {child}",
                                f"{plan.label.en} has no child table {child}"),
                           code="unknown_child", details={"entity": entity, "child": child})
        rid = record_id_of(plan, record_id)
        row = view.read_row(conn, part, rid)
        if row is None:
            raise no_record(plan, record_id)
        if child is None:
            return self._flow.strip(conn, ctx, plan, rid, view.shown(row))
        return self._flow.strip_line(conn, ctx, plan, view.shown_line(row, child), child)

    def list(self, conn: Connection, ctx: Context, entity: str, query: ListQuery) -> Page:
        """One page of main-table rows and the total: a COUNT and a SELECT."""
        plan = self._plan(entity)
        if query.entity != plan.entity:
            raise wrong_query(plan, query)
        view = self._guard.view(conn, ctx, plan, "read")
        count, page = self._listing(conn, ctx, plan, view, query)
        total = conn.execute(count).scalar_one()
        items = [view.shown(rows.as_dict(r)) for r in conn.execute(page)]
        items = list(self._flow.strip_many(conn, ctx, plan, items))
        return Page(items=items, total=total, page=query.page, page_size=query.page_size)

    def query(self, ctx: Context, entity: str, args: Mapping[str, list[str]]) -> ListQuery:
        """Request parameters → a ListQuery for ``ctx``: fields it may not see are
        treated as unknown. PermissionDenied without a read grant."""
        return ListQuery.from_args(self._plan(entity).spec, args,
                                   hidden=self.unlisted(ctx, entity))

    def unlisted(self, ctx: Context, entity: str) -> frozenset[str]:
        """The main fields no list of ``ctx`` may show, filter or sort by (some
        read grant or workflow state hides them). PermissionDenied without a
        read grant."""
        plan = self._plan(entity)
        return self._guard.hidden_for_query(ctx, plan) | self._flow.query_hidden(ctx, plan)

    def export_rows(self, conn: Connection, ctx: Context, entity: str,
                    query: ListQuery) -> Iterator[dict]:
        """Every main row matching ``query`` (its paging ignored), for an export:
        needs the ``export`` action, whose grants decide scope and visible fields."""
        plan = self._plan(entity)
        if query.entity != plan.entity:
            raise wrong_query(plan, query)
        view = self._guard.view(conn, ctx, plan, "export")
        _, page = self._listing(conn, ctx, plan, view, query)
        result = conn.execute(page.limit(None).offset(None))
        return self._flow.strip_many(conn, ctx, plan, (view.shown(rows.as_dict(r))
                                                       for r in result))

    def hidden_fields(self, conn: Connection, ctx: Context, entity: str,
                      record_id: int) -> frozenset[str]:
        """The fields (``field`` / ``child.field``) of a record that ``ctx`` may not
        see — for views of its data outside this service, such as its history.
        NotFound when the record is missing or out of scope."""
        plan = self._plan(entity)
        view = self._guard.view(conn, ctx, plan, "read")
        rid = record_id_of(plan, record_id)
        record = view.read_main(conn, rid)
        if record is None:
            raise no_record(plan, record_id)
        return view.hidden_in(record) | self._flow.hidden(conn, ctx, plan, rid)

    def _listing(self, conn: Connection, ctx: Context, plan: EntityPlan,
                 view: OpenView | View, query: ListQuery):
        main = plan.main
        flow_hidden = self._flow.list_hidden(conn, ctx, plan)
        query = hide_fields(view.query(query), plan.spec, flow_hidden)
        count, page = compile_list(query, plan.spec, main.table, main.listing, main.count,
                                   scope=view.where, hidden=view.search_hidden | flow_hidden)
        return count, page.add_columns(*view.flags) if view.flags else page

    def find_id_by_key(self, conn: Connection, entity: str, key_field: str,
                       value: Any) -> int | None:
        """The id of the row whose ``key_field`` equals ``value`` (seed loading)."""
        plan = self._plan(entity)
        if key_field not in plan.main.fields:
            raise NotFound(Text(f"{plan.label.zh} 没有字段 {key_field}",
                                f"{plan.label.en} has no field {key_field}"),
                           code="unknown_field", details={"entity": entity, "field": key_field})
        field = plan.main.schema.fields[key_field]
        try:
            typed = field.deserialize(value)
        except ValidationError:  # a value the field cannot hold names no row
            return None
        if typed is None:
            return None
        table = plan.main.table
        return conn.execute(select(table.c.id).where(table.c[key_field] == typed)
                            .limit(1)).scalar()

    # -- writing -------------------------------------------------------------

    @_sanitized("create")
    def create(self, conn: Connection, ctx: Context, entity: str,
               data: Mapping[str, Any]) -> dict:
        """Validate and insert a record with its lines; returns the stored record.

        Raises ValidationFailed with every problem found.
        """
        plan = self._plan(entity)
        view = self._guard.view(conn, ctx, plan, "create")
        now = write_time(ctx)
        clock = Clock(now.date(), now)
        errors = ErrorBag()
        payload = clean_record(plan, data, creating=True, now=now, errors=errors)
        flow_hidden = self._flow.check_create(ctx, plan, data, payload, now)
        if errors:
            derive(conn, plan, payload, errors, clock, record_id=None)
            self._database_checks(conn, plan, payload, None, errors, view)
            raise errors.failure(plan.label)
        try:
            with conn.begin_nested():
                self._assign_number(conn, plan, payload, now)
                derive(conn, plan, payload, errors, clock, record_id=None)
                if errors:  # rules failed: report every other problem with them
                    self._database_checks(conn, plan, payload, None, errors, view)
                    raise errors.failure(plan.label)
                record = rows.insert_record(conn, plan, payload, now, ctx.actor)
                checks.check_existence(conn, plan, payload, errors, view.restrict_references)
                errors.raise_if_any(plan.label)
                shown = view.written(conn, record, data, payload, now)
                # 业财融合: the entity's create posting rules, in this savepoint
                self._postings.post_created(conn, ctx, plan.entity, record["id"])
                audit_changes.log_create(conn, ctx, plan, record)
        except IntegrityError as exc:
            raise self._explain(conn, plan, payload, None, exc, view) from exc
        return strip_record(shown, flow_hidden, plan.children) if flow_hidden else shown

    @_sanitized("update")
    def update(self, conn: Connection, ctx: Context, entity: str, record_id: int,
               data: Mapping[str, Any], *, version: int) -> dict:
        """Change the given fields (and replace the given child lists).

        Raises NotFound, StaleRecord (``details['current_version']``) or
        ValidationFailed.
        """
        plan = self._plan(entity)
        view, rid = self._updatable(conn, ctx, plan, record_id)
        view.refuse_hidden(data)
        now = write_time(ctx)
        clock = Clock(now.date(), now)
        errors = ErrorBag()
        payload = clean_record(plan, data, creating=False, now=now, errors=errors)
        view.refuse_read_only(conn, rid, data, payload, now)
        if not is_version(version):
            bad_version(errors)
        if errors:
            self._require(conn, plan, rid, record_id)
            checks.check_lines_belong(conn, plan, payload, rid, errors)
            derive(conn, plan, payload, errors, clock, record_id=rid)
            self._database_checks(conn, plan, payload, rid, errors, view)
            raise errors.failure(plan.label)
        try:
            with conn.begin_nested():
                derive(conn, plan, payload, errors, clock, record_id=rid)
                if errors:  # rules failed: report every other problem with them
                    checks.check_lines_belong(conn, plan, payload, rid, errors)
                    self._database_checks(conn, plan, payload, rid, errors, view)
                    raise errors.failure(plan.label)
                before = audit_changes.snapshot(conn, plan, rid, payload.children)
                record = rows.update_main(conn, plan, rid, version, payload.values,
                                          now, ctx.actor)
                if record is None or before is None:
                    raise self._missing_or_stale(conn, plan, rid, record_id)
                for code, lines in payload.children.items():
                    rows.replace_lines(conn, plan.children[code], rid, lines, errors)
                checks.check_existence(conn, plan, payload, errors, view.restrict_references)
                errors.raise_if_any(plan.label)
                for code, part in plan.children.items():
                    record[code] = rows.read_lines(conn, part, rid)
                shown = view.written(conn, record, data, payload, now)
                audit_changes.log_update(conn, ctx, plan, before, record)
        except IntegrityError as exc:
            raise self._explain(conn, plan, payload, rid, exc, view) from exc
        return shown

    def field_access(self, conn: Connection, ctx: Context, entity: str,
                     record_id: int | None = None) -> FieldAccess:
        """Which fields ``ctx`` may not see and may not change when creating
        (``record_id`` None) or updating a record (see :func:`.describe.field_access`).

        Raises PermissionDenied / NotFound like the write it describes."""
        return describe.field_access(conn, ctx, self._plan(entity), self._guard, self._flow,
                                     self._updatable, record_id)

    def preview(self, conn: Connection, ctx: Context, entity: str, data: Mapping[str, Any],
                *, record_id: int | None = None) -> dict[str, Any]:
        """What creating (``record_id`` None) or updating with ``data`` would
        store, without writing anything (see :func:`.describe.preview`): the
        staff UI's live form shows exactly this.

        Raises PermissionDenied / NotFound like the write it previews."""
        return describe.preview(conn, ctx, self._plan(entity), self._guard, self._updatable,
                                data, record_id=record_id)

    def _updatable(self, conn: Connection, ctx: Context, plan: EntityPlan,
                   record_id: Any) -> tuple[OpenView | View, int]:
        """The caller's update view of the loaded record, with the workflow's
        restrictions; an approver at work may update without a grant (see
        ``workflow_rules``)."""
        try:
            view = self._guard.view(conn, ctx, plan, "update")
            rid = record_id_of(plan, record_id)
            if view.load(conn, rid):
                restriction = self._flow.restriction(conn, ctx, plan, rid)
                if restriction:
                    view.restrict(conn, rid, restriction.hidden, restriction.locked)
                return view, rid
            refusal: YunyingError = no_record(plan, record_id)
        except PermissionDenied as exc:
            refusal = exc
        approver = self._flow.assignee_view(conn, ctx, plan, record_id) \
            if is_id(record_id) else None
        if approver is None:
            raise refusal
        return approver, record_id

    def delete(self, conn: Connection, ctx: Context, entity: str, record_id: int, *,
               version: int | None = None) -> None:
        """Delete a record and its lines; Conflict if another row references it."""
        plan = self._plan(entity)
        view = self._guard.view(conn, ctx, plan, "delete")
        rid = record_id_of(plan, record_id)
        if not view.load(conn, rid):
            raise no_record(plan, record_id)
        self._flow.refuse_delete(conn, ctx, plan, rid)
        if version is not None and not is_version(version):
            errors = ErrorBag()
            bad_version(errors)
            raise errors.failure(plan.label)
        try:
            with conn.begin_nested():
                before = audit_changes.snapshot(conn, plan, rid, plan.children)
                if before is None or not rows.delete_record(conn, plan, rid, version):
                    raise self._missing_or_stale(conn, plan, rid, record_id)
                referrers = checks.find_referrers(conn, plan, rid)
                if referrers:
                    raise referenced(plan, rid, referrers)
                audit_changes.log_delete(conn, ctx, plan, before)
        except IntegrityError as exc:
            referrers = checks.find_referrers(conn, plan, rid)
            if referrers:
                raise referenced(plan, rid, referrers) from exc
            raise explain_integrity_error(plan, exc) from exc

    # -- internals -----------------------------------------------------------

    def may(self, ctx: Context, entity: str, action: str) -> bool:
        """Whether ``ctx`` holds some grant for ``action`` on ``entity`` (its data
        scope may still exclude a given record) — for showing menus and buttons."""
        grants = ctx.grants
        if unrestricted(grants):
            return True
        return bool(held_grants(grants, self.registry, self._plan(entity).entity, action))

    def spec(self, entity: str) -> EntitySpec:
        """The spec of ``entity`` (for ``ListQuery.from_args``); NotFound if unknown."""
        return self._plan(entity).spec

    @property
    def scopes(self) -> ScopeCompiler:
        """The data-scope compiler of this registry (its filters checked once)."""
        return self._guard.scopes

    def _plan(self, entity: str) -> EntityPlan:
        plan = self._plans.get(entity)
        if plan is None:
            raise NotFound(Text(f"未知实体 {entity}", f"unknown entity {entity}"),
                           code="unknown_entity", details={"entity": entity})
        return plan

    def _assign_number(self, conn: Connection, plan: EntityPlan, payload: Payload,
                       now: datetime) -> None:
        numbering = plan.spec.numbering
        if numbering is None or payload.values.get(numbering.field) not in (None, ""):
            return
        seq = next_value(conn, plan.entity, period_key(numbering.reset, now))
        number = format_number(numbering.pattern, now, seq)
        field = plan.main.fields[numbering.field]
        if field.length is not None and len(number) > field.length:
            errors = ErrorBag()
            errors.add(field.code, Problem("length_max", {"max": field.length,
                                                          "length": len(number)}), field.label)
            raise errors.failure(plan.label)
        payload.values[numbering.field] = number

    def _database_checks(self, conn: Connection, plan: EntityPlan, payload: Payload,
                         record_id: int | None, errors: ErrorBag,
                         view: OpenView | View) -> None:
        checks.check_existence(conn, plan, payload, errors, view.restrict_references)
        checks.check_unique(conn, plan, payload, record_id, errors)

    def _explain(self, conn: Connection, plan: EntityPlan, payload: Payload,
                 record_id: int | None, exc: IntegrityError,
                 view: OpenView | View) -> YunyingError:
        """Turn a constraint violation into the error the checks would have given."""
        errors = ErrorBag()
        self._database_checks(conn, plan, payload, record_id, errors, view)
        if errors:
            return errors.failure(plan.label)
        return explain_integrity_error(plan, exc)

    def _require(self, conn: Connection, plan: EntityPlan, rid: int, given: Any) -> None:
        if checks.current_version(conn, plan, rid) is None:
            raise no_record(plan, given)

    def _missing_or_stale(self, conn: Connection, plan: EntityPlan, rid: int,
                          given: Any) -> YunyingError:
        current = checks.current_version(conn, plan, rid)
        if current is None:
            return no_record(plan, given)
        return StaleRecord(STALE, details={"current_version": current})
