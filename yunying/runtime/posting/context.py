"""What a posting line's formulas may name (runtime layer, posting rules).

A line of a posting rule is evaluated over the stored record: its formulas
(``amount``, ``account_formula``, ``unit``, ``project``) name the record's
fields and paths through its references, like a computed field of the
entity. A line with ``each: <child>`` is evaluated once per line of that
child table: its formulas name the child line's fields, paths through the
line's references, **and the parent record's fields** (a line field of the
same code wins), so ``unit: department`` works on a per-line posting of a
document whose department is on its header.

:func:`line_context` is the one place that decides this, for the runtime
(:mod:`.compiled`) and for the package check of posting formulas.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

from yunying.metadata.spec import EntitySpec, FieldSpec
from yunying.runtime.formula.context import EntityInfo, FormulaContext
from yunying.runtime.formula.entity_context import child_info, context_for, field_info
from yunying.runtime.formula.types import FType

__all__ = ["LineScope", "line_context", "FORMULA_SLOTS"]

#: the formulas of a posting line and the type each must give.
FORMULA_SLOTS: Mapping[str, FType] = MappingProxyType({
    "amount": FType.NUMBER,
    "account_formula": FType.STRING,
    "unit": FType.STRING,
    "project": FType.STRING,
})


@dataclass(frozen=True)
class LineScope:
    """Where a line's formulas are evaluated: the checking ``context`` and the
    field specs its row values come from (for reading reference paths)."""

    context: FormulaContext
    fields: tuple[FieldSpec, ...]


def line_context(entity: EntitySpec, registry: object, each: str | None = None) -> LineScope:
    """The scope of a posting line of ``entity`` (``each``: a child table code).

    ``registry`` is a Registry or a mapping of entity specs by qualified code.
    Raises KeyError when ``entity`` has no child table ``each``.
    """
    if each is None:
        return LineScope(context_for(entity, registry), tuple(entity.fields))
    child = entity.child(each)
    if child is None:
        raise KeyError(each)
    own = {f.code for f in child.fields}
    inherited = tuple(f for f in entity.fields if f.code not in own)
    line = child_info(entity, child)
    merged = EntityInfo(line.code, line.label,
                        {**{f.code: field_info(f) for f in inherited}, **line.fields})
    through_line = context_for(child, registry, parent=entity).entities
    through_header = context_for(entity, registry).entities
    entities = {**through_header, **through_line, merged.code: merged}
    return LineScope(FormulaContext(mode="row", entity=merged.code, entities=entities),
                     inherited + tuple(child.fields))
