"""The dry-run text of a schema plan (runtime layer, schema sync).

:func:`render` only formats: one line per operation in English and Chinese,
refused operations marked with the rows they would hurt.
"""

from __future__ import annotations

from typing import Iterable

from yunying.runtime.schema.lossy import Refusal
from yunying.runtime.schema.ops import Op, Plan

__all__ = ["render"]

_MARKS = {True: "+", False: "·"}  # a schema change / a report-only line


def render(plan: Plan, refusals: Iterable[Refusal] = ()) -> str:
    """A human-readable dry run of ``plan``, with ``refusals`` under their step."""
    refused = list(refusals)
    if not plan.ops:
        return "schema: no changes / 数据库结构无变更"
    changes = len(plan.changes)
    lines = [f"schema plan: {changes} change(s), {len(plan.ops)} step(s) / "
             f"数据库结构变更计划：{changes} 项变更，共 {len(plan.ops)} 步"]
    width = len(str(len(plan.ops)))
    for number, op in enumerate(plan.ops, start=1):
        text = op.describe()
        lines.append(f"  {number:>{width}}. {_MARKS[op.changes_schema]} [{op.kind}] "
                     f"{text.en} / {text.zh}")
        for refusal in _refusals_of(op, refused):
            lines.append(f"  {'':>{width}}  ! REFUSED / 已拒绝 ({refusal.rows} row(s) / 行"
                         f"{'' if refusal.forcible else ', cannot be forced / 不可强制'}): "
                         f"{refusal.message.en} / {refusal.message.zh}")
    if refused:
        lines.append(f"{len(refused)} lossy change(s) refused / {len(refused)} 项有损变更被拒绝")
    return "\n".join(lines)


def _refusals_of(op: Op, refusals: list[Refusal]) -> list[Refusal]:
    return [r for r in refusals
            if (r.kind, r.table, r.column) == (op.kind, op.table, op.subject)]
