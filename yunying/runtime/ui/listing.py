"""The generated list page of an entity (runtime layer, HTTP edge, staff UI).

``GET /records/<entity>`` shows one page of an entity's records, built from
its list view (:func:`yunying.metadata.views.list_view_of`) — nothing here
is written per entity: the columns (or those picked in the column chooser),
header links sorting by a column (a second click reverses it), the search
box over the entity's ``search_fields``, the filter bar
(:mod:`.list_filters`), the pager, links to the detail page, and the new /
export / import buttons the user's grants allow. Rows come from the same
``RecordService.query`` / ``list`` as the JSON API, so data scopes and field
permissions are the API's; values are formatted by :mod:`.display`.

A query the record service refuses (an unknown field, a bad date, a value
too long) is a 400 page: the list is re-rendered with the message in a
banner and next to the filter it concerns, the filter bar keeping what the
user typed. An unknown entity is the 404 page, a user without a read grant
the 403 page (the app's error handler renders both).

``POST /records/<entity>/bulk-approve`` approves the tasks ticked in the
list's checkbox column (shown to a user with pending tasks on the rows of an
entity that has a workflow): each task through the workflow engine in its
own transaction, the page then listing what was approved and what was
refused with the engine's reason (``task_not_pending`` 409, ``not_assignee``
…). One refusal never undoes another task's approval.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import parse_qsl, urlencode

from flask import Blueprint, Response, request, url_for
from sqlalchemy import Connection, func, select
from werkzeug.datastructures import MultiDict

from yunying.metadata.spec import EntitySpec, FieldSpec
from yunying.metadata.views import ListViewSpec, list_view_of
from yunying.platform.context import Context
from yunying.platform.errors import InvalidQuery, YunyingError
from yunying.platform.i18n import Text
from yunying.platform.tables import wf_instance, wf_task
from yunying.runtime.records import RecordService
from yunying.runtime.ui.display import Labels, display_zone, format_value
from yunying.runtime.ui.list_filters import (
    error_target, filter_bar, page_params, parse_page_query,
)
from yunying.runtime.ui.web import ctx, lang, login_required, render, runtime_of, services
from yunying.runtime.workflow.definitions import workflows_of

__all__ = ["blueprint", "Column", "Row", "BulkOutcome", "Refusal", "pending_tasks"]

blueprint = Blueprint("ui_listing", __name__, template_folder="templates")

#: task kinds that are a person's decision to take (as in the inbox).
_WORK_KINDS = ("approval", "added")
_MAX_BULK = 200
_INT32_MAX = 2 ** 31 - 1
_NUMERIC = ("integer", "decimal", "money")
_LOOKUPS = {"reference": "ui_lookups.records", "user": "ui_lookups.users",
            "org_unit": "ui_lookups.units"}


@dataclass(frozen=True)
class Column:
    """A column of the table: its field, whether it is numeric (right
    aligned), the link sorting by it and the current direction."""

    field: FieldSpec
    numeric: bool
    sort_url: str
    sorted: str | None = None   # "asc" | "desc" when the list is sorted by it first


@dataclass(frozen=True)
class Row:
    """A row: the record id, its detail link, its cells as (CSS class, text)
    pairs and the id of the user's pending task on it (bulk approve), if any."""

    id: int
    url: str
    cells: tuple[tuple[str, str], ...]
    task: int | None = None


@dataclass(frozen=True)
class Refusal:
    """One task the bulk approval could not approve, and why."""

    task: str
    record_id: int | None
    code: str
    message: Text


@dataclass(frozen=True)
class BulkOutcome:
    """What a bulk approval did: ``approved`` (task id, record id) pairs and
    the refusals."""

    approved: tuple[tuple[int, int | None], ...]
    refused: tuple[Refusal, ...]


# -- the list page ---------------------------------------------------------------------

@blueprint.get("/records/<entity>")
@login_required
def list_page(entity: str) -> Response:
    return _list_response(entity, request.args)


def _list_response(entity: str, params: MultiDict, *, bulk: BulkOutcome | None = None,
                   status: int = 200) -> Response:
    context = ctx()
    with services().db.begin() as conn:
        runtime = runtime_of(conn)
        spec = runtime.records.spec(entity)               # NotFound: the 404 page
        readable = _readable(runtime.records, context, spec)  # PermissionDenied: 403
        page = _ListPage(conn, runtime, context, spec, readable, params)
        try:
            values = page.listed()
        except InvalidQuery as exc:
            values, status = page.refused(exc), 400
    return render("list.html", status=status, bulk=bulk, **values)


class _ListPage:
    """The values of one list page for ``list.html`` (one read transaction)."""

    def __init__(self, conn: Connection, runtime: Any, context: Context, spec: EntitySpec,
                 readable: frozenset[str], params: MultiDict) -> None:
        self.conn, self.runtime, self.context, self.spec = conn, runtime, context, spec
        self.readable, self.params = readable, params
        self.raw = params.to_dict(flat=False)
        self.pairs = list(params.items(multi=True))
        self.view: ListViewSpec = list_view_of(spec)
        self.entity = spec.qualified_code
        self.language = lang()

    def listed(self) -> dict[str, Any]:
        records: RecordService = self.runtime.records
        query = parse_page_query(self.spec, self.view, self.raw, readable=self.readable,
                                 zone=display_zone())
        found = records.list(self.conn, self.context, self.entity,
                             records.query(self.context, self.entity, dict(query.args)))
        codes = self._columns(query.columns)
        shown = [{c: item[c] for c in codes if c in item} for item in found.items]
        labels = self._labels([*shown, *self._lookup_rows()])   # only what the page shows
        tasks = pending_tasks(self.conn, self.runtime.registry, self.entity,
                              self.context.actor, [r["id"] for r in found.items])
        rows = self._rows(found.items, codes, labels, tasks)
        return {**self._common(query.sort, labels), "columns": self._headers(codes, query.sort),
                "rows": rows, "total": found.total, "page": found.page,
                "page_size": found.page_size, "bulk_tasks": bool(tasks)}

    def refused(self, error: InvalidQuery) -> dict[str, Any]:
        """The page of a refused query: the message, no rows."""
        sort = tuple(self.view.sort)
        labels = self._labels(list(self._lookup_rows()))
        return {**self._common(sort, labels), "columns": self._headers(self._columns(()), sort),
                "rows": None, "total": 0, "page": 1, "page_size": self.view.page_size,
                "bulk_tasks": False, "error": error, "error_field": error_target(error)}

    # -- parts ---------------------------------------------------------------------

    def _common(self, sort: tuple[str, ...], labels: Labels) -> dict[str, Any]:
        chosen = self._columns(part.strip() for value in self.raw.get("columns", ())
                               for part in value.split(","))
        records: RecordService = self.runtime.records
        return {
            "entity": self.spec, "entity_code": self.entity,
            "controls": filter_bar(
                self.spec, self.view, self.raw, readable=self.readable,
                dictionaries=self.runtime.registry.dictionaries, lookup_url=_lookup_url,
                describe=lambda field, value: _describe(field, value, labels)),
            "search": self.params.get("q", ""), "searchable": bool(self.spec.search_fields),
            "chooser": [(f, f.code in chosen) for f in self.spec.fields
                        if f.code in self.readable],
            "keep_filters": [(k, v) for k, v in self.pairs
                             if k in ("sort", "columns", "page_size")],
            "keep_columns": page_params(self.pairs, drop=("columns", "page")),
            "back": urlencode(self.pairs),
            "bulk_url": self._bulk_url(),
            "page_url": lambda number: self._url(page_params(self.pairs, page=str(number))),
            "links": _links(records, self.context, self.entity, self.pairs),
            "error": None, "error_field": None,
        }

    def _labels(self, rows: list[dict[str, Any]]) -> Labels:
        return Labels.for_rows(self.conn, self.runtime.registry, self.spec, rows,
                               self.language, zone=display_zone())

    def _bulk_url(self) -> str:
        """Where the bulk form posts; a ``?lang=`` of the page answers in its language."""
        language = self.params.get("lang")
        extra = {"lang": language} if language else {}
        return url_for("ui_listing.bulk_approve", entity=self.entity, **extra)

    def _columns(self, chosen: Iterable[str]) -> list[str]:
        codes = list(chosen) or list(self.view.columns)
        return [c for c in codes if c in self.readable and self.spec.field(c) is not None]

    def _headers(self, codes: list[str], sort: tuple[str, ...]) -> list[Column]:
        first = sort[0] if sort else ""
        headers = []
        for code in codes:
            field = self.spec.field(code)
            state = ("asc" if first.lstrip("+") == code else
                     "desc" if first == f"-{code}" else None)
            target = f"-{code}" if state == "asc" else code
            url = self._url(page_params(self.pairs, drop=("page",), sort=target))
            headers.append(Column(field, field.value_type in _NUMERIC, url, state))
        return headers

    def _rows(self, items: list[dict[str, Any]], codes: list[str], labels: Labels,
              tasks: Mapping[int, int]) -> list[Row]:
        fields = [(c, self.spec.field(c)) for c in codes]
        classes = ["num" if field.value_type in _NUMERIC else "" for _, field in fields]
        detail, language = _detail_urls(self.entity), self.language
        return [Row(item["id"], detail(item["id"]), tuple(zip(classes, (
                    format_value(field, item[c], lang=language, labels=labels)
                    if c in item else "" for c, field in fields))),
                    tasks.get(item["id"])) for item in items]

    def _lookup_rows(self) -> Iterable[dict[str, Any]]:
        """One row per value of a lookup filter, so the labels of the current
        lookup choices are read with the page's other labels."""
        for field in self.spec.fields:
            if field.value_type in _LOOKUPS and field.code in self.readable:
                for value in self.params.getlist(f"f.{field.code}"):
                    typed = _typed_lookup(field, value)
                    if typed is not None:
                        yield {field.code: typed}

    def _url(self, pairs: list[tuple[str, str]]) -> str:
        base = url_for("ui_listing.list_page", entity=self.entity)
        return f"{base}?{urlencode(pairs)}" if pairs else base


def _readable(records: RecordService, context: Context, spec: EntitySpec) -> frozenset[str]:
    """The main fields ``context`` may list (PermissionDenied without a read grant)."""
    hidden = records.unlisted(context, spec.qualified_code)
    return frozenset(f.code for f in spec.fields if f.code not in hidden)


def _typed_lookup(field: FieldSpec, value: str) -> Any:
    value = value.strip()
    if field.value_type != "reference":
        return value or None
    return int(value) if value.isascii() and value.isdigit() and len(value) < 10 else None


def _describe(field: FieldSpec, value: str, labels: Labels) -> str:
    typed = _typed_lookup(field, value)
    if typed is None:
        return value
    return format_value(field, typed, lang=labels.lang, labels=labels) or value


def _lookup_url(field: FieldSpec) -> str:
    """Where the filter's picker searches (``ui_lookups``)."""
    if field.value_type == "reference":
        return url_for(_LOOKUPS["reference"], entity=field.reference)
    return url_for(_LOOKUPS[field.value_type])


def _detail_urls(entity: str) -> Callable[[int], str]:
    """The detail page link of a record of ``entity`` by id, built once per
    page (``url_for`` per row is a good part of a page's time): ``…/<id>``."""
    prefix = url_for("ui_detail.detail_page", entity=entity, record_id=1)[:-len("/1")]
    return lambda record_id: f"{prefix}/{record_id}"


def _links(records: RecordService, context: Context, entity: str,
           pairs: list[tuple[str, str]]) -> dict[str, str | None]:
    """The toolbar's links the user's grants allow (None: not shown)."""
    query = f"?{urlencode(pairs)}" if pairs else ""
    links: dict[str, str | None] = {"new": None, "export": None, "import": None,
                                    "template": None}
    if records.may(context, entity, "create"):
        links["new"] = url_for("ui_forms.new_record", entity=entity)
    if records.may(context, entity, "export"):
        links["export"] = url_for("ui_excel.export", entity=entity) + query
    if records.may(context, entity, "import"):
        links["import"] = url_for("ui_excel.import_page", entity=entity)
        links["template"] = url_for("ui_excel.template", entity=entity)
    return links


# -- pending tasks on the rows -------------------------------------------------------------

def pending_tasks(conn: Connection, registry: Any, entity: str, user: str,
                  record_ids: list[int]) -> dict[int, int]:
    """``{record id: task id}`` of ``user``'s pending tasks on the given
    records of ``entity`` (the oldest one when there are several), in one
    query; empty when the entity has no workflow."""
    if not record_ids or not workflows_of(registry, entity):
        return {}
    joined = wf_task.join(wf_instance, wf_instance.c.id == wf_task.c.instance_id)
    rows = conn.execute(
        select(wf_instance.c.record_id, func.min(wf_task.c.id)).select_from(joined)
        .where(wf_instance.c.entity == entity, wf_instance.c.record_id.in_(record_ids),
               wf_task.c.assignee == user, wf_task.c.status == "pending",
               wf_task.c.kind.in_(_WORK_KINDS))
        .group_by(wf_instance.c.record_id))
    return {record_id: task_id for record_id, task_id in rows}


# -- bulk approve ----------------------------------------------------------------------------

@blueprint.post("/records/<entity>/bulk-approve")
@login_required
def bulk_approve(entity: str) -> Response:
    """Approve the ticked tasks, each in its own transaction, then show the
    list (as it was, from the form's ``back`` query string) with the results."""
    context = ctx()
    with services().db.begin() as conn:
        runtime_of(conn).records.spec(entity)   # NotFound: the 404 page
    given = request.form.getlist("task")
    if not given:
        raise InvalidQuery(Text("请至少勾选一个待审批的任务", "select at least one task to approve"),
                           details={"parameter": "task", "value": []})
    if len(given) > _MAX_BULK:
        raise InvalidQuery(Text(f"一次最多批量审批 {_MAX_BULK} 个任务",
                                f"at most {_MAX_BULK} tasks can be approved at once"),
                           details={"parameter": "task", "value": len(given)})
    comment = request.form.get("comment", "").strip() or None
    outcome = _approve_all(context, entity, given, comment)
    back = MultiDict(parse_qsl(request.form.get("back", ""), keep_blank_values=True,
                               max_num_fields=500))
    return _list_response(entity, back, bulk=outcome)


def _approve_all(context: Context, entity: str, given: list[str],
                 comment: str | None) -> BulkOutcome:
    ids = [int(v) for v in given if _task_id(v)]
    refused = [Refusal(v[:20], None, "invalid_task", Text(
        f"任务编号 {v[:20]!r} 无效", f"{v[:20]!r} is not a task id")) for v in given
        if not _task_id(v)]
    with services().db.begin() as conn:
        owners = _task_records(conn, ids)
    approved = []
    for task_id in dict.fromkeys(ids):
        owner, record_id = owners.get(task_id, (None, None))
        if owner is not None and owner != entity:
            refused.append(Refusal(str(task_id), None, "other_entity", Text(
                f"任务 {task_id} 不属于此列表的单据", f"task {task_id} is not on this list")))
            continue
        try:
            with services().db.begin(write=True) as conn:
                runtime_of(conn).workflow.approve(conn, context, task_id, comment=comment)
        except YunyingError as exc:
            refused.append(Refusal(str(task_id), record_id, exc.code, exc.message))
        else:
            approved.append((task_id, record_id))
    return BulkOutcome(tuple(approved), tuple(refused))


def _task_id(value: str) -> bool:
    value = value.strip()
    return value.isascii() and value.isdigit() and len(value) <= 10 \
        and 1 <= int(value) <= _INT32_MAX


def _task_records(conn: Connection, ids: list[int]) -> dict[int, tuple[str, int]]:
    """``{task id: (entity, record id)}`` of the given tasks."""
    if not ids:
        return {}
    rows = conn.execute(
        select(wf_task.c.id, wf_instance.c.entity, wf_instance.c.record_id)
        .select_from(wf_task.join(wf_instance, wf_instance.c.id == wf_task.c.instance_id))
        .where(wf_task.c.id.in_(ids)))
    return {task_id: (owner, record_id) for task_id, owner, record_id in rows}

