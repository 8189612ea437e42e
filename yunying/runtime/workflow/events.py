"""What an action leaves behind besides its changes: the instance's timeline,
the audit trail and notifications (runtime layer, workflow engine).

- :func:`log` appends a ``yy_wf_event`` (who, what, when, node, task,
  comment, detail) — the timeline shows every step, including the engine's
  own (a node activated, a node passed automatically, the chain ended);
- :func:`audit` appends the audit event ``workflow.action`` (detail: action,
  instance, task, node, transition) for what a person or the tick did;
- :func:`notify` tells people, with a bilingual title naming the document.

All three write on the action's connection: rolled back with it.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from sqlalchemy import insert

from yunying.platform.audit import record_event
from yunying.platform.i18n import Text
from yunying.platform.tables import wf_event
from yunying.runtime.workflow.run import Run

__all__ = ["log", "audit", "acted", "notify", "TITLES", "document_title"]

#: notification titles by kind; ``{doc}`` is the document (entity label + title).
TITLES: Mapping[str, Text] = {
    "task": Text("待您审批：{doc}", "Waiting for your approval: {doc}"),
    "cc": Text("抄送给您：{doc}", "Copied to you: {doc}"),
    "remind": Text("催办：{doc} 正等待您审批", "Reminder: {doc} is waiting for your approval"),
    "timeout": Text("审批已超时：{doc}", "Approval overdue: {doc}"),
    "approved": Text("审批通过：{doc}", "Approved: {doc}"),
    "rejected": Text("审批驳回：{doc}", "Rejected: {doc}"),
    "returned": Text("已退回给您修改：{doc}", "Returned to you for changes: {doc}"),
    "withdrawn": Text("发起人已撤回：{doc}", "Withdrawn by the initiator: {doc}"),
    "cancelled": Text("已取消：{doc}", "Cancelled: {doc}"),
    "notice": Text("{doc}", "{doc}"),
}


_ALWAYS = ("task", "cc")


def document_title(run: Run) -> Text:
    """The document as people know it: entity label and title (or id)."""
    label = run.entity.label
    title = run.instance.get("title") or f"#{run.instance['record_id']}"
    return Text(f"{label.zh} {title}", f"{label.en} {title}")


def log(run: Run, action: str, *, node: str | None = None, task: int | None = None,
        comment: str | None = None, detail: Mapping[str, Any] | None = None) -> None:
    """Append one step to the instance's timeline."""
    run.conn.execute(insert(wf_event).values(
        instance_id=run.instance["id"], at=run.now, actor=run.ctx.actor[:64], action=action,
        node=node, task_id=task, comment=comment,
        detail=dict(detail) if detail is not None else None))


def audit(run: Run, action: str, *, node: str | None = None, task: int | None = None,
          transition: str | None = None) -> None:
    """The audit event of an action taken on the instance."""
    record_event(run.conn, run.ctx, "workflow.action", entity=run.instance["entity"],
                 record_id=run.instance["record_id"], detail={
                     "action": action, "instance": run.instance["id"], "task": task,
                     "node": node, "transition": transition})


def acted(run: Run, action: str, *, node: str | None = None, task: int | None = None,
          comment: str | None = None, transition: str | None = None,
          detail: Mapping[str, Any] | None = None) -> None:
    """An action of a person (or the tick): timeline step and audit event."""
    log(run, action, node=node, task=task, comment=comment, detail=detail)
    audit(run, action, node=node, task=task, transition=transition)


def notify(run: Run, users: Iterable[str], kind: str, title: Text | None = None) -> None:
    """Notify ``users`` (each once) about this instance. Nobody is told of his
    own action — except of a task or copy it gave him."""
    wanted = [u for u in dict.fromkeys(users)
              if u and (kind in _ALWAYS or u != run.ctx.actor)]
    if not wanted:
        return
    text = title if title is not None else _titled(TITLES[kind], document_title(run))
    run.services.notifier.notify(run.conn, wanted, kind, text, at=run.now,
                                 entity=run.instance["entity"],
                                 record_id=run.instance["record_id"],
                                 instance_id=run.instance["id"])


def _titled(template: Text, doc: Text) -> Text:
    return Text(template.zh.format(doc=doc.zh), template.en.format(doc=doc.en))
