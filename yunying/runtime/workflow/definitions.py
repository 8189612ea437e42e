"""Workflow definitions: the versions instances run with (runtime layer, workflow engine).

Submitting a record stores the chosen workflow's validated document in
``yy_wf_definition``, content-addressed: the row's ``digest`` is the SHA-256
of the canonical JSON of ``{"package": <package code>, "document": <doc>}``
(keys sorted, no spaces), so publishing the same workflow again reuses the
row and a changed one gets a new row. An instance points at its row and is
always run with the spec rebuilt from it
(:func:`yunying.metadata.workflows.workflow_from_document`): a new package
version affects new submissions only.

:class:`Definitions` (one per engine, so one per registry) stores rows, keeps
the specs it rebuilt by definition id, and chooses the workflow of a record:
the entity's workflows by ``priority`` (then qualified code), the first
whose ``condition`` holds over the stored record.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Mapping

from sqlalchemy import Connection, insert, select

from yunying.metadata.workflow_spec import WorkflowSpec
from yunying.metadata.workflows import workflow_from_document
from yunying.platform.context import Context
from yunying.platform.errors import ConfigurationError, NotFound, TransitionRejected
from yunying.platform.i18n import Text
from yunying.platform.tables import wf_definition
from yunying.runtime.registry import Registry
from yunying.runtime.workflow.formulas import RecordFormulas

__all__ = ["Definitions", "canonical_json", "workflows_of"]


def canonical_json(value: Any) -> str:
    """The canonical JSON text of a document (its digest is what identifies it)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=_plain)


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, (tuple, set, frozenset)):
        return list(value)
    return str(value)


def workflows_of(registry: Registry, entity: str) -> list[WorkflowSpec]:
    """The workflows of ``entity`` in the installed packages, in the order they
    are tried: priority, then qualified code."""
    found = [w for p in registry.packages.values() for w in p.workflows if w.entity == entity]
    return sorted(found, key=lambda w: (w.priority, w.qualified_code))


class Definitions:
    """Stored workflow definitions and the specs rebuilt from them (per engine)."""

    def __init__(self, registry: Registry, formulas: RecordFormulas) -> None:
        self.registry = registry
        self.formulas = formulas
        self._specs: dict[int, WorkflowSpec] = {}

    # -- choosing ------------------------------------------------------------

    def choose(self, conn: Connection, ctx: Context, entity: str,
               record: Mapping[str, Any]) -> WorkflowSpec:
        """The workflow a record runs with if submitted now.

        NotFound (``no_workflow``) when the entity has no workflow;
        TransitionRejected (``no_workflow``) when none of them applies.
        """
        candidates = workflows_of(self.registry, entity)
        if not candidates:
            raise NotFound(Text(f"{entity} 没有配置审批流程", f"{entity} has no workflow"),
                           code="no_workflow", details={"entity": entity})
        for spec in candidates:
            if spec.condition is None or self.formulas.holds(
                    conn, ctx, entity, record, spec.condition):
                return spec
        raise TransitionRejected(
            Text("没有适用于此记录的审批流程（各流程的适用条件都不满足）",
                 "no workflow applies to this record (no workflow's condition holds)"),
            code="no_workflow", details={"entity": entity,
                                         "workflows": [w.qualified_code for w in candidates]})

    # -- storing and rebuilding ---------------------------------------------

    def store(self, conn: Connection, ctx: Context, spec: WorkflowSpec) -> int:
        """The definition row of ``spec``'s installed document (inserted if new)."""
        document = self._document(spec)
        text = canonical_json({"package": spec.package, "document": document})
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        found = conn.execute(select(wf_definition.c.id)
                             .where(wf_definition.c.digest == digest)).scalar()
        if found is not None:
            return found
        new_id = conn.execute(insert(wf_definition).values(
            workflow=spec.qualified_code, digest=digest,
            metadata_version=self.registry.metadata_version, document=text,
            created_at=ctx.now()).returning(wf_definition.c.id)).scalar_one()
        self._specs[new_id] = spec
        return new_id

    def spec(self, conn: Connection, definition_id: int) -> WorkflowSpec:
        """The spec an instance of definition ``definition_id`` runs with."""
        found = self._specs.get(definition_id)
        if found is None:
            text = conn.execute(select(wf_definition.c.document)
                                .where(wf_definition.c.id == definition_id)).scalar()
            if text is None:
                raise ConfigurationError(
                    Text(f"流程定义 {definition_id} 不存在", f"workflow definition "
                         f"{definition_id} is missing"), code="definition_missing")
            stored = json.loads(text)
            found = workflow_from_document(stored["package"], stored["document"])
            self._specs[definition_id] = found
        return found

    def _document(self, spec: WorkflowSpec) -> Mapping[str, Any]:
        package = self.registry.packages.get(spec.package)
        documents = package.documents.get("workflow", {}) if package is not None else {}
        document = documents.get(spec.code)
        if document is None:
            raise ConfigurationError(
                Text(f"找不到流程 {spec.qualified_code} 的定义文档",
                     f"the document of workflow {spec.qualified_code} is missing"),
                code="definition_missing", details={"workflow": spec.qualified_code})
        return document

