"""Workflow formulas over the stored record (runtime layer, workflow engine).

Workflow conditions, transition guards, condition-node branches and ``set``
effects are row formulas of the workflow's entity, evaluated against the
record as stored at that moment (the main row, values through references
read like the record service reads them — :mod:`yunying.runtime.records.paths`),
with the acting context's clock for ``TODAY()`` / ``NOW()``.

:class:`RecordFormulas` (one per engine) checks each formula once and keeps
it prepared. A formula that no longer checks, or fails while evaluating,
refuses the action (TransitionRejected ``formula_error`` with the formula's
located issues) — a workflow never moves on a formula it could not read.
"""

from __future__ import annotations

from datetime import timezone
from typing import Any, Mapping

from sqlalchemy import Connection

from yunying.platform.context import Context
from yunying.platform.errors import TransitionRejected
from yunying.platform.i18n import Text
from yunying.runtime.formula.checker import check
from yunying.runtime.formula.entity_context import context_for
from yunying.runtime.formula.errors import FormulaError
from yunying.runtime.formula.evaluator import PreparedFormula, prepare
from yunying.runtime.formula.types import FType
from yunying.runtime.records.paths import compile_paths, read_paths
from yunying.runtime.registry import Registry

__all__ = ["RecordFormulas"]


class RecordFormulas:
    """Checked, prepared workflow formulas of one registry's entities."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._prepared: dict[tuple[str, str, bool], PreparedFormula] = {}

    def holds(self, conn: Connection, ctx: Context, entity: str,
              record: Mapping[str, Any], source: str) -> bool:
        """A boolean formula over the record (NULL counts as false)."""
        formula = self._formula(entity, source, boolean=True)
        values = self._values(conn, entity, formula, record)
        now = _naive(ctx)
        return _guarded(source, lambda: formula.evaluate_condition(
            values, today=now.date(), now=now))

    def value(self, conn: Connection, ctx: Context, entity: str,
              record: Mapping[str, Any], source: str) -> Any:
        """The value of a formula over the record (a ``set`` effect)."""
        formula = self._formula(entity, source, boolean=False)
        values = self._values(conn, entity, formula, record)
        now = _naive(ctx)
        return _guarded(source, lambda: formula.evaluate(values, today=now.date(), now=now))

    def _formula(self, entity: str, source: str, *, boolean: bool) -> PreparedFormula:
        key = (entity, source, boolean)
        found = self._prepared.get(key)
        if found is None:
            spec = self.registry.entity(entity)
            if spec is None:
                raise _refused(source, Text(f"未知实体 {entity}", f"unknown entity {entity}"))
            context = context_for(spec, self.registry)
            found = _guarded(source, lambda: prepare(check(
                source, context, expect=FType.BOOLEAN if boolean else None)))
            self._prepared[key] = found
        return found

    def _values(self, conn: Connection, entity: str, formula: PreparedFormula,
                record: Mapping[str, Any]) -> dict[str, Any]:
        spec = self.registry.entity(entity)
        dotted = formula.checked.dependencies.fields
        plan = compile_paths(spec.fields, dotted, self.registry)  # type: ignore[union-attr]
        through = read_paths(conn, [(plan, record)])[0] if plan else {}
        return {**record, **through}


def _naive(ctx: Context):
    now = ctx.now()
    if now.tzinfo is not None:
        now = now.astimezone(timezone.utc).replace(tzinfo=None)
    return now


def _guarded(source: str, work: Any) -> Any:
    try:
        return work()
    except FormulaError as exc:
        raise _refused(source, exc.message, issues=exc.details.get("issues", [])) from exc


def _refused(source: str, why: Text, *, issues: list | None = None) -> TransitionRejected:
    return TransitionRejected(
        Text(f"流程公式“{source}”无法计算：{why.zh}",
             f"the workflow formula {source!r} cannot be evaluated: {why.en}"),
        code="formula_error", details={"formula": source, "issues": issues or []})
