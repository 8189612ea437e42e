"""One workflow action in progress (runtime layer, workflow engine).

:class:`Services` is what the engine is built with (one per registry);
:class:`Run` is the working state of one action on one instance — the locked
instance row, its spec (rebuilt from the instance's own definition), its
tasks, the acting context — handed to the chain walker, the actions and the
effects. A Run lives for one call and is never shared.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import Connection

from yunying.metadata.spec import EntitySpec
from yunying.metadata.workflow_spec import ChainSpec, NodeSpec, WorkflowSpec
from yunying.platform.context import Context
from yunying.platform.errors import ConfigurationError
from yunying.platform.i18n import Text
from yunying.platform.notifications import Notifier
from yunying.runtime.posting import Postings
from yunying.runtime.records import RecordService
from yunying.runtime.registry import Registry
from yunying.runtime.workflow.definitions import Definitions
from yunying.runtime.workflow.formulas import RecordFormulas
from yunying.runtime.workflow.graph import ChainGraph
from yunying.runtime.workflow.tasks import insert_task, open_of

__all__ = ["Services", "Run", "trusted", "naive_now"]


@dataclass(frozen=True)
class Services:
    """The engine's collaborators (built once per registry)."""

    registry: Registry
    records: RecordService
    notifier: Notifier
    definitions: Definitions
    formulas: RecordFormulas
    postings: Postings
    graphs: dict[tuple[int, str], ChainGraph] = field(default_factory=dict)


def naive_now(ctx: Context) -> datetime:
    now = ctx.now()
    if now.tzinfo is not None:
        now = now.astimezone(timezone.utc).replace(tzinfo=None)
    return now


def trusted(ctx: Context) -> Context:
    """``ctx`` without restrictions (same actor, clock and request): how the
    engine writes the record (effects, state field) after deciding the actor
    may act."""
    return replace(ctx, grants=None)


class Run:
    """The working state of one action on one instance."""

    def __init__(self, services: Services, conn: Connection, ctx: Context,
                 instance: dict[str, Any], spec: WorkflowSpec,
                 tasks: list[dict[str, Any]]) -> None:
        self.services = services
        self.conn = conn
        self.ctx = ctx
        self.instance = instance
        self.spec = spec
        self.tasks = tasks
        self.now = naive_now(ctx)
        entity = services.registry.entity(instance["entity"])
        if entity is None:
            raise ConfigurationError(
                Text(f"未知实体 {instance['entity']}", f"unknown entity {instance['entity']}"),
                code="unknown_entity", details={"entity": instance["entity"]})
        self.entity: EntitySpec = entity

    # -- facts ---------------------------------------------------------------

    @property
    def today(self) -> date:
        return self.now.date()

    @property
    def data(self) -> dict[str, Any]:
        return self.instance["data"]

    @property
    def trusted(self) -> Context:
        return trusted(self.ctx)

    @property
    def running(self) -> bool:
        return self.instance["status"] == "running"

    @property
    def chain(self) -> ChainSpec:
        found = self.spec.chain(self.instance["chain"] or "")
        if found is None:
            raise ConfigurationError(
                Text("流程实例没有审批链", "the workflow instance has no approval chain"),
                code="no_chain", details={"instance_id": self.instance["id"]})
        return found

    @property
    def graph(self) -> ChainGraph:
        key = (self.instance["definition_id"], self.instance["chain"] or "")
        found = self.services.graphs.get(key)
        if found is None:
            found = self.services.graphs[key] = ChainGraph.of(self.chain)
        return found

    def node(self, code: str) -> NodeSpec:
        return self.graph.node(code)

    def record(self) -> dict[str, Any]:
        """The record's main row as stored now (read afresh: effects change it)."""
        return self.services.records.row(self.conn, self.trusted, self.instance["entity"],
                                         self.instance["record_id"])

    # -- tasks ---------------------------------------------------------------

    def task(self, task_id: int) -> dict[str, Any] | None:
        return next((t for t in self.tasks if t["id"] == task_id), None)

    def open_tasks(self) -> list[dict[str, Any]]:
        return open_of(self.tasks)

    def add_task(self, **values: Any) -> dict[str, Any]:
        task = insert_task(self.conn, instance_id=self.instance["id"], created_at=self.now,
                           **values)
        self.tasks.append(task)
        return task

    def round(self, node: str) -> int:
        return int(self.data.get("rounds", {}).get(node, 0))

    def next_round(self, node: str) -> int:
        rounds = self.data.setdefault("rounds", {})
        rounds[node] = int(rounds.get(node, 0)) + 1
        return rounds[node]
