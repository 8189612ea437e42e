"""The generated create / edit form of the staff UI (runtime layer, HTTP edge).

``GET/POST /records/<entity>/new`` and ``/records/<entity>/<id>/edit``
render the entity's form (:mod:`.form_model`) and save through the record
service, exactly as the JSON API does (:mod:`.form_input` turns the posted
fields into the API's payload). A refused save re-renders the form with the
user's input kept: 422 with every error next to its field (line errors in
their cell, record-level ones in the summary on top), 409 with a banner
when someone else saved the record first, 403 when the save changes a field
the user may not change. ``POST /records/<entity>/form-state`` answers the
live form's JSON from ``RecordService.preview`` (nothing is written).

Uploaded files of attachment fields are stored in the save's transaction,
so a refused save leaves no attachment row behind.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Mapping

from flask import Blueprint, Response, flash, redirect, request, url_for
from sqlalchemy import Connection

from yunying.metadata.spec import EntitySpec
from yunying.platform.errors import (
    InvalidQuery, PermissionDenied, StaleRecord, ValidationFailed, YunyingError,
)
from yunying.platform.i18n import Text
from yunying.runtime.api.attachments import save_upload
from yunying.runtime.ui.form_input import FormInput, is_attachment_input, parse_form
from yunying.runtime.ui.form_model import (
    FormData, FormEnv, build_form, state_answer, wanted_texts,
)
from yunying.runtime.ui.display import display_zone
from yunying.runtime.ui.lookups import json_endpoint, record_title, texts_for
from yunying.runtime.ui.web import T, ctx, lang, login_required, render, runtime_of, services

__all__ = ["blueprint"]

blueprint = Blueprint("ui_forms", __name__, template_folder="templates")

#: refusals of a save that name fields: shown on the form, not as an error page.
_FIELD_REFUSALS = frozenset({"read_only_field", "hidden_field", "out_of_scope"})
_FORM_FAILED = Text("表单有错误，未保存；请按提示修改", "the form has errors and was not saved; "
                    "correct them as shown")
_REUPLOAD = Text("文件未保存：请修正其他错误后重新选择文件",
                 "the file was not kept: choose it again after correcting the other errors")
_INT32_MAX = 2 ** 31 - 1


@dataclass
class _Page:
    """One rendering of the form: what to show and why."""

    entity: str
    record_id: int | None = None
    version: Any = None
    status: int = 200
    headline: str = ""
    stale: Any = None                    # the stored version after a 409
    given: FormInput | None = None       # the user's input after a refused save
    errors: Mapping[str, Any] = field(default_factory=dict)


# -- pages ------------------------------------------------------------------------

@blueprint.route("/records/<entity>/new", methods=["GET", "POST"])
@login_required
def new_record(entity: str) -> Response:
    if request.method == "GET":
        return _show(_Page(entity))
    return _save(_Page(entity))


@blueprint.route("/records/<entity>/<int:record_id>/edit", methods=["GET", "POST"])
@login_required
def edit_record(entity: str, record_id: int) -> Response:
    if request.method == "GET":
        return _show(_Page(entity, record_id))
    return _save(_Page(entity, record_id, version=request.form.get("version")))


@blueprint.post("/records/<entity>/form-state")
@json_endpoint
def form_state(entity: str) -> dict[str, Any]:
    """The live form: conditions, computed values and totals for the posted fields."""
    record_id = _record_id_arg()
    with services().db.begin() as conn:
        rt = runtime_of(conn)
        spec = rt.records.spec(entity)
        given = parse_form(spec, request.form, zone=display_zone())
        preview = rt.records.preview(conn, ctx(), entity, given.data, record_id=record_id)
        hidden = rt.records.field_access(conn, ctx(), entity, record_id).hidden
    return state_answer(spec, preview, lang(), hidden, display_zone())


def _record_id_arg() -> int | None:
    raw = request.args.get("record_id")
    if raw is None:
        return None
    if raw.isascii() and raw.isdigit() and len(raw) <= 10 and 1 <= int(raw) <= _INT32_MAX:
        return int(raw)
    raise InvalidQuery(Text("参数 record_id 应为正整数", "record_id must be a positive whole number"),
                       details={"parameter": "record_id", "value": raw[:20]})


# -- saving -----------------------------------------------------------------------

def _save(page: _Page) -> Response:
    try:
        with services().db.begin(write=True) as conn:
            record = _write(conn, page)
    except ValidationFailed as exc:
        return _refused(page, 422, exc, exc.details.get("fields", {}))
    except StaleRecord as exc:
        page.stale = exc.details.get("current_version")
        return _refused(page, 409, exc, {})
    except PermissionDenied as exc:
        if exc.code not in _FIELD_REFUSALS:
            raise
        return _refused(page, 403, exc, {})  # the headline names the fields
    flash(T("已保存", "Saved"), "success")
    return redirect(url_for("ui_detail.detail_page", entity=page.entity, record_id=record["id"]))


def _write(conn: Connection, page: _Page) -> dict[str, Any]:
    """Parse, store the uploads, create or update; raises what the service raises."""
    rt = runtime_of(conn)
    spec = rt.records.spec(page.entity)
    page.given = parse_form(spec, request.form, zone=display_zone())
    if page.given.errors:  # the form itself is malformed: nothing is written
        raise ValidationFailed(_FORM_FAILED, details={"fields": page.given.errors})
    uploads = _store_uploads(conn, spec)
    data = parse_form(spec, request.form, uploads, zone=display_zone()).data \
        if uploads else page.given.data
    if page.record_id is None:
        return rt.records.create(conn, ctx(), page.entity, data)
    return rt.records.update(conn, ctx(), page.entity, page.record_id, data,
                             version=_version(page.version))


def _version(raw: Any) -> Any:
    """The posted version: an int when it is one (the service judges the rest)."""
    text = str(raw).strip() if raw is not None else ""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 10 else raw


def _store_uploads(conn: Connection, spec: EntitySpec) -> dict[str, str]:
    """Store each uploaded file of an attachment input; its new id by input name."""
    ids: dict[str, str] = {}
    for name in request.files:
        chosen = [f for f in request.files.getlist(name) if f.filename]
        if not chosen or not is_attachment_input(spec, name):
            continue
        ids[name] = str(save_upload(conn, ctx(), chosen[-1])["id"])
    return ids


def _refused(page: _Page, status: int, exc: YunyingError,
             errors: Mapping[str, Any]) -> Response:
    errors = dict(errors)
    for name in request.files:  # an upload of a refused save was rolled back
        if any(f.filename for f in request.files.getlist(name)):
            errors.setdefault(name.replace("-", "."), []).append(
                {"code": "reupload", "message": _REUPLOAD.as_dict(), "params": {}})
    page.status, page.errors = status, errors
    page.headline = exc.message.get(lang())
    return _show(page)


# -- rendering --------------------------------------------------------------------

def _show(page: _Page) -> Response:
    with services().db.begin() as conn:
        rt = runtime_of(conn)
        spec = rt.records.spec(page.entity)
        stored = _stored(conn, rt, page)
        preview = _preview(conn, rt, page, page.given.data if page.given is not None else {})
        # the user's input as typed (datetimes in the page's zone, not converted)
        typed = parse_form(spec, request.form).data if page.given is not None else {}
        data = _form_data(conn, rt, spec, page, stored, typed, preview)
        texts = texts_for(conn, rt.registry, wanted_texts(spec, data.values, data.lines), lang())
    env = FormEnv(language=lang(), today=ctx().now().date(),
                  dictionaries=rt.registry.dictionaries, texts=texts, zone=display_zone())
    form = build_form(spec, data, env)
    return render("form.html", page.status, form=form, page=page, spec=spec,
                  title=_title(spec, stored), **_urls(page, spec))


def _stored(conn: Connection, rt: Any, page: _Page) -> dict[str, Any]:
    if page.record_id is None:
        return {}
    record = rt.records.get(conn, ctx(), page.entity, page.record_id)
    if page.given is None:
        page.version = record.get("version")
    return record


def _preview(conn: Connection, rt: Any, page: _Page, given: Mapping[str, Any]) -> dict[str, Any]:
    """The conditions and derived values for the form. A first render asks with
    the caller's own rights (403 / 404 as the save would be); after a refused
    save a failing preview just shows no conditions."""
    if page.given is None:
        return rt.records.preview(conn, ctx(), page.entity, given, record_id=page.record_id)
    try:
        with conn.begin_nested():
            return rt.records.preview(conn, ctx(), page.entity, given,
                                      record_id=page.record_id)
    except YunyingError:
        return {}


def _form_data(conn: Connection, rt: Any, spec: EntitySpec, page: _Page,
               stored: Mapping[str, Any], given: Mapping[str, Any],
               preview: Mapping[str, Any]) -> FormData:
    computed = {f.code for f in spec.fields if f.is_computed}
    derived = preview.get("values", {})
    values = {**stored, **(derived if page.given is None else
                           {k: v for k, v in derived.items() if k in computed}),
              **{k: v for k, v in given.items() if spec.child(k) is None}}
    lines = {}
    for child in spec.children:
        rows = given.get(child.code, stored.get(child.code, []))
        shown = preview.get("lines", {}).get(child.code)
        lines[child.code] = _with_computed(child, rows, shown) if shown else list(rows)
    access = rt.records.field_access(conn, ctx(), page.entity, page.record_id)
    hidden = access.hidden | _absent(spec, stored) if page.record_id else access.hidden
    errors = {path: list(entries) for path, entries in page.errors.items()}
    if page.given is not None and page.given.errors:  # the form's own: add the service's
        for path, entries in preview.get("errors", {}).items():
            errors.setdefault(path, []).extend(entries)
    return FormData(values=values, lines=lines, errors=errors,
                    conditions=preview.get("conditions", {}),
                    access=replace(access, hidden=hidden))


def _with_computed(child: Any, rows: list, shown: list) -> list[dict[str, Any]]:
    """Lines as given, with the computed values a preview derived for them."""
    computed = [f.code for f in child.fields if f.is_computed]
    return [{**row, **{c: shown[i].get(c) for c in computed if i < len(shown)}}
            for i, row in enumerate(rows) if isinstance(row, Mapping)]


def _absent(spec: EntitySpec, stored: Mapping[str, Any]) -> frozenset[str]:
    """Fields a stored record was read without: hidden from the caller."""
    names = {f.code for f in spec.fields if f.code not in stored}
    for child in spec.children:
        lines = stored.get(child.code) or []
        names |= {f"{child.code}.{f.code}" for f in child.fields
                  if lines and all(f.code not in line for line in lines)}
        if child.code not in stored:
            names.add(child.code)
    return frozenset(names)


def _title(spec: EntitySpec, stored: Mapping[str, Any]) -> str:
    label = spec.label.get(lang())
    if not stored:
        return T(f"新建{label}", f"New {label.lower()}")
    return T(f"编辑{label} {record_title(spec, stored)}",
             f"Edit {label.lower()} {record_title(spec, stored)}")


def _urls(page: _Page, spec: EntitySpec) -> dict[str, Any]:
    state = url_for("ui_forms.form_state", entity=page.entity, record_id=page.record_id)
    if page.record_id is None:
        action = url_for("ui_forms.new_record", entity=page.entity)
        cancel = url_for("ui_listing.list_page", entity=page.entity)
    else:
        action = url_for("ui_forms.edit_record", entity=page.entity, record_id=page.record_id)
        cancel = url_for("ui_detail.detail_page", entity=page.entity, record_id=page.record_id)
    multipart = any(f.type == "attachment" for f in spec.fields) or any(
        f.type == "attachment" for c in spec.children for f in c.fields)
    return {"action_url": action, "state_url": state, "cancel_url": cancel,
            "reload_url": action, "multipart": multipart}
