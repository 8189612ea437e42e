"""The step actions of the workflow scenario runner (imported as a plain module).

``ACTIONS[do](scenario, conn, ctx, step, args)`` runs inside the step's write
transaction and returns what the engine returned; ``OUTSIDE[do](scenario,
step)`` manages its own transactions (install, create) or does nothing
(check). See ``workflow_script`` for the script format.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Callable, Mapping

from yunying.runtime.workflow import inbox
from yunying.runtime.workflow.delegation import add_delegation

__all__ = ["ACTIONS", "OUTSIDE"]


def _fire(s, conn, ctx, step, args, transition: str | None = None):
    return s.engine(conn).fire(
        conn, ctx, s.entity, s.record_id(step), transition or args.get("transition", "submit"),
        comment=args.get("comment"), approvers=args.get("approvers"), key=args.get("key"))


def _reject(s, conn, ctx, step, args):
    return s.engine(conn).reject(conn, ctx, s.task_id(conn, step), comment=args.get("comment"),
                                 key=args.get("key"))


def _instance_action(method: str):
    def act(s, conn, ctx, step, args):
        return getattr(s.engine(conn), method)(
            conn, ctx, s.instance_id(conn, step), comment=args.get("comment"),
            key=args.get("key"))
    return act


def _approve(s, conn, ctx, step, args):
    return s.engine(conn).approve(conn, ctx, s.task_id(conn, step), comment=args.get("comment"),
                                  next_approvers=tuple(args.get("next_approvers", ())),
                                  key=args.get("key"))


def _comment(s, conn, ctx, step, args):
    return s.engine(conn).comment(conn, ctx, s.instance_id(conn, step), text=args["text"],
                                  key=args.get("key"))


def _tick(s, conn, ctx, step, args):
    return s.engine(conn).tick(conn, ctx)


def _delegate(s, conn, ctx, step, args):
    return add_delegation(conn, ctx, args.get("user", step["as"]), args["substitute"],
                          date.fromisoformat(str(args["from"])), date.fromisoformat(str(args["to"])))


def _read(s, conn, ctx, step, args):
    """The cc recipient opens his copy (the inbox marks it read)."""
    return inbox.mark_cc_read(conn, ctx.actor, s.task_id(conn, step), ctx.now())


def _status(s, conn, ctx, step, args):
    return s.engine(conn).status(conn, ctx, s.entity, s.record_id(step))


def _update(s, conn, ctx, step, args):
    record_id = s.record_id(step)
    version = s.stored_record(conn, record_id)["version"]
    return s.services.runtime(conn).records.update(conn, ctx, s.entity, record_id, args["data"],
                                                   version=version)


ACTIONS: Mapping[str, Callable] = {
    "submit": _fire,
    "fire": _fire,
    "cancel": lambda s, conn, ctx, step, args: _fire(s, conn, ctx, step, args, "cancel"),
    "approve": _approve,
    "reject": _reject,
    "return": lambda s, conn, ctx, step, args: s.engine(conn).send_back(
        conn, ctx, s.task_id(conn, step), to=args.get("to", "initiator"),
        comment=args.get("comment"), key=args.get("key")),
    "resubmit": _instance_action("resubmit"),
    "withdraw": _instance_action("withdraw"),
    "transfer": lambda s, conn, ctx, step, args: s.engine(conn).transfer(
        conn, ctx, s.task_id(conn, step), to_user=args["to"], comment=args.get("comment"),
        key=args.get("key")),
    "add_signers": lambda s, conn, ctx, step, args: s.engine(conn).add_signers(
        conn, ctx, s.task_id(conn, step), users=tuple(args["users"]),
        position=args.get("position", "before"), comment=args.get("comment"),
        key=args.get("key")),
    "remind": _instance_action("remind"),
    "comment": _comment,
    "tick": _tick,
    "delegate": _delegate,
    "read": _read,
    "update": _update,
    "status": _status,
}

#: steps that run outside a step transaction (they manage their own).
OUTSIDE: Mapping[str, Callable[[Any, Mapping[str, Any]], Any]] = {
    "install": lambda s, step: s.install(step["args"]["package"]),
    "create": lambda s, step: s.create(step["record"], step["as"], step["args"]["data"]),
    "check": lambda s, step: None,
}
