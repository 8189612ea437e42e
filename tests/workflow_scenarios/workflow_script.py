"""Plays a workflow scenario script against the engine (imported as a plain module).

A script (``scenarios/<name>.yaml``) names its fixture package
(``tests/fixtures/wf_scenarios/<package>``, default: the script's name), the
records to create, and the steps to play::

    package: mode_any
    start: 2025-03-03T09:00:00          # the clock (default: START)
    records:                            # created before the first step, in order
      r1: {as: nurse, data: {title: 领用, department: CARD-W1, amount: "100.00"}}
    steps:
      - as: nurse                       # the acting user (``system``: trusted, no grants)
        do: submit                      # see workflow_actions.ACTIONS and OUTSIDE
        record: r1                      # default: the first record
        task: review                    # node (the actor's task there), node@user, or mine
        args: {comment: 请审批}
        at: 2025-03-04T10:00:00         # set the clock first, or:
        after_hours: 25                 # move it on first
        expect:
          tasks: [[review, a1, pending], [review, a2, cancelled, {kind: approval}]]
          state: reviewing
          status: running
          error: null                   # an error code or class name: nothing may change

Steps: submit, fire (``args.transition``), cancel, approve (``next_approvers``),
reject, return (``to``), resubmit, withdraw, transfer (``to``), add_signers
(``users``, ``position``), remind, comment (``text``), tick, delegate
(``substitute``, ``from``, ``to``), read (a cc copy), update (``data``),
status; and outside a step transaction: install (``package``), create
(``args.data``, a new ``record`` name), check (nothing: only the expectations).

Every step runs in its own ``db.begin(write=True)`` transaction with
``Context(actor=as, grants=build_grants(...), clock=<the script clock>)``.

``expect.tasks`` is the whole task list of the record's latest instance in the
canonical order: by activation (the first task id of each (node, round)),
then seq, assignee and id. A row is ``[node, assignee, status]`` plus an
optional mapping checked against the task: ``kind``, ``round``, ``seq``,
``delegated_from``, ``added`` (has ``added_by``), ``reminded`` (has
``reminded_at``), ``read`` (has ``read_at``), ``comment``.

Other keys of ``expect``: ``state`` (the workflow state; ``draft`` for a
record without instance), ``status`` (the latest instance's status, null
without one), ``workflow`` (its qualified workflow code), ``version``,
``version_delta`` (default 1 for actions on an existing instance: each action
bumps the instance exactly once), ``record`` (field → value of the stored
row), ``notices`` (``[user, kind]`` pairs that must be among the
notifications this step wrote; kind ``*``: any), ``no_notices`` (users who
must get none), ``events`` (wf_event actions this step must have written),
``timeline`` (``[actor, action, node]`` or ``[actor, action, node, comment]``
entries that must appear in this order in the engine's timeline), ``inbox``
(a subset of the acting user's inbox counts), ``result`` (a subset of the
returned mapping), ``may_fire`` and ``my_tasks`` (a ``status`` step: the
transitions the user may fire, the nodes of his pending tasks),
``error_details`` (a subset of the error's details).

After every successful step: the record's ``state_field`` equals the
instance's state; an action wrote a ``workflow.action`` audit event and a
wf_event, and returned the instance as stored (state, status, version,
tasks). After an error step the record, its instances, tasks, events,
notifications, requests, delegations and audit trail are exactly as before.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Mapping

import yaml
from sqlalchemy import Connection, func, select

from yunying.platform.context import Context
from yunying.platform.database import Database
from yunying.platform.errors import YunyingError
from yunying.platform.tables import (
    audit_event, notification, wf_delegation, wf_event, wf_instance, wf_request, wf_task,
)
from yunying.runtime.access.resolve import build_grants
from yunying.runtime.container import Services
from yunying.runtime.installer import install_packages
from yunying.runtime.workflow import inbox

from workflow_actions import ACTIONS, OUTSIDE
from workflow_checks import (
    ENGINE_ACTIONS, Marks, Written, canonical_tasks, check_error, check_instance, check_status,
    check_tasks, check_timeline, check_view, subset,
)

__all__ = ["ENTITY", "FIXTURES", "START", "Clock", "load_script", "Scenario"]

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "wf_scenarios"
ENTITY = "wfs.doc"
START = datetime(2025, 3, 3, 9, 0, 0)
#: every table a refused step must leave alone (compared by row count).
_COUNTED = (wf_instance, wf_task, wf_event, wf_request, wf_delegation, notification, audit_event)


class Clock:
    """The script's controllable clock; ``now`` is what contexts call."""

    def __init__(self, start: datetime) -> None:
        self.value = start

    def now(self) -> datetime:
        return self.value


def load_script(path: Path) -> dict[str, Any]:
    script = yaml.safe_load(path.read_text(encoding="utf-8"))
    script.setdefault("package", path.stem)
    script.setdefault("records", {})
    return script


def _as_datetime(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


@dataclass
class Scenario:
    """One script played against a fresh database."""

    db: Database
    script: Mapping[str, Any]
    name: str = "scenario"
    entity: str = ENTITY
    clock: Clock = field(init=False)
    services: Services = field(init=False)
    records: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.clock = Clock(_as_datetime(self.script.get("start", START)))
        self.services = Services(self.db, {})
        self.install(self.script["package"])
        for name, spec in self.script["records"].items():
            self.create(name, spec["as"], spec["data"])

    # -- setting up ----------------------------------------------------------

    def install(self, package: str) -> None:
        install_packages(self.db, [FIXTURES / package],
                         Context(actor="installer", clock=self.clock.now))

    def create(self, name: str, user: str, data: Mapping[str, Any]) -> int:
        with self.db.begin(write=True) as conn:
            records = self.services.runtime(conn).records
            record = records.create(conn, Context(actor=user, clock=self.clock.now),
                                    self.entity, data)
        self.records[name] = record["id"]
        return record["id"]

    def context(self, conn: Connection, user: str) -> Context:
        if user == "system":
            return Context(actor="system", clock=self.clock.now)
        grants = build_grants(conn, self.services.access, user, self.clock.now().date())
        return Context(actor=user, clock=self.clock.now, grants=grants)

    def engine(self, conn: Connection):
        return self.services.runtime(conn).workflow

    # -- reading -------------------------------------------------------------

    def record_id(self, step: Mapping[str, Any]) -> int:
        name = step.get("record") or next(iter(self.records))
        return self.records[name]

    def known_record(self, step: Mapping[str, Any]) -> int | None:
        """The step's record when it exists already (a ``create`` step's does not)."""
        name = step.get("record") or next(iter(self.records), None)
        return self.records.get(name) if name is not None else None

    def instance(self, conn: Connection, record_id: int | None) -> dict[str, Any] | None:
        """The record's latest instance."""
        if record_id is None:
            return None
        i = wf_instance.c
        row = conn.execute(select(wf_instance).where(i.entity == self.entity,
                                                     i.record_id == record_id)
                           .order_by(i.id.desc()).limit(1)).mappings().first()
        return dict(row) if row else None

    def tasks(self, conn: Connection, instance_id: int | None) -> list[dict[str, Any]]:
        if instance_id is None:
            return []
        rows = conn.execute(select(wf_task).where(wf_task.c.instance_id == instance_id))
        return canonical_tasks([dict(r) for r in rows.mappings()])

    def stored_record(self, conn: Connection, record_id: int | None) -> dict[str, Any] | None:
        if record_id is None:
            return None
        table = self.services.runtime(conn).registry.tables(self.entity).table
        return dict(conn.execute(select(table).where(table.c.id == record_id)).mappings().one())

    def task_id(self, conn: Connection, step: Mapping[str, Any]) -> int:
        """The task a step names: the actor's (or ``node@user``'s) pending task
        at the node, else their latest task there whatever its status."""
        node, _, user = str(step["task"]).partition("@")
        user = user or step["as"]
        instance = self.instance(conn, self.record_id(step))
        assert instance is not None, f"no instance for task {step['task']!r}"
        mine = [t for t in sorted(self.tasks(conn, instance["id"]), key=lambda t: t["id"])
                if t["assignee"] == user and (node == "mine" or t["node"] == node)]
        assert mine, f"{user} has no task at {node!r}"
        pending = [t for t in mine if t["status"] == "pending"]
        return (pending or mine)[-1]["id"]

    def instance_id(self, conn: Connection, step: Mapping[str, Any]) -> int:
        instance = self.instance(conn, self.record_id(step))
        assert instance is not None, "the record has no instance"
        return instance["id"]

    def snapshot(self, record_id: int | None) -> str:
        """Everything a refused step must leave as it was, as JSON text."""
        with self.db.connect() as conn:
            i = wf_instance.c
            instances = conn.execute(select(wf_instance).where(
                i.entity == self.entity, i.record_id == record_id).order_by(i.id)).mappings().all()
            tasks = conn.execute(select(wf_task).where(
                wf_task.c.instance_id.in_([r["id"] for r in instances]))
                .order_by(wf_task.c.id)).mappings().all()
            counts = {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                      for t in _COUNTED}
            state = {"instances": [dict(r) for r in instances], "tasks": [dict(t) for t in tasks],
                     "record": self.stored_record(conn, record_id), "counts": counts}
        return json.dumps(state, default=str, sort_keys=True)

    # -- playing -------------------------------------------------------------

    def play(self) -> None:
        for number, step in enumerate(self.script["steps"], start=1):
            label = f"{self.name} step {number} ({step.get('as')} {step['do']} " \
                    f"{step.get('task') or step.get('record') or ''})".rstrip()
            self.step(step, label)

    def step(self, step: Mapping[str, Any], label: str) -> None:
        if "at" in step:
            self.clock.value = _as_datetime(step["at"])
        if "after_hours" in step:
            self.clock.value += timedelta(hours=step["after_hours"])
        expect = step.get("expect") or {}
        record_id = self.known_record(step)
        before = self.snapshot(record_id)
        with self.db.connect() as conn:
            instance = self.instance(conn, record_id)
            marks = Marks.read(conn)
        result, error = self.run(step)
        if expect.get("error") is not None:
            check_error(expect, error, label)
            assert self.snapshot(record_id) == before, f"{label}: a refused step changed data"
            return
        if error is not None:
            raise AssertionError(f"{label}: unexpected {type(error).__name__} {error.code}: "
                                 f"{error.message.en} {error.details}") from error
        self.check(step, expect, label, result, instance, marks)

    def run(self, step: Mapping[str, Any]) -> tuple[Any, YunyingError | None]:
        do = step["do"]
        if do in OUTSIDE:
            return OUTSIDE[do](self, step), None
        try:
            with self.db.begin(write=True) as conn:
                ctx = self.context(conn, step["as"])
                return ACTIONS[do](self, conn, ctx, step, step.get("args") or {}), None
        except YunyingError as exc:
            return None, exc

    def check(self, step: Mapping[str, Any], expect: Mapping[str, Any], label: str,
              result: Any, before: Mapping[str, Any] | None, marks: Marks) -> None:
        record_id = self.known_record(step)
        with self.db.connect() as conn:
            instance = self.instance(conn, record_id)
            tasks = self.tasks(conn, instance["id"] if instance else None)
            record = self.stored_record(conn, record_id)
            written = Written.read(conn, marks)
            events = self.engine(conn).timeline(conn, Context(actor="system"), instance["id"]) \
                if "timeline" in expect and instance else []
            counts = inbox.counts(conn, step["as"]) if "inbox" in expect else {}
        if "tasks" in expect:
            check_tasks(tasks, expect["tasks"], label)
        check_instance(step, expect, label, instance, before, record)
        written.check(step, expect, label)
        if step["do"] in ENGINE_ACTIONS and expect.get("version_delta") != 0:
            check_view(result, instance, tasks, label)
        if step["do"] == "status":
            check_status(result, expect, label)
        if "timeline" in expect:
            check_timeline(events, expect["timeline"], label)
        if "result" in expect:
            assert subset(result, expect["result"]), (
                f"{label}: result {result} lacks {expect['result']}")
        if "inbox" in expect:
            assert subset(counts, expect["inbox"]), (
                f"{label}: inbox counts of {step['as']} {counts} lack {expect['inbox']}")
