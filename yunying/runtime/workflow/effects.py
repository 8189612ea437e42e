"""Entering a state and running a transition's effects (runtime layer, workflow engine).

:func:`enter` moves the instance to a transition's target state and runs its
effects in order, in the action's transaction:

- ``set``: field → formula over the record as stored now (all formulas of
  one effect read the same record), written through
  :meth:`RecordService.update` with a trusted context (same actor, clock and
  request id), so validation, computed fields and the audit trail apply;
- ``posting``: the posting rule writes its journal entry
  (:class:`yunying.runtime.posting.Postings`), refusing the whole action on
  an unbalanced or unknown account;
- ``notify``: ``initiator``, ``assignees`` (everyone who had an approval task
  in the instance) or user codes, with the effect's message or the
  transition's label.

:func:`move` changes the state and keeps the workflow's ``state_field`` equal
to it, written the same way. Record writes lock the record row first and
pass the version read under that lock.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from yunying.metadata.spec import split_qualified
from yunying.metadata.workflow_spec import EffectSpec, TransitionSpec
from yunying.platform.errors import ConfigurationError
from yunying.platform.i18n import Text
from yunying.runtime.workflow.events import document_title, log, notify
from yunying.runtime.workflow.instances import lock_record
from yunying.runtime.workflow.run import Run

__all__ = ["enter", "move", "update_record"]

#: task statuses of people who took part (for ``notify: [assignees]``)
_TOOK_PART = ("pending", "waiting", "approved", "rejected", "returned", "auto")


def enter(run: Run, transition: TransitionSpec) -> None:
    """Fire ``transition`` on the instance: new state, then its effects in order."""
    before = run.instance["state"]
    move(run, transition.target)
    log(run, "transition", detail={"transition": transition.code, "from": before,
                                   "to": transition.target})
    for effect in transition.effects:
        for name, handler in _EFFECTS.items():
            if getattr(effect, name):
                handler(run, effect, transition)


def move(run: Run, state: str) -> None:
    """Set the instance's state (and the record's state field)."""
    run.instance["state"] = state
    field = run.spec.state_field
    if field and run.record().get(field) != state:
        update_record(run, {field: state})


def update_record(run: Run, values: Mapping[str, Any]) -> None:
    """Write fields of the record through the record service (trusted context)."""
    entity, rid = run.instance["entity"], run.instance["record_id"]
    lock_record(run.conn, run.services.registry, entity, rid)
    version = run.record()["version"]
    run.services.records.update(run.conn, run.trusted, entity, rid, dict(values),
                                version=version)


def _set(run: Run, effect: EffectSpec, transition: TransitionSpec) -> None:
    record = run.record()
    formulas = run.services.formulas
    values = {field: formulas.value(run.conn, run.trusted, run.instance["entity"], record,
                                    source)
              for field, source in effect.set.items()}
    update_record(run, values)


def _posting(run: Run, effect: EffectSpec, transition: TransitionSpec) -> None:
    package, code = split_qualified(effect.posting or "")
    spec = run.services.registry.packages.get(package)
    rule = spec.posting(code) if spec is not None else None
    if rule is None:
        raise ConfigurationError(
            Text(f"找不到记账规则 {effect.posting}", f"unknown posting rule {effect.posting}"),
            code="unknown_posting", details={"posting": effect.posting,
                                             "transition": transition.code})
    run.services.postings.post(run.conn, run.trusted, rule, run.instance["entity"],
                               run.instance["record_id"], event=transition.code,
                               instance_id=run.instance["id"])


def _notify(run: Run, effect: EffectSpec, transition: TransitionSpec) -> None:
    users: list[str] = []
    for target in effect.notify:
        users += _RECIPIENTS.get(target, lambda r: [target])(run)
    doc = document_title(run)
    title = effect.message or Text(f"{transition.label.zh}：{doc.zh}",
                                   f"{transition.label.en}: {doc.en}")
    notify(run, users, "notice", title)


_RECIPIENTS: Mapping[str, Callable[[Run], list[str]]] = {
    "initiator": lambda run: [run.instance["initiator"]],
    "assignees": lambda run: [t["assignee"] for t in run.tasks
                              if t["kind"] != "cc" and t["status"] in _TOOK_PART],
}

_EFFECTS: Mapping[str, Callable[[Run, EffectSpec, TransitionSpec], None]] = {
    "set": _set, "posting": _posting, "notify": _notify,
}
