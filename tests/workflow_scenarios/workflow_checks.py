"""Expectation checks of the workflow scenario runner (imported as a plain module).

Pure functions over rows the runner read: the canonical task list, the
instance, what a step wrote (events, notifications, audit), an action's
response, ``status`` answers and the timeline. See ``workflow_script`` for
the script format.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Callable, Mapping

from sqlalchemy import Connection, func, select

from yunying.platform.errors import YunyingError
from yunying.platform.tables import audit_event, notification, wf_event

__all__ = ["INSTANCE_ACTIONS", "ENGINE_ACTIONS", "Marks", "Written", "canonical_tasks",
           "check_error", "check_tasks", "check_instance", "check_view", "check_status",
           "check_timeline", "subset"]

#: actions on an existing instance: each bumps its version exactly once.
INSTANCE_ACTIONS = frozenset({"approve", "reject", "return", "resubmit", "withdraw", "transfer",
                              "add_signers", "remind", "comment", "cancel"})
#: steps that are engine actions (they audit and write a wf_event).
ENGINE_ACTIONS = INSTANCE_ACTIONS | {"submit", "fire"}


def _plain(value: Any) -> Any:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


def subset(actual: Any, wanted: Any) -> bool:
    """``wanted`` (nested mappings) is in ``actual``; leaves compare as given or as text."""
    if isinstance(wanted, Mapping):
        return isinstance(actual, Mapping) and all(
            k in actual and subset(actual[k], v) for k, v in wanted.items())
    return _plain(actual) == wanted or str(_plain(actual)) == str(wanted)


def canonical_tasks(rows: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Tasks by activation (first id of their node and round), seq, assignee, id."""
    first: dict[tuple[str, int], int] = {}
    for row in sorted(rows, key=lambda r: r["id"]):
        first.setdefault((row["node"], row["round"]), row["id"])
    return sorted(rows, key=lambda r: (first[(r["node"], r["round"])], r["seq"],
                                       r["assignee"], r["id"]))


_TASK_EXTRAS: Mapping[str, Callable[[Mapping[str, Any]], Any]] = {
    "kind": lambda t: t["kind"],
    "round": lambda t: t["round"],
    "seq": lambda t: t["seq"],
    "delegated_from": lambda t: t["delegated_from"],
    "comment": lambda t: t["comment"],
    "added": lambda t: t["added_by"] is not None,
    "reminded": lambda t: t["reminded_at"] is not None,
    "read": lambda t: t["read_at"] is not None,
}


def _task_row(task: Mapping[str, Any], wanted: list) -> list:
    row: list = [task["node"], task["assignee"], task["status"]]
    if len(wanted) > 3:
        row.append({key: _TASK_EXTRAS[key](task) for key in wanted[3]})
    return row


def check_tasks(tasks: list[Mapping[str, Any]], wanted: list, label: str) -> None:
    """The whole task list, in canonical order, row by row."""
    actual = [_task_row(t, w) for t, w in zip(tasks, wanted)]
    actual += [_task_row(t, []) for t in tasks[len(wanted):]]
    assert actual == wanted, f"{label}: tasks\n  expected {wanted}\n  actual   {actual}"


def check_error(expect: Mapping[str, Any], error: YunyingError | None, label: str) -> None:
    """The step failed with the expected code (or class), in both languages."""
    wanted = expect["error"]
    assert error is not None, f"{label}: expected error {wanted}, the step succeeded"
    assert wanted in (error.code, type(error).__name__), (
        f"{label}: expected error {wanted}, got {type(error).__name__} {error.code}: "
        f"{error.message.en} {error.details}")
    assert error.message.zh and error.message.en, f"{label}: the error message is not bilingual"
    if "error_details" in expect:
        assert subset(error.details, expect["error_details"]), (
            f"{label}: error details {error.details} lack {expect['error_details']}")


def check_instance(step: Mapping[str, Any], expect: Mapping[str, Any], label: str,
                   instance: Mapping[str, Any] | None, before: Mapping[str, Any] | None,
                   record: Mapping[str, Any] | None) -> None:
    """State, status, workflow and version; the state field follows the state;
    an action on an existing instance bumps its version once."""
    checks = {"state": instance["state"] if instance else "draft",
              "status": instance["status"] if instance else None,
              "workflow": instance["workflow"] if instance else None,
              "version": instance["version"] if instance else None}
    for key, actual in checks.items():
        if key in expect:
            assert actual == expect[key], f"{label}: {key} {actual!r} != {expect[key]!r}"
    if instance is not None and record is not None:
        assert record["status"] == instance["state"], (
            f"{label}: state field {record['status']!r} != state {instance['state']!r}")
    if "record" in expect:
        shown = {k: record[k] for k in expect["record"]} if record else None
        assert subset(shown, expect["record"]), f"{label}: record {shown} != {expect['record']}"
    delta = expect.get("version_delta", 1 if step["do"] in INSTANCE_ACTIONS else None)
    if delta is not None and before is not None and instance is not None \
            and instance["id"] == before["id"]:
        assert instance["version"] - before["version"] == delta, (
            f"{label}: version {before['version']} → {instance['version']}, expected +{delta}")


def check_view(result: Any, instance: Mapping[str, Any] | None,
               tasks: list[Mapping[str, Any]], label: str) -> None:
    """An action's response is the instance as stored: state, status, version
    and every task with its status."""
    assert instance is not None and isinstance(result, Mapping), f"{label}: response {result!r}"
    shown = result["instance"]
    stored = {k: instance[k] for k in ("id", "state", "status", "version")}
    assert {k: shown[k] for k in stored} == stored, f"{label}: response {shown} != {stored}"
    assert sorted((t["id"], t["status"]) for t in result["tasks"]) == \
        sorted((t["id"], t["status"]) for t in tasks), f"{label}: response tasks differ"


def check_status(result: Mapping[str, Any], expect: Mapping[str, Any], label: str) -> None:
    """A ``status`` answer: ``may_fire`` — the transitions the asking user may
    fire now; ``my_tasks`` — the nodes of his pending tasks; the state."""
    if "may_fire" in expect:
        codes = [t["code"] for t in result["transitions"]]
        assert sorted(codes) == sorted(expect["may_fire"]), f"{label}: may fire {codes}"
    if "my_tasks" in expect:
        nodes = [t["node"] for t in result["my_tasks"]]
        assert nodes == expect["my_tasks"], f"{label}: my tasks {nodes}"
    state = result["state"]["code"] if result["state"] else None
    if "state" in expect:
        assert state == expect["state"], f"{label}: status() state {state}"


def check_timeline(events: list[Mapping[str, Any]], wanted: list, label: str) -> None:
    """``wanted`` entries ([actor, action, node] or with the comment) appear in
    the timeline in this order (other events may come between)."""
    rows = iter([e["actor"], e["action"], e["node"], e["comment"]] for e in events)
    for entry in wanted:
        assert any(row[:len(entry)] == entry for row in rows), (
            f"{label}: timeline lacks {entry} (in order) in "
            f"{[[e['actor'], e['action'], e['node']] for e in events]}")


@dataclass
class Marks:
    """Highest row ids before a step: what the step wrote comes after them."""

    event: int
    notification: int
    audit: int

    @classmethod
    def read(cls, conn: Connection) -> "Marks":
        def top(table) -> int:
            return conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()
        return cls(top(wf_event), top(notification), top(audit_event))


@dataclass
class Written:
    """What one step wrote: timeline events, notifications, audit kinds."""

    events: list[str]
    notices: list[list[str]]
    audit: list[str]

    @classmethod
    def read(cls, conn: Connection, marks: Marks) -> "Written":
        events = conn.execute(select(wf_event.c.action).where(wf_event.c.id > marks.event)
                              .order_by(wf_event.c.id)).scalars().all()
        notices = conn.execute(select(notification.c.user_code, notification.c.kind)
                               .where(notification.c.id > marks.notification)
                               .order_by(notification.c.id)).all()
        audit = conn.execute(select(audit_event.c.kind).where(audit_event.c.id > marks.audit)
                             ).scalars().all()
        return cls(list(events), [[u, k] for u, k in notices], list(audit))

    def check(self, step: Mapping[str, Any], expect: Mapping[str, Any], label: str) -> None:
        replay = expect.get("version_delta") == 0
        if step["do"] in ENGINE_ACTIONS and not replay:
            assert "workflow.action" in self.audit, f"{label}: no workflow.action audit event"
            assert self.events, f"{label}: no wf_event written"
        for wanted in expect.get("events", ()):
            assert wanted in self.events, f"{label}: event {wanted!r} not in {self.events}"
        for user, kind in expect.get("notices", ()):
            assert any(u == user and kind in (k, "*") for u, k in self.notices), (
                f"{label}: notification {[user, kind]} not in {self.notices}")
        for user in expect.get("no_notices", ()):
            assert all(u != user for u, _ in self.notices), (
                f"{label}: {user} was notified: {self.notices}")
