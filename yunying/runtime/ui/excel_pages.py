"""Excel export, import template and import pages of the staff UI (runtime
layer, HTTP edge).

``GET /records/<entity>/export.xlsx`` takes the list page's query string
(``q``, ``f.<field>``, ``sort`` — :mod:`.list_filters` — or the record
API's own ``filter`` / ``search``) and writes every matching record through
``RecordService.export_rows``, which needs the ``export`` grant and applies
its data scope and field permissions: the columns are those the rows show.
``GET /records/<entity>/template.xlsx`` is the empty importable layout.
``/records/<entity>/import`` uploads a file; the job (see :mod:`.imports`)
previews it in the background, ``/imports/<job>`` shows its progress and
errors, ``/imports/<job>/commit`` writes it. The workbook layout is
described in :mod:`.excel`, its reading in :mod:`.excel_read`.
"""

from __future__ import annotations

import os
import re
from datetime import datetime
from typing import Any, Mapping, Sequence

from flask import Blueprint, Response, current_app, redirect, render_template, request, url_for
from sqlalchemy import Connection, select

from yunying.metadata.spec import EntitySpec
from yunying.metadata.views import list_view_of
from yunying.platform.errors import NotFound, PermissionDenied
from yunying.platform.i18n import Text
from yunying.runtime.access.fields import hidden_anywhere, locked_on
from yunying.runtime.access.policy import held_grants, unrestricted
from yunying.runtime.ui import excel
from yunying.runtime.ui.display import display_zone, to_local
from yunying.runtime.ui.excel import FIRST_DATA_ROW, PARENT_ROW, SheetSpec
from yunying.runtime.ui.excel_read import ImportFileRefused, Limits, read_workbook
from yunying.runtime.ui.imports import JOBS_KEY, ImportJobs
from yunying.runtime.ui.list_filters import parse_page_query
from yunying.runtime.ui.web import ctx, lang, login_required, render, runtime_of, services

__all__ = ["blueprint", "import_limits"]

blueprint = Blueprint("ui_excel", __name__, template_folder="templates")

_API_PARAMETERS = ("filter", "search")
_PAGE_ONLY = ("page", "page_size")
_CHUNK = 500
_ERRORS_PER_PAGE = 50
_JOB_ID = re.compile(r"[0-9a-f]{32}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_NO_FILE = Text("请选择要上传的 .xlsx 文件", "choose an .xlsx file to upload")


@blueprint.record_once
def _install(state: Any) -> None:
    app = state.app
    app.extensions.setdefault(JOBS_KEY, ImportJobs(os.path.join(app.instance_path, "imports")))


def _jobs() -> ImportJobs:
    return current_app.extensions[JOBS_KEY]


def import_limits() -> Limits:
    """The upload limits of this app (config ``IMPORT_MAX_BYTES``, ``_ROWS``,
    ``_COLUMNS``, ``_CELL_CHARS``, ``_UNPACKED``)."""
    config, base = current_app.config, Limits()
    return Limits(*(int(config.get(f"IMPORT_MAX_{name.upper()}", getattr(base, f"max_{name}")))
                    for name in ("bytes", "rows", "columns", "cell_chars", "unpacked")))


# ---------------------------------------------------------------- export

@blueprint.get("/records/<entity>/export.xlsx")
@login_required
def export(entity: str) -> Response:
    c = ctx()
    with services().db.connect() as conn:
        runtime = runtime_of(conn)
        spec = runtime.records.spec(entity)
        query = runtime.records.query(c, entity, _list_args(spec))
        rows = list(runtime.records.export_rows(conn, c, entity, query))
        lines = _lines(conn, runtime, spec, rows)
        sheets = excel.export_specs(runtime.registry, spec, _shown(runtime, spec, rows, lines))
        keys = _reference_keys(conn, runtime.registry, sheets, rows, lines)
    zone = display_zone()
    data = [(sheets[0], [[_cell(col, row.get(col.code), keys, zone) for col in sheets[0].columns]
                         for row in rows])]
    for sheet in sheets[1:]:
        data.append((sheet, [[FIRST_DATA_ROW + n if col.code == PARENT_ROW
                              else _cell(col, line.get(col.code), keys, zone)
                              for col in sheet.columns]
                             for n, line in lines.get(sheet.child or "", [])]))
    stamp = c.now().strftime("%Y%m%d-%H%M")
    return _xlsx(excel.write_workbook(data, lang()), f"{entity}-{stamp}.xlsx")


def _list_args(spec: EntitySpec) -> dict[str, list[str]]:
    """The record API's list arguments of the list page's query string."""
    params = request.args.to_dict(flat=False)
    extra = {name: params.pop(name) for name in _API_PARAMETERS if name in params}
    page = parse_page_query(spec, list_view_of(spec), params)
    args = {name: list(values) for name, values in page.args.items() if name not in _PAGE_ONLY}
    for name, values in extra.items():
        args.setdefault(name, []).extend(values)
    return args


def _lines(conn: Connection, runtime: Any, spec: EntitySpec,
           rows: Sequence[Mapping[str, Any]]) -> dict[str, list[tuple[int, dict]]]:
    """Each child's lines as ``(index of the record in rows, line)``: read in
    bulk for an unrestricted caller, else through ``get`` (the caller's read
    view and the workflow's hidden fields) minus what an export grant hides."""
    if not spec.children or not rows:
        return {}
    c, out = ctx(), {child.code: [] for child in spec.children}
    if unrestricted(c.grants):
        tables = runtime.registry.tables(spec.qualified_code).children
        position = {row["id"]: n for n, row in enumerate(rows)}
        for code, table in tables.items():
            ids = sorted(position)
            for start in range(0, len(ids), _CHUNK):
                stmt = select(table).where(table.c.parent_id.in_(ids[start:start + _CHUNK]))
                for line in conn.execute(stmt.order_by(table.c.parent_id, table.c.line_no)):
                    out[code].append((position[line.parent_id], dict(line._mapping)))
        for code in out:
            out[code].sort(key=lambda item: item[0])
        return out
    hidden = hidden_anywhere(held_grants(c.grants, runtime.registry, spec.qualified_code,
                                         "export"))
    for n, row in enumerate(rows):
        try:
            record = runtime.records.get(conn, c, spec.qualified_code, row["id"])
        except (NotFound, PermissionDenied):
            continue
        for code in out:
            gone = {name.partition(".")[2] for name in hidden if name.startswith(f"{code}.")}
            out[code] += [(n, {k: v for k, v in line.items() if k not in gone})
                          for line in record.get(code, [])]
    return out


def _shown(runtime: Any, spec: EntitySpec, rows: Sequence[Mapping[str, Any]],
           lines: Mapping[str, list[tuple[int, dict]]]) -> set[str] | None:
    """The field paths the export may show: those the rows (and lines) carry;
    without rows, those no export grant of the caller hides."""
    c = ctx()
    if unrestricted(c.grants):
        return None
    hidden = hidden_anywhere(held_grants(c.grants, runtime.registry, spec.qualified_code,
                                         "export"))
    shown = {k for row in rows for k in row} if rows else \
        {f.code for f in spec.fields} - hidden
    for child in spec.children:
        found = lines.get(child.code)
        names = {k for _, line in found for k in line} if found else \
            {f.code for f in child.fields if f"{child.code}.{f.code}" not in hidden}
        shown |= {f"{child.code}.{name}" for name in names}
    return shown


def _reference_keys(conn: Connection, registry: Any, sheets: Sequence[SheetSpec],
                    rows: Sequence[Mapping[str, Any]],
                    lines: Mapping[str, list[tuple[int, dict]]]) -> dict[str, dict[int, Any]]:
    """``{target entity: {id: key value}}`` of every reference exported."""
    wanted: dict[str, set[int]] = {}
    for sheet in sheets:
        source = rows if sheet.child is None else [line for _, line in lines.get(sheet.child, [])]
        for col in sheet.columns:
            if col.kind == "reference" and col.target:
                wanted.setdefault(col.target, set()).update(
                    r[col.code] for r in source if r.get(col.code) is not None)
    keys: dict[str, dict[int, Any]] = {}
    for target, ids in wanted.items():
        spec, tables = registry.entity(target), registry.tables(target)
        key = (spec.key_field or spec.title_field) if spec is not None else None
        keys[target] = {}
        if key is None or tables is None:
            continue
        ordered = sorted(ids)
        for start in range(0, len(ordered), _CHUNK):
            stmt = select(tables.table.c.id, tables.table.c[key]).where(
                tables.table.c.id.in_(ordered[start:start + _CHUNK]))
            keys[target].update({rid: key for rid, key in conn.execute(stmt)})
    return keys


def _cell(column: excel.Column, value: Any, keys: Mapping[str, Mapping[int, Any]],
          zone: Any) -> Any:
    if value is None:
        return None
    if column.kind == "reference":
        return keys.get(column.target or "", {}).get(value, value)
    if isinstance(value, datetime):
        return to_local(value, zone)
    return value


def _xlsx(data: bytes, filename: str) -> Response:
    response = Response(data, mimetype=excel.XLSX_TYPE)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


# ---------------------------------------------------------------- template + import

def _import_specs(runtime: Any, entity: str) -> tuple[EntitySpec, list[SheetSpec]]:
    """The entity and its sheets as the caller imports them; 403 without the
    ``import`` grant. Fields every create grant of the caller locks are read-only."""
    c = ctx()
    spec = runtime.records.spec(entity)
    if not runtime.records.may(c, entity, "import"):
        raise PermissionDenied(Text(f"没有权限导入{spec.label.zh}",
                                    f"not allowed to import {spec.label.en}"),
                               details={"entity": entity, "action": "import"})
    locked: frozenset[str] = frozenset()
    if not unrestricted(c.grants):
        creates = held_grants(c.grants, runtime.registry, spec.qualified_code, "create")
        locked = locked_on(creates) if creates else frozenset()
    return spec, excel.import_specs(runtime.registry, spec, locked)


@blueprint.get("/records/<entity>/template.xlsx")
@login_required
def template(entity: str) -> Response:
    with services().db.connect() as conn:
        _, sheets = _import_specs(runtime_of(conn), entity)
    data = excel.write_workbook([(s.importable(), []) for s in sheets], lang(), drop_downs=True)
    return _xlsx(data, f"{entity}-template.xlsx")


@blueprint.route("/records/<entity>/import", methods=["GET", "POST"])
@login_required
def import_page(entity: str) -> Response:
    with services().db.connect() as conn:
        spec, sheets = _import_specs(runtime_of(conn), entity)
    limits = import_limits()
    if request.method == "GET":
        return _import_form(spec, sheets, limits)
    try:
        job = _upload(entity, sheets, limits)
    except ImportFileRefused as exc:
        return _import_form(spec, sheets, limits, error=exc.message, status=exc.status)
    return redirect(url_for("ui_excel.job_page", job=job), 303)


def _import_form(spec: EntitySpec, sheets: list[SheetSpec], limits: Limits, *,
                 error: Text | None = None, status: int = 200) -> Response:
    return render("import.html", status=status, spec=spec, entity=spec.qualified_code,
                  sheets=[s.importable() for s in sheets], limits=limits, error=error,
                  megabytes=limits.max_bytes // (1024 * 1024))


def _upload(entity: str, sheets: list[SheetSpec], limits: Limits) -> str:
    """Store the uploaded file, read it and start its preview; the job id."""
    files = request.files.getlist("file")
    if len(files) != 1 or not files[0].filename:
        raise ImportFileRefused(_NO_FILE, reason="missing_file", status=400)
    data = files[0].stream.read(limits.max_bytes + 1)
    if len(data) > limits.max_bytes:
        mb = limits.max_bytes // (1024 * 1024)
        raise ImportFileRefused(Text(f"文件超过 {mb} MB，请拆分后分批导入",
                                     f"the file is larger than {mb} MB; split it and "
                                     "import the parts"), reason="too_large", status=413)
    jobs = _jobs()
    job_id, path = jobs.new_file()
    with open(path, "wb") as out:
        out.write(data)
    try:
        book = read_workbook(path, sheets, limits)
    except ImportFileRefused:
        os.unlink(path)
        raise
    name = _CONTROL.sub("", files[0].filename.replace("\\", "/").rsplit("/", 1)[-1])[:120]
    jobs.preview(services(), ctx(), job_id, path, entity, name, book, display_zone())
    return job_id


# ---------------------------------------------------------------- jobs

def _job(job: str) -> Any:
    if not _JOB_ID.fullmatch(job):
        raise NotFound(Text("没有这个导入任务", "there is no such import job"),
                       code="unknown_import", details={"job": job[:40]})
    return _jobs().view(job, ctx().actor)


@blueprint.get("/imports/<job>")
@login_required
def job_page(job: str) -> Response:
    view = _job(job)
    with services().db.connect() as conn:
        spec = runtime_of(conn).records.spec(view.entity)
    page = request.args.get("page", "1")
    page = int(page) if page.isdigit() and 0 < int(page) < 10 ** 6 else 1
    last = max((len(view.errors) - 1) // _ERRORS_PER_PAGE + 1, 1)
    page = min(page, last)
    shown = view.errors[(page - 1) * _ERRORS_PER_PAGE:page * _ERRORS_PER_PAGE]
    return render("import_job.html", job=view, spec=spec, errors=shown, page=page,
                  per_page=_ERRORS_PER_PAGE,
                  page_url=lambda n: url_for("ui_excel.job_page", job=job, page=n))


@blueprint.get("/imports/<job>/progress")
@login_required
def job_progress(job: str) -> Response:
    view = _job(job)
    partial = render_template("_import_progress.html", job=view, polled=True)
    response = Response(partial, mimetype="text/html")
    if not view.running and request.headers.get("HX-Request"):
        response.headers["HX-Refresh"] = "true"   # the finished job's page shows the results
    return response


@blueprint.post("/imports/<job>/commit")
@login_required
def commit(job: str) -> Response:
    _job(job)
    _jobs().commit(services(), ctx(), job)
    return redirect(url_for("ui_excel.job_page", job=job), 303)
