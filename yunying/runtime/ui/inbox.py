"""The inbox page (runtime layer, HTTP edge).

``GET /inbox/<box>`` shows one of the signed-in user's four boxes — 待办
``pending``, 已办 ``done``, 我发起的 ``initiated``, 抄送我 ``cc`` — as tabs
with their counts, a filter bar (entity, text in the title, days, unread
copies) and one page of rows from :mod:`yunying.runtime.workflow.inbox`
(the same queries as the JSON API). Each row links to the record's detail
page; pending rows carry quick approve / reject dialogs (:mod:`.actions`),
unread copies a "mark read" button (``POST /inbox/cc/<task>/read``).
``GET /inbox`` goes to the pending box; an unknown box is a 404 page.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any, Callable, Mapping
from urllib.parse import urlencode

from flask import Blueprint, Response, flash, redirect, request, url_for
from sqlalchemy import Connection

from yunying.platform.errors import InvalidQuery, NotFound
from yunying.platform.i18n import Text
from yunying.runtime.ui.actions import new_token, quick_dialogs, specs_of
from yunying.runtime.ui.detail import moment
from yunying.runtime.ui.display import Labels, display_zone
from yunying.runtime.ui.web import (
    T, ctx, lang, login_required, render, runtime_of, safe_next, services, tr,
)
from yunying.runtime.workflow import inbox
from yunying.runtime.workflow.definitions import workflows_of
from yunying.runtime.workflow.inbox import DEFAULT_PAGE_SIZE, InboxFilters, InboxPage

__all__ = ["blueprint", "BOXES", "render_box", "rerender"]

blueprint = Blueprint("ui_inbox", __name__, template_folder="templates")

#: each box: its query and its tab label, in tab order.
BOXES: Mapping[str, tuple[Callable[..., InboxPage], Text]] = {
    "pending": (inbox.pending, Text("待办", "Pending")),
    "done": (inbox.done, Text("已办", "Done")),
    "initiated": (inbox.initiated, Text("我发起的", "Initiated")),
    "cc": (inbox.cc, Text("抄送我", "Copied to me")),
}
_DECISIONS: Mapping[str, Text] = {
    "approved": Text("已同意", "Approved"), "rejected": Text("已驳回", "Rejected"),
    "returned": Text("已退回", "Sent back"), "transferred": Text("已转交", "Transferred"),
}
_CODE = re.compile(r"[A-Za-z0-9_.-]{1,100}")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_TEXT_MAX = 200
_MAX_PAGE = 10 ** 6


@blueprint.get("/inbox")
@login_required
def inbox_root() -> Response:
    return redirect(url_for("ui_inbox.inbox_page", box="pending"))


@blueprint.get("/inbox/<box>")
@login_required
def inbox_page(box: str) -> Response:
    return render_box(box, request.args, dialog=request.args.get("dialog"))


@blueprint.post("/inbox/cc/<int:task_id>/read")
@login_required
def read_cc(task_id: int) -> Response:
    """Mark a copy sent to the user read (NotFound: no such copy of theirs)."""
    c = ctx()
    with services().db.begin(write=True) as conn:
        inbox.mark_cc_read(conn, c.actor, task_id, c.now())
    flash({"zh-CN": "已标为已读", "en": "Marked as read"}, "success")
    return redirect(safe_next(request.form.get("next"),
                              url_for("ui_inbox.inbox_page", box="cc")), code=303)


def rerender(values: Mapping[str, Any], args: Mapping[str, str], **page: Any) -> Response:
    """The box a URL names, again (a refused action)."""
    return render_box(values["box"], args, **page)


def render_box(box: str, args: Mapping[str, str], *, status: int = 200,
               error: Text | None = None, dialog: str | None = None,
               given: Mapping[str, Any] | None = None) -> Response:
    """One page of ``box`` filtered by the query ``args``; a malformed filter
    is a 400 with the message in a banner and the box unfiltered."""
    found = BOXES.get(box)
    if found is None:
        raise NotFound(Text(f"没有收件箱 {box[:30]}", f"there is no inbox box {box[:30]}"),
                       code="unknown_box", details={"box": box[:30]})
    query, _ = found
    try:
        filters = _filters(box, args)
    except InvalidQuery as exc:
        filters, error, status = InboxFilters(), error or exc.message, 400
    c = ctx()
    with services().db.begin() as conn:
        rt = runtime_of(conn)
        page = query(conn, c.actor, filters)
        counts = inbox.counts(conn, c.actor)
        rows = _rows(conn, rt, box, page.items)
        entities = _entities(rt)
    shown = {k: v for k, v in args.items() if k in ("entity", "q", "since", "until", "unread")}
    return render("inbox.html", status=status, box=box, rows=rows, page=page,
                  tabs=[{"box": b, "label": tr(label), "count": counts[b],
                         "url": url_for("ui_inbox.inbox_page", box=b)}
                        for b, (_, label) in BOXES.items()],
                  cc_unread=counts["cc_unread"], entities=entities, filters=shown,
                  page_url=lambda n: _url(box, {**shown, "page": str(n)}),
                  here=_url(box, {**shown, "page": str(filters.page)}),
                  error=tr(error) if error else "", banners=[("error", error)] if error else [],
                  open_dialog=dialog, given=given or {},
                  token=new_token())


def _url(box: str, args: Mapping[str, str]) -> str:
    query = urlencode({k: v for k, v in args.items() if v and not (k == "page" and v == "1")})
    return url_for("ui_inbox.inbox_page", box=box) + (f"?{query}" if query else "")


# ---------------------------------------------------------------- filters

def _bad(name: str, value: str, why: Text) -> InvalidQuery:
    return InvalidQuery(Text(f"筛选条件 {name} 有误（{value[:50]!r}）：{why.zh}",
                             f"filter {name} is invalid ({value[:50]!r}): {why.en}"),
                        details={"parameter": name})


def _day(args: Mapping[str, str], name: str) -> date | None:
    value = args.get(name) or ""
    if not value:
        return None
    try:
        if _DAY.fullmatch(value):
            return date.fromisoformat(value)
    except ValueError:
        pass
    raise _bad(name, value, Text("应为日期 YYYY-MM-DD", "must be a date YYYY-MM-DD"))


def _number(args: Mapping[str, str], name: str) -> int:
    value = args.get(name) or "1"
    if value.isascii() and value.isdigit() and 1 <= int(value[:8]) <= _MAX_PAGE:
        return int(value)
    raise _bad(name, value, Text("应为正整数", "must be a positive whole number"))


def _filters(box: str, args: Mapping[str, str]) -> InboxFilters:
    """The box's filters from the page's query string (blank means none)."""
    entity, text = args.get("entity") or None, (args.get("q") or "").strip() or None
    if entity is not None and not _CODE.fullmatch(entity):
        raise _bad("entity", entity, Text("应为实体编码", "must be an entity code"))
    if text is not None and (len(text) > _TEXT_MAX or "\x00" in text):
        raise _bad("q", text, Text(f"应为至多 {_TEXT_MAX} 个字符的文本",
                                   f"must be text of at most {_TEXT_MAX} characters"))
    since, until = _day(args, "since"), _day(args, "until")
    if since is not None and until is not None and until < since:
        raise _bad("until", args["until"], Text("不能早于开始日期",
                                                "is before the start day"))
    unread = {"1": True, "0": False}.get(args.get("unread") or "") if box == "cc" else None
    return InboxFilters(entity=entity, text=text, since=since, until=until, unread=unread,
                        page=_number(args, "page"), page_size=DEFAULT_PAGE_SIZE)


def _entities(rt: Any) -> list[dict[str, str]]:
    """The entities with a workflow (the entity filter's choices)."""
    found = []
    for code in sorted({w.entity for p in rt.registry.packages.values() for w in p.workflows}):
        spec = rt.registry.entity(code)
        if spec is not None and workflows_of(rt.registry, code):
            found.append({"code": code, "label": tr(spec.label)})
    return found


# ---------------------------------------------------------------- rows

def _rows(conn: Connection, rt: Any, box: str, items: list[dict]) -> list[dict]:
    """The page's rows; names of users looked up once for the page."""
    instances = [item["instance"] for item in items]
    users = [i["initiator"] for i in instances]
    users += [t["assignee"] for item in items for t in item.get("pending", ())]
    names = Labels.load(conn, rt.registry, lang(), users=users, zone=display_zone())
    specs = specs_of(conn, rt, [i["id"] for i in instances]) if box == "pending" else {}
    return [_row(rt, box, item, names, specs) for item in items]


def _row(rt: Any, box: str, item: Mapping[str, Any], names: Labels,
         specs: Mapping[int, Any]) -> dict[str, Any]:
    instance, task = item["instance"], item.get("task")
    entity = rt.registry.entity(instance["entity"])
    row = {"title": instance["title"] or f"#{instance['record_id']}",
           "url": url_for("ui_detail.detail_page", entity=instance["entity"],
                          record_id=instance["record_id"]),
           "entity": tr(entity.label) if entity is not None else instance["entity"],
           "state_label": tr(instance["state_label"]) or instance["state"],
           "state_category": instance["state_category"] or "",
           "initiator": names.user(instance["initiator"]), "instance_id": instance["id"]}
    if task is None:  # 我发起的
        return {**row, "testid": f"instance-{instance['id']}",
                "at": moment(instance["started_at"]),
                "node": T("、", ", ").join(dict.fromkeys(tr(t["node_label"]) or t["node"]
                                               for t in item["pending"])),
                "waiting": T("、", ", ").join(names.user(t["assignee"])
                                              for t in item["pending"])}
    at = task["acted_at"] if box == "done" else task["created_at"]
    decision = _DECISIONS.get(task["status"])
    return {**row, "testid": f"task-{task['id']}", "task_id": task["id"], "at": moment(at),
            "node": tr(task["node_label"]) or task["node"],
            "decision": tr(decision) if decision else "", "comment": task["comment"] or "",
            "unread": box == "cc" and task["read_at"] is None,
            "dialogs": quick_dialogs(task, specs.get(instance["id"])) if box == "pending"
            else []}
