"""The detail page of a record (runtime layer, HTTP edge).

``GET /records/<entity>/<id>`` shows one record the way its form lays it
out (:func:`~yunying.metadata.views.form_of`): every section's fields and
child lines with their money totals, values formatted by :mod:`.display`.
For an entity with a workflow it adds the state badge, a button per action
the user may take now (the engine's ``status``: transitions to fire, the
user's pending tasks, the initiator's instance actions — dialogs described
by :mod:`.actions`), the approval timeline and, for readers of the record,
its audit history with the fields hidden from them left out.
``POST /records/<entity>/<id>/delete`` deletes it through the record service.

Refusals a reader can act on — delete refused (409 ``workflow_open``,
``referenced``, a stale version), an action refused — are shown on this page
in a banner with their status; a record the user may not read is the HTML
error page (403/404).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any, Callable, Iterable, Mapping

from flask import Blueprint, Response, flash, redirect, request, url_for
from sqlalchemy import Connection

from yunying.metadata.spec import ChildSpec, EntitySpec, FieldSpec
from yunying.metadata.workflow_spec import WorkflowSpec
from yunying.metadata.views import form_of
from yunying.platform.audit import history
from yunying.platform.errors import NotFound, PermissionDenied
from yunying.platform.i18n import Text
from yunying.runtime.api.errors import status_of
from yunying.runtime.records.audit_changes import strip_changes
from yunying.runtime.records.workflow_rules import DELETABLE_CATEGORIES
from yunying.runtime.ui.actions import (
    REFUSALS, fire_dialogs, instance_dialogs, new_token, specs_of, task_dialogs,
)
from yunying.runtime.ui.form_model import line_totals
from yunying.runtime.ui.display import Labels, display_zone, format_value, to_local
from yunying.runtime.ui.web import (
    T, ctx, lang, login_required, render, runtime_of, services, tr,
)
from yunying.runtime.workflow.definitions import workflows_of
from yunying.runtime.workflow.fields import EDITABLE, workflow_field_access

__all__ = ["blueprint", "render_detail", "rerender", "TIMELINE_LABELS", "moment"]

blueprint = Blueprint("ui_detail", __name__, template_folder="templates")

#: the label of each timeline step (``yy_wf_event.action``).
TIMELINE_LABELS: Mapping[str, Text] = {
    "submit": Text("提交", "Submitted"), "transition": Text("状态变更", "State changed"),
    "activated": Text("到达节点", "Node reached"),
    "auto_approved": Text("自动通过", "Approved automatically"),
    "approve": Text("同意", "Approved"), "reject": Text("驳回", "Rejected"),
    "send_back": Text("退回", "Sent back"),
    "sent_back": Text("驳回退回", "Returned on reject"),
    "passed": Text("节点通过", "Node passed"), "branch": Text("条件分支", "Branch taken"),
    "parallel": Text("并行开始", "Parallel started"), "joined": Text("并行汇合", "Joined"),
    "cc": Text("抄送", "Copied"), "finished": Text("流程结束", "Finished"),
    "resubmit": Text("重新提交", "Resubmitted"), "withdraw": Text("撤回", "Withdrawn"),
    "transfer": Text("转交", "Transferred"), "add_signers": Text("加签", "Signers added"),
    "remind": Text("催办", "Reminded"), "comment": Text("评论", "Comment"),
    "timeout": Text("超时", "Timed out"),
}
_HISTORY_LABELS: Mapping[str, Text] = {
    "record.create": Text("创建", "Created"), "record.update": Text("修改", "Changed"),
    "record.delete": Text("删除", "Deleted"), "workflow.action": Text("审批操作", "Workflow"),
}


def moment(iso: str | None) -> str:
    """A stored (naive UTC, ISO 8601) moment as local ``YYYY-MM-DD HH:MM``."""
    if not iso:
        return ""
    return to_local(datetime.fromisoformat(iso), display_zone()).strftime("%Y-%m-%d %H:%M")


# ---------------------------------------------------------------- routes

@blueprint.get("/records/<entity>/<int:record_id>")
@login_required
def detail_page(entity: str, record_id: int) -> Response:
    return render_detail(entity, record_id, dialog=request.args.get("dialog"))


@blueprint.post("/records/<entity>/<int:record_id>/delete")
@login_required
def delete_record(entity: str, record_id: int) -> Response:
    raw = request.form.get("version", "")
    version: Any = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 10 else raw
    try:
        with services().db.begin(write=True) as conn:
            runtime_of(conn).records.delete(conn, ctx(), entity, record_id,
                                            version=version or None)
    except REFUSALS as error:
        return render_detail(entity, record_id, status=status_of(error), error=error.message)
    flash({"zh-CN": "已删除", "en": "Deleted"}, "success")
    return redirect(url_for("ui_listing.list_page", entity=entity), code=303)


def rerender(values: Mapping[str, Any], args: Mapping[str, str], **page: Any) -> Response:
    """The detail page named by a URL's ``values``, again (a refused action)."""
    return render_detail(values["entity"], values["record_id"], **page)


def render_detail(entity: str, record_id: int, *, status: int = 200,
                  error: Text | None = None, dialog: str | None = None,
                  given: Mapping[str, Any] | None = None) -> Response:
    """The detail page, with ``error`` in a banner and the dialog ``dialog``
    open (holding what was ``given``) when an action was refused."""
    c = ctx()
    with services().db.begin() as conn:
        rt = runtime_of(conn)
        record = rt.records.get(conn, c, entity, record_id)
        spec = rt.records.spec(entity)
        labels = Labels.for_rows(conn, rt.registry, spec, [record], lang(), zone=display_zone())
        flow = _workflow(conn, rt, c, spec, record["id"])
        page = {
            "entity": spec.qualified_code, "entity_label": tr(spec.label),
            "record": record, "title": _title(spec, record),
            "sections": _sections(spec, record, labels, _states(rt, spec)),
            "meta": _meta(record, labels),
            "workflow": flow,
            "can_edit": _may_edit(conn, rt, c, spec, record["id"], flow),
            "can_delete": _may_delete(rt, c, spec, flow),
            "history": _history(conn, rt, c, spec, record["id"]),
        }
    return render("detail.html", status=status, page=page, error=tr(error) if error else "",
                  banners=[("error", error)] if error else [],
                  open_dialog=dialog, given=given or {}, token=new_token(),
                  here=url_for("ui_detail.detail_page", entity=entity, record_id=record_id))


# ---------------------------------------------------------------- the record

def _title(spec: EntitySpec, record: Mapping[str, Any]) -> str:
    value = record.get(spec.title_field) if spec.title_field else None
    return str(value) if value not in (None, "") else f"#{record['id']}"


def _text(field: FieldSpec, value: Any, labels: Labels) -> str:
    return format_value(field, value, lang=labels.lang, labels=labels)


def _states(rt: Any, spec: EntitySpec) -> dict[str, dict[str, Text]]:
    """The labels of workflow states, by the field that stores the state."""
    found: dict[str, dict[str, Text]] = {}
    for flow in workflows_of(rt.registry, spec.qualified_code):
        for state in flow.states if flow.state_field else ():
            found.setdefault(flow.state_field, {}).setdefault(state.code, state.label)
    return found


def _main_text(field: FieldSpec, value: Any, labels: Labels,
               states: Mapping[str, Mapping[str, Text]]) -> str:
    """A main field's text; a workflow's state field shows the state's label."""
    label = states.get(field.code, {}).get(value) if isinstance(value, str) else None
    return tr(label) if label is not None else _text(field, value, labels)


def _sections(spec: EntitySpec, record: Mapping[str, Any], labels: Labels,
              states: Mapping[str, Mapping[str, Text]]) -> list[dict]:
    """The form's sections: shown fields (a field the caller may not see is
    absent from the record; one with a visibility condition shows when it
    holds a value) and child tables."""
    sections = []
    for section in form_of(spec).sections:
        fields = []
        for placed in section.fields:
            field = spec.field(placed.field)
            if field is None or placed.field not in record:
                continue
            value = record[placed.field]
            if placed.visible_when is not None and value in (None, ""):
                continue
            fields.append({"code": field.code, "label": tr(field.label), "span": placed.span,
                           "text": _main_text(field, value, labels, states),
                           "type": field.value_type,
                           "value": value})
        children = [_lines(child, record.get(child.code) or [], labels)
                    for child in spec.children if child.code in section.children]
        if fields or children:
            sections.append({"code": section.code, "label": tr(section.label),
                             "columns": section.columns, "fields": fields,
                             "children": children})
    return sections


def _lines(child: ChildSpec, lines: list[Mapping[str, Any]], labels: Labels) -> dict:
    """A child table: columns, formatted rows and the totals the form shows."""
    shown = set().union(*(line.keys() for line in lines)) if lines else None
    columns = [f for f in child.fields if shown is None or f.code in shown]
    hidden = frozenset(f"{child.code}.{f.code}" for f in child.fields if f not in columns)
    return {"code": child.code, "label": tr(child.label),
            "columns": [{"code": f.code, "label": tr(f.label), "numeric": f.is_numeric}
                        for f in columns],
            "rows": [[_text(f, line.get(f.code), labels) for f in columns] for line in lines],
            "totals": line_totals(child, lines, lang(), hidden)}


def _meta(record: Mapping[str, Any], labels: Labels) -> dict[str, str]:
    def at(value: Any) -> str:
        return to_local(value, labels.zone).strftime("%Y-%m-%d %H:%M") \
            if isinstance(value, datetime) else ""
    return {"created_by": labels.user(record["created_by"]) if record.get("created_by") else "",
            "created_at": at(record.get("created_at")),
            "updated_by": labels.user(record["updated_by"]) if record.get("updated_by") else "",
            "updated_at": at(record.get("updated_at"))}


def _may_edit(conn: Connection, rt: Any, c: Any, spec: EntitySpec, rid: int,
              flow: dict | None) -> bool:
    """An edit button: an update grant (or a pending task here) and some field
    the workflow leaves editable for this user."""
    if not rt.records.may(c, spec.qualified_code, "update") and not (flow and flow["my_tasks"]):
        return False
    access = workflow_field_access(conn, rt.registry, spec, rid, c.actor, now=c.now())
    return not access or any(value == EDITABLE for value in access.values())


def _may_delete(rt: Any, c: Any, spec: EntitySpec, flow: dict | None) -> bool:
    if not rt.records.may(c, spec.qualified_code, "delete"):
        return False
    if flow is None:
        return True
    instance = flow["instance"]
    return (instance is None or instance["status"] not in ("running", "returned")) \
        and flow["state_category"] in DELETABLE_CATEGORIES


# ---------------------------------------------------------------- the workflow

def _workflow(conn: Connection, rt: Any, c: Any, spec: EntitySpec, rid: int) -> dict | None:
    """State, actions and timeline of the record's workflow (None without one)."""
    status = rt.workflow.status(conn, c, spec.qualified_code, rid)
    if status["workflow"] is None:
        return None
    instance = status["instance"]
    running = specs_of(conn, rt, [instance["id"]]).get(instance["id"]) if instance else None
    current = next((w for w in workflows_of(rt.registry, spec.qualified_code)
                    if w.qualified_code == status["workflow"]["code"]), running)
    steps = rt.workflow.timeline(conn, c, instance["id"]) if instance else []
    passed = [s["node"] for s in steps if s["action"] == "passed" and s["node"]]
    tasks = status["tasks"]
    participant = instance is not None and (
        instance["initiator"] == c.actor or any(t["assignee"] == c.actor for t in tasks))
    dialogs = fire_dialogs(spec.qualified_code, rid, status["transitions"], current)
    for task in status["my_tasks"]:
        dialogs += task_dialogs(task, running, passed)
    dialogs += instance_dialogs(instance, c.actor, participant)
    names = Labels.load(conn, rt.registry, lang(), zone=display_zone(), users=[
        *(s["actor"] for s in steps), *(t["assignee"] for t in tasks),
        *([instance["initiator"]] if instance else [])])
    state = status["state"]
    return {"label": tr(status["workflow"]["label"]), "state_label": tr(state["label"]),
            "state_category": state["category"], "instance": instance,
            "initiator": names.user(instance["initiator"]) if instance else "",
            "waiting": [{"node": tr(t["node_label"]), "assignee": names.user(t["assignee"])}
                        for t in tasks if t["status"] == "pending" and t["kind"] != "cc"],
            "my_tasks": status["my_tasks"], "dialogs": dialogs,
            "timeline": list(map(_Steps(names, running or current).step, steps))}


class _Steps:
    """Timeline steps as text: names of people, and of nodes and states of
    the definition the instance runs with."""

    def __init__(self, names: Labels, spec: WorkflowSpec | None) -> None:
        self.names, self.spec = names, spec

    def step(self, step: Mapping[str, Any]) -> dict[str, str]:
        label = TIMELINE_LABELS.get(step["action"])
        explain = _STEP_DETAILS.get(step["action"])
        detail = step.get("detail") or {}
        return {"at": moment(step["at"]), "actor": self.names.user(step["actor"]),
                "action": step["action"], "label": tr(label) if label else step["action"],
                "node": tr(step["node_label"]) or (step["node"] or ""),
                "comment": step["comment"] or "",
                "detail": explain(self, detail) if explain is not None else ""}

    def people(self, codes: Any) -> str:
        return T("、", ", ").join(self.names.user(c) for c in codes or ()
                                  if isinstance(c, str))

    def node(self, code: Any) -> str:
        for chain in self.spec.chains if self.spec is not None else ():
            found = chain.node(str(code))
            if found is not None:
                return tr(found.label)
        return str(code)

    def state(self, code: Any) -> str:
        found = self.spec.state(str(code)) if self.spec is not None else None
        return tr(found.label) if found is not None else str(code)


_OUTCOMES = {"approved": Text("通过", "approved"), "rejected": Text("驳回", "rejected")}

#: what a step adds to its label, by action (from its ``detail``).
_STEP_DETAILS: Mapping[str, Callable[[_Steps, Mapping[str, Any]], str]] = {
    "finished": lambda s, d: tr(_OUTCOMES.get(d.get("outcome"))) or str(d.get("outcome", "")),
    "activated": lambda s, d: s.people(d.get("assignees")),
    "cc": lambda s, d: s.people(d.get("users")),
    "remind": lambda s, d: s.people(d.get("users")),
    "add_signers": lambda s, d: s.people(d.get("users")),
    "transfer": lambda s, d: T("转交给 ", "to ") + s.people([d.get("to")]),
    "send_back": lambda s, d: T("退回发起人", "to the initiator") if d.get("node") is None
    else T("退回至 ", "to ") + s.node(d["node"]),
    "transition": lambda s, d: f"{s.state(d.get('from'))} → {s.state(d.get('to'))}",
}


# ---------------------------------------------------------------- the history

def _history(conn: Connection, rt: Any, c: Any, spec: EntitySpec,
             rid: int) -> list[dict] | None:
    """The record's audit events, oldest first, without the fields hidden from
    the caller; None for a workflow participant outside the read scope."""
    try:
        hidden = rt.records.hidden_fields(conn, c, spec.qualified_code, rid)
    except (NotFound, PermissionDenied):
        return None
    events = [{**e, "changes": strip_changes(e["changes"], hidden)}
              for e in history(conn, spec.qualified_code, rid)]
    labels = _history_labels(conn, rt, spec, events)
    states = _states(rt, spec)
    return [_event(spec, e, labels, states) for e in events]


def _history_labels(conn: Connection, rt: Any, spec: EntitySpec,
                    events: Iterable[Mapping[str, Any]]) -> Labels:
    """Names of the actors and of every value the changes name."""
    rows = [{code: value for code, value in
             ((code, pair[i]) for code, pair in (e["changes"] or {}).items()
              if isinstance(pair, list)) if value is not None}
            for e in events for i in (0, 1)]
    labels = Labels.for_rows(conn, rt.registry, spec, rows, lang(), zone=display_zone())
    actors = Labels.load(conn, rt.registry, lang(), users=[e["actor"] for e in events])
    return replace(labels, users={**labels.users, **actors.users})


def _event(spec: EntitySpec, event: Mapping[str, Any], labels: Labels,
           states: Mapping[str, Mapping[str, Text]]) -> dict[str, Any]:
    changes, lines = [], []
    for code, change in (event["changes"] or {}).items():
        field = spec.field(code)
        if field is not None and isinstance(change, list):
            changes.append({"label": tr(field.label),
                            "old": _main_text(field, change[0], labels, states),
                            "new": _main_text(field, change[1], labels, states)})
        elif isinstance(change, Mapping):
            child = next((ch for ch in spec.children if ch.code == code), None)
            counts = [(len(change.get(k) or ()), word) for k, word in (
                ("added", T("新增", "added")), ("removed", T("删除", "removed")),
                ("changed", T("修改", "changed")))]
            lines.append(tr(child.label if child else Text(code, code)) + T("：", ": ")
                         + T("，", ", ").join(f"{word} {n}" for n, word in counts if n))
    detail = event.get("detail") or {}
    what = _HISTORY_LABELS.get(event["kind"])
    if event["kind"] == "workflow.action" and detail.get("action") in TIMELINE_LABELS:
        what = TIMELINE_LABELS[detail["action"]]
    at = event["at"]
    return {"at": to_local(at, labels.zone).strftime("%Y-%m-%d %H:%M")
            if isinstance(at, datetime) else str(at),
            "actor": labels.user(event["actor"]), "what": tr(what) if what else event["kind"],
            "changes": changes, "lines": lines}
