"""The workflow endpoints of the JSON API (runtime layer, HTTP edge).

* ``/api/v1/records/<entity>/<id>/workflow`` — the record's workflow status
  (GET) and its manual transitions, submit included
  (``POST …/workflow/<transition>``);
* ``/api/v1/workflow/instances/<id>`` — an instance (GET), its ``timeline``,
  and the initiator's and participants' actions ``withdraw``, ``resubmit``,
  ``remind``, ``comment``;
* ``/api/v1/workflow/tasks/<id>/…`` — an assignee's decisions ``approve``,
  ``reject``, ``return`` (退回), ``transfer`` (转交), ``add-signers`` (加签);
* ``/api/v1/records/<entity>/<id>/journal`` — the journal entries posted for
  a record, for whoever may read the record.

Each request is one transaction over the workflow engine
(``Runtime.workflow``), which decides who may do what and raises
(``Conflict`` 409 when someone else decided first, ``TransitionRejected``
422, ``PermissionDenied`` 403, ``NotFound`` 404). Bodies are checked by
:mod:`.workflow_schemas` first (400 naming every bad path). A request that
carries ``Idempotency-Key`` acts once: a retry gets the first answer.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from flask import Blueprint
from marshmallow import Schema
from sqlalchemy import Connection

from yunying.platform.context import Context
from yunying.runtime.api.context import request_context, services
from yunying.runtime.api.workflow_request import (
    INT32_MAX, body, idempotency_key, path_id, query_args,
)
from yunying.runtime.api.workflow_schemas import (
    ActionInput, AddSignersInput, ApproveInput, CommentInput, FireInput, ReturnInput,
    TransferInput,
)
from yunying.runtime.posting import journal_of

__all__ = ["blueprint", "TASK_ACTIONS", "INSTANCE_ACTIONS"]

blueprint = Blueprint("workflow", __name__)

_RECORD = "/api/v1/records/<entity>/<int:record_id>"
_INSTANCE = "/api/v1/workflow/instances/<int:instance_id>"
_TASK = "/api/v1/workflow/tasks/<int:task_id>"

#: an action: the engine, the connection, the context, the id, the body, the key.
Action = Callable[[Any, Connection, Context, int, Mapping[str, Any], str | None], Any]


def _act(work: Callable[[Any, Connection, Context, str | None], Any]) -> Any:
    """Run one engine action in one write transaction; the key and the body
    were read before (bad input costs no transaction)."""
    ctx, key, svc = request_context(), idempotency_key(), services()
    with svc.db.begin(write=True) as conn:
        return work(svc.runtime(conn).workflow, conn, ctx, key)


def _read(work: Callable[[Any, Connection, Context], Any]) -> Any:
    ctx, svc = request_context(), services()
    with svc.db.begin() as conn:
        return work(svc.runtime(conn).workflow, conn, ctx)


# -- the record's workflow -----------------------------------------------------------

@blueprint.get(f"{_RECORD}/workflow")
def record_workflow(entity: str, record_id: int) -> dict[str, Any]:
    query_args()
    rid = path_id(record_id, "record", INT32_MAX)
    return _read(lambda engine, conn, ctx: engine.status(conn, ctx, entity, rid))


@blueprint.post(f"{_RECORD}/workflow/<transition>")
def fire_transition(entity: str, record_id: int, transition: str) -> dict[str, Any]:
    query_args()
    rid = path_id(record_id, "record", INT32_MAX)
    given = body(FireInput)
    approvers = {node: tuple(users) for node, users in given.get("approvers", {}).items()}
    return _act(lambda engine, conn, ctx, key: engine.fire(
        conn, ctx, entity, rid, transition, comment=given.get("comment"),
        approvers=approvers or None, key=key))


@blueprint.get(f"{_RECORD}/journal")
def record_journal(entity: str, record_id: int) -> dict[str, Any]:
    """The record's journal entries; reading the record first applies its
    scope (out of scope is the same 404 as missing)."""
    query_args()
    rid = path_id(record_id, "record", INT32_MAX)
    ctx, svc = request_context(), services()
    with svc.db.begin() as conn:
        svc.runtime(conn).records.get(conn, ctx, entity, rid)
        return {"items": journal_of(conn, entity, rid)}


# -- instances -----------------------------------------------------------------------

@blueprint.get(_INSTANCE)
def get_instance(instance_id: int) -> dict[str, Any]:
    query_args()
    iid = path_id(instance_id, "instance")
    return _read(lambda engine, conn, ctx: engine.instance(conn, ctx, iid))


@blueprint.get(f"{_INSTANCE}/timeline")
def instance_timeline(instance_id: int) -> dict[str, Any]:
    query_args()
    iid = path_id(instance_id, "instance")
    return {"items": _read(lambda engine, conn, ctx: engine.timeline(conn, ctx, iid))}


def _comment(given: Mapping[str, Any]) -> Any:
    return given.get("comment")


#: instance actions: path segment → (body schema, engine call).
INSTANCE_ACTIONS: Mapping[str, tuple[type[Schema], Action]] = {
    "withdraw": (ActionInput, lambda e, conn, ctx, iid, b, key: e.withdraw(
        conn, ctx, iid, comment=_comment(b), key=key)),
    "resubmit": (ActionInput, lambda e, conn, ctx, iid, b, key: e.resubmit(
        conn, ctx, iid, comment=_comment(b), key=key)),
    "remind": (ActionInput, lambda e, conn, ctx, iid, b, key: e.remind(
        conn, ctx, iid, comment=_comment(b), key=key)),
    "comment": (CommentInput, lambda e, conn, ctx, iid, b, key: e.comment(
        conn, ctx, iid, text=b["comment"], key=key)),
}

#: task actions: path segment → (body schema, engine call).
TASK_ACTIONS: Mapping[str, tuple[type[Schema], Action]] = {
    "approve": (ApproveInput, lambda e, conn, ctx, tid, b, key: e.approve(
        conn, ctx, tid, comment=_comment(b), next_approvers=tuple(b.get("next_approvers", ())),
        key=key)),
    "reject": (ActionInput, lambda e, conn, ctx, tid, b, key: e.reject(
        conn, ctx, tid, comment=_comment(b), key=key)),
    "return": (ReturnInput, lambda e, conn, ctx, tid, b, key: e.send_back(
        conn, ctx, tid, to=b["to"], comment=_comment(b), key=key)),
    "transfer": (TransferInput, lambda e, conn, ctx, tid, b, key: e.transfer(
        conn, ctx, tid, to_user=b["to_user"], comment=_comment(b), key=key)),
    "add-signers": (AddSignersInput, lambda e, conn, ctx, tid, b, key: e.add_signers(
        conn, ctx, tid, users=tuple(b["users"]), position=b["position"],
        comment=_comment(b), key=key)),
}


def _view(kind: str, schema: type[Schema], call: Action) -> Callable[..., Any]:
    def view(**ids: int) -> Any:
        query_args()
        target = path_id(next(iter(ids.values())), kind)
        given = body(schema)
        return _act(lambda engine, conn, ctx, key: call(engine, conn, ctx, target, given,
                                                        key))
    return view


def _register() -> None:
    for prefix, kind, actions in ((_INSTANCE, "instance", INSTANCE_ACTIONS),
                                  (_TASK, "task", TASK_ACTIONS)):
        for name, (schema, call) in actions.items():
            blueprint.add_url_rule(f"{prefix}/{name}", methods=["POST"],
                                   endpoint=f"{kind}_{name.replace('-', '_')}",
                                   view_func=_view(kind, schema, call))


_register()
