"""Workflow actions of the staff UI: the dialogs a page offers and the
endpoints they post to (runtime layer, HTTP edge).

Pages (the detail page, the inbox) ask this module which actions a user may
take — :func:`fire_dialogs`, :func:`task_dialogs`, :func:`quick_dialogs`,
:func:`instance_dialogs` describe one ``<dialog>`` each (rendered by
``_action_dialogs.html``) — and the dialogs' forms post to:

* ``POST /records/<entity>/<id>/fire/<transition>`` — a manual transition,
  submit included (comment; the initiator's chosen approvers
  ``approvers-<node>`` for 发起人自选 nodes);
* ``POST /tasks/<id>/<action>`` — approve, reject, send_back (``to``),
  transfer (``to_user``), add_signers (``users``, ``position``);
* ``POST /instances/<id>/<action>`` — withdraw, remind, resubmit, comment.

Each action is one write transaction through the workflow engine, exactly
the calls of :mod:`yunying.runtime.api.workflow`. Its idempotency key is
derived from the page's hidden per-render ``token`` (plus the action and its
target), so a double click acts once. Success: a flashed message and a 303
back to ``next``. A refusal (403, 404, 409, 422) re-renders the page named by
``next`` — the detail page or an inbox box — with the bilingual message in a
banner and the refusal's own status (the dialog reopened with what was typed
for a 422); any other ``next`` gets the message flashed and a 303.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import parse_qsl, urlsplit

from flask import Blueprint, Response, current_app, flash, redirect, request, url_for
from sqlalchemy import Connection, select
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException

from yunying.metadata.workflow_spec import ChainSpec, NodeSpec, WorkflowSpec
from yunying.platform.errors import (
    Conflict, InvalidQuery, NotFound, PermissionDenied, StaleRecord, TransitionRejected,
    ValidationFailed, YunyingError,
)
from yunying.platform.i18n import Text
from yunying.platform.tables import wf_instance
from yunying.runtime.api.errors import status_of
from yunying.runtime.ui.web import (
    T, ctx, login_required, runtime_of, safe_next, services, tr,
)
from yunying.runtime.workflow.definitions import workflows_of
from yunying.runtime.workflow.graph import ChainGraph

__all__ = ["blueprint", "Dialog", "REFUSALS", "new_token", "fire_dialogs", "task_dialogs",
           "quick_dialogs", "instance_dialogs", "specs_of", "TASK_ACTIONS",
           "INSTANCE_ACTIONS"]

blueprint = Blueprint("ui_actions", __name__, template_folder="templates")

#: the errors a page shows as a banner (anything else is the error page).
REFUSALS = (NotFound, PermissionDenied, Conflict, StaleRecord, TransitionRejected,
            ValidationFailed, InvalidQuery)
_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")
_SEPARATORS = re.compile(r"[\s,，;；]+")


def new_token() -> str:
    """A fresh per-render token (the hidden ``token`` field of every action form)."""
    return secrets.token_urlsafe(18)


# ---------------------------------------------------------------- dialogs

@dataclass(frozen=True)
class Dialog:
    """One action a page offers: the button opening its dialog and the form
    inside. ``comment`` is ``optional``, ``required`` or ``none``; ``users``
    names the user-lookup field (``to_user`` one, ``users`` / ``next_approvers``
    several); ``returns`` the 退回 targets and ``choose`` the 发起人自选 nodes
    as ``(value, label)``."""

    kind: str                    # fire | task | instance
    action: str                  # the transition code, or the action
    target: int                  # record, task or instance id
    url: str
    label: str
    comment: str = "optional"
    users: str | None = None
    many: bool = False
    returns: tuple[tuple[str, str], ...] = ()
    choose: tuple[tuple[str, str], ...] = ()
    positions: bool = False
    danger: bool = False
    note: str = ""

    @property
    def id(self) -> str:
        return f"dialog-{self.kind}-{self.action}-{self.target}"

    @property
    def testid(self) -> str:
        return f"fire-{self.action}" if self.kind == "fire" else f"action-{self.action}"

    @property
    def confirm_testid(self) -> str:
        return f"confirm-{self.action}"


#: the label of each task and instance action.
ACTION_LABELS: Mapping[str, Text] = {
    "approve": Text("同意", "Approve"), "reject": Text("驳回", "Reject"),
    "send_back": Text("退回", "Send back"), "transfer": Text("转交", "Transfer"),
    "add_signers": Text("加签", "Add signers"), "withdraw": Text("撤回", "Withdraw"),
    "remind": Text("催办", "Remind"), "resubmit": Text("重新提交", "Resubmit"),
    "comment": Text("评论", "Comment"),
}
_RETURN_LABELS = {"initiator": Text("退回发起人", "To the initiator"),
                  "previous": Text("退回上一审批节点", "To the previous approval node")}


def _task_dialog(task: Mapping[str, Any], action: str, **extra: Any) -> Dialog:
    return Dialog("task", action, task["id"], url_for("ui_actions.task_action",
                                                      task_id=task["id"], action=action),
                  tr(ACTION_LABELS[action]), **extra)


def quick_dialogs(task: Mapping[str, Any], spec: WorkflowSpec | None) -> list[Dialog]:
    """Approve and reject of a pending task (the inbox's quick buttons)."""
    node = _node(spec, task)
    return [_task_dialog(task, "approve", **_next_choice(spec, node)),
            _task_dialog(task, "reject", danger=True,
                         comment="required" if node and node.comment_on_reject else "optional")]


def task_dialogs(task: Mapping[str, Any], spec: WorkflowSpec | None,
                 passed: Iterable[str] = ()) -> list[Dialog]:
    """Every decision the assignee of a pending task may take on the detail
    page; ``passed`` = approval nodes the instance passed (退回 targets)."""
    node = _node(spec, task)
    dialogs = quick_dialogs(task, spec)
    returns = _returns(spec, node, passed)
    if returns:
        dialogs.append(_task_dialog(task, "send_back", returns=returns))
    dialogs.append(_task_dialog(task, "transfer", users="to_user"))
    if (node is None or node.add_signers) and task.get("kind") != "added":
        dialogs.append(_task_dialog(task, "add_signers", users="users", many=True,
                                    positions=True))
    return dialogs


def instance_dialogs(instance: Mapping[str, Any] | None, actor: str,
                     participant: bool) -> list[Dialog]:
    """The initiator's actions on the instance (withdraw, remind, resubmit)
    and a participant's comment."""
    if instance is None:
        return []
    is_open = instance["status"] in ("running", "returned")
    offered = []
    if instance["initiator"] == actor and is_open:
        offered.append(("withdraw", {"danger": True}))
        if instance["status"] == "running":
            offered.append(("remind", {}))
        else:
            offered.append(("resubmit", {}))
    if participant:
        offered.append(("comment", {"comment": "required"}))
    return [Dialog("instance", action, instance["id"],
                   url_for("ui_actions.instance_action", instance_id=instance["id"],
                           action=action), tr(ACTION_LABELS[action]), **extra)
            for action, extra in offered]


def fire_dialogs(entity: str, record_id: int, transitions: Iterable[Mapping[str, Any]],
                 spec: WorkflowSpec | None) -> list[Dialog]:
    """The manual transitions the user may fire (``status()["transitions"]``)."""
    dialogs = []
    for t in transitions:
        chain = spec.chain(t["chain"]) if spec is not None and t["chain"] else None
        note = "" if t["guard_ok"] else tr(t["guard_message"]) or T(
            "当前条件不满足", "the conditions are not met now")
        dialogs.append(Dialog(
            "fire", t["code"], record_id,
            url_for("ui_actions.fire", entity=entity, record_id=record_id,
                    transition=t["code"]), tr(t["label"]),
            comment="required" if t["comment_required"] else "optional",
            choose=tuple((n.code, tr(n.label)) for n in _chosen_nodes(chain, "initiator_choice")),
            danger=_ends_badly(spec, t["to"]), note=note))
    return dialogs


def _ends_badly(spec: WorkflowSpec | None, target: str) -> bool:
    """A transition into a cancelled or rejected state (a red button)."""
    state = spec.state(target) if spec is not None else None
    return state is not None and state.category in ("cancelled", "rejected")


def _node(spec: WorkflowSpec | None, task: Mapping[str, Any]) -> NodeSpec | None:
    for chain in spec.chains if spec is not None else ():
        node = chain.node(task["node"])
        if node is not None:
            return node
    return None


def _chain_of(spec: WorkflowSpec | None, node: NodeSpec | None) -> ChainSpec | None:
    for chain in spec.chains if spec is not None and node is not None else ():
        if chain.node(node.code) is node:
            return chain
    return None


def _chosen_nodes(chain: ChainSpec | None, source: str) -> list[NodeSpec]:
    return [n for n in (chain.nodes if chain is not None else ())
            if any(a.source == source for a in n.approvers)]


def _next_choice(spec: WorkflowSpec | None, node: NodeSpec | None) -> dict[str, Any]:
    """Approve asks for the next approvers when the next node takes the
    previous approver's choice (上一审批人指定)."""
    chain = _chain_of(spec, node)
    following = chain.node(node.next) if chain is not None and node and node.next else None
    if following is not None and following in _chosen_nodes(chain, "previous_choice"):
        return {"users": "next_approvers", "many": True}
    return {}


def _returns(spec: WorkflowSpec | None, node: NodeSpec | None,
             passed: Iterable[str]) -> tuple[tuple[str, str], ...]:
    allowed = node.returns if node is not None else ("initiator",)
    found = [(to, tr(_RETURN_LABELS[to])) for to in ("initiator", "previous") if to in allowed]
    chain = _chain_of(spec, node)
    if "node" in allowed and chain is not None:
        before = ChainGraph.of(chain).ancestors(node.code)
        for code in dict.fromkeys(passed):
            earlier = chain.node(code)
            if code in before and earlier is not None and earlier.kind == "approval":
                found.append((code, tr(earlier.label)))
    return tuple(found)


def specs_of(conn: Connection, runtime: Any, instance_ids: Iterable[int]
             ) -> dict[int, WorkflowSpec]:
    """The workflow spec each instance runs with (its stored definition)."""
    wanted = sorted(set(instance_ids))
    if not wanted:
        return {}
    rows = conn.execute(select(wf_instance.c.id, wf_instance.c.definition_id)
                        .where(wf_instance.c.id.in_(wanted)))
    definitions = runtime.workflow.services.definitions
    return {rid: definitions.spec(conn, definition) for rid, definition in rows}


# ---------------------------------------------------------------- the form

def _users(form: MultiDict, name: str) -> list[str]:
    """User codes from lookup selects and their no-JS text inputs (separated
    by spaces or commas)."""
    return [code for raw in form.getlist(name) for code in _SEPARATORS.split(raw) if code]


def _approvers(form: MultiDict) -> dict[str, tuple[str, ...]] | None:
    chosen = {name.removeprefix("approvers-"): tuple(_users(form, name))
              for name in form if name.startswith("approvers-")}
    chosen = {node: users for node, users in chosen.items() if users}
    return chosen or None


Action = Callable[[Any, Connection, Any, int, MultiDict, str | None], dict]

#: task actions: path segment → the engine call (as the API makes it).
TASK_ACTIONS: Mapping[str, Action] = {
    "approve": lambda e, conn, c, tid, f, key: e.approve(
        conn, c, tid, comment=f.get("comment"), next_approvers=tuple(_users(f, "next_approvers")),
        key=key),
    "reject": lambda e, conn, c, tid, f, key: e.reject(
        conn, c, tid, comment=f.get("comment"), key=key),
    "send_back": lambda e, conn, c, tid, f, key: e.send_back(
        conn, c, tid, to=f.get("to") or "initiator", comment=f.get("comment"), key=key),
    "transfer": lambda e, conn, c, tid, f, key: e.transfer(
        conn, c, tid, to_user=(_users(f, "to_user") or [None])[0], comment=f.get("comment"),
        key=key),
    "add_signers": lambda e, conn, c, tid, f, key: e.add_signers(
        conn, c, tid, users=_users(f, "users"), position=f.get("position") or "before",
        comment=f.get("comment"), key=key),
}

#: instance actions: path segment → the engine call.
INSTANCE_ACTIONS: Mapping[str, Action] = {
    "withdraw": lambda e, conn, c, iid, f, key: e.withdraw(
        conn, c, iid, comment=f.get("comment"), key=key),
    "remind": lambda e, conn, c, iid, f, key: e.remind(
        conn, c, iid, comment=f.get("comment"), key=key),
    "resubmit": lambda e, conn, c, iid, f, key: e.resubmit(
        conn, c, iid, comment=f.get("comment"), key=key),
    "comment": lambda e, conn, c, iid, f, key: e.comment(
        conn, c, iid, text=f.get("comment") or "", key=key),
}


def _key(action: str, target: str) -> str | None:
    """The idempotency key of this post: the page's token, the action and its
    target (a token reused for another action is another request)."""
    token = request.form.get("token")
    if not token:
        return None
    if not _TOKEN.fullmatch(token):
        raise ValidationFailed(Text("页面令牌无效，请刷新页面后重试",
                                    "the page token is invalid; reload the page and retry"),
                               code="invalid_token", details={"fields": {"token": [
                                   {"code": "invalid_token"}]}})
    return f"ui:{token}:{action}:{target}"


# ---------------------------------------------------------------- endpoints

@blueprint.post("/records/<entity>/<int:record_id>/fire/<transition>")
@login_required
def fire(entity: str, record_id: int, transition: str) -> Response:
    form = request.form
    default = url_for("ui_detail.detail_page", entity=entity, record_id=record_id)
    return _perform("fire", transition, record_id, default,
                    lambda engine, conn, c, key: engine.fire(
                        conn, c, entity, record_id, transition, comment=form.get("comment"),
                        approvers=_approvers(form), key=key),
                    lambda runtime: _transition_label(runtime, entity, transition))


def _transition_label(runtime: Any, entity: str, code: str) -> Text:
    return next((t.label for flow in workflows_of(runtime.registry, entity)
                 for t in flow.transitions if t.code == code), Text(code, code))


@blueprint.post("/tasks/<int:task_id>/<action>")
@login_required
def task_action(task_id: int, action: str) -> Response:
    call = _known(TASK_ACTIONS, action)
    return _perform("task", action, task_id, url_for("ui_inbox.inbox_page", box="pending"),
                    lambda engine, conn, c, key: call(engine, conn, c, task_id,
                                                      request.form, key))


@blueprint.post("/instances/<int:instance_id>/<action>")
@login_required
def instance_action(instance_id: int, action: str) -> Response:
    call = _known(INSTANCE_ACTIONS, action)
    return _perform("instance", action, instance_id,
                    url_for("ui_inbox.inbox_page", box="initiated"),
                    lambda engine, conn, c, key: call(engine, conn, c, instance_id,
                                                      request.form, key))


def _known(actions: Mapping[str, Action], action: str) -> Action:
    call = actions.get(action)
    if call is None:
        raise NotFound(Text(f"没有操作 {action[:50]}", f"there is no action {action[:50]}"),
                       code="unknown_action", details={"action": action[:50]})
    return call


def _perform(kind: str, action: str, target: int, default: str,
             work: Callable[[Any, Connection, Any, str | None], dict],
             label: Callable[[Any], Text] | None = None) -> Response:
    """Run one action in one write transaction; flash and go back, or show the refusal."""
    back = safe_next(request.form.get("next"), default)
    dialog = f"dialog-{kind}-{action}-{target}"
    try:
        key = _key(action, f"{kind}:{target}")
        with services().db.begin(write=True) as conn:
            runtime = runtime_of(conn)
            view = work(runtime.workflow, conn, ctx(), key)
            what = label(runtime) if label is not None else ACTION_LABELS[action]
    except REFUSALS as error:
        return _refused(error, back, dialog)
    flash(_done(what, view["instance"]), "success")
    return redirect(back, code=303)


def _done(what: Text, instance: Mapping[str, Any]) -> dict[str, str]:
    """The success message in both languages (the page shows its own)."""
    title, state = instance.get("title") or "", instance.get("state_label") or {}
    return {"zh-CN": f"{what.zh}：{title}（{state.get('zh-CN', '')}）",
            "en": f"{what.en}: {title} ({state.get('en', '')})"}


def _refused(error: YunyingError, back: str, dialog: str) -> Response:
    """The page ``back`` names, again, with the refusal in a banner and its
    status; a page that cannot be re-rendered here gets a flash and a 303."""
    status = status_of(error)
    reopen = dialog if status == 422 else None
    page = _page_of(back)
    if page is None:
        flash(error.message.as_dict(), "error")
        return redirect(back, code=303)
    render, values, args = page
    return render(values, args, status=status, error=error.message, dialog=reopen,
                  given=request.form)


def _page_of(url: str) -> tuple[Callable[..., Response], dict[str, Any],
                                  MultiDict] | None:
    # the page modules import this one: their renderers are looked up when needed
    from yunying.runtime.ui import detail, inbox

    renderers = {"ui_detail.detail_page": detail.rerender,
                 "ui_inbox.inbox_page": inbox.rerender}
    parts = urlsplit(url)
    try:
        endpoint, values = current_app.url_map.bind("localhost").match(parts.path, "GET")
    except HTTPException:
        return None
    render = renderers.get(endpoint)
    if render is None:
        return None
    return render, values, MultiDict(parse_qsl(parts.query))
