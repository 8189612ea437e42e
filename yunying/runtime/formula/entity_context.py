"""Entity specs → formula checking contexts (runtime layer, formula integration).

The checker knows nothing of specs: it checks against a
:class:`~.context.FormulaContext` of plain :class:`~.context.EntityInfo` and
:class:`~.context.FieldInfo` values. This module builds them from entity
specs — one field info per declared field, typed by
:func:`~.types.field_type` (a computed field by its ``result``), labelled in
zh-CN and en, references pointing at their target entity so paths such as
``item.unit_price`` resolve.

A child table (document lines) is an entity of its own for formulas, named
``<package>.<entity>.<child>``: its rows' formulas see the line's fields and
paths through the line's references (not the parent's fields).
"""

from __future__ import annotations

from collections import deque
from typing import Iterable, Mapping, Union

from yunying.metadata.spec import ChildSpec, EntitySpec, FieldSpec
from yunying.runtime.formula.context import EntityInfo, FieldInfo, FormulaContext, Mode
from yunying.runtime.formula.types import FIELD_TYPE_MAP, FType

__all__ = ["Owner", "EntityInfos", "field_info", "entity_info", "child_code", "child_info",
           "context_for", "aggregate_context", "parent_of", "MAX_PATH_STEPS"]

#: what a row formula belongs to: an entity's main row or a child table's line.
Owner = Union[EntitySpec, ChildSpec]
#: entity infos by qualified code (built once, shared by many contexts).
EntityInfos = Mapping[str, EntityInfo]
#: how many references a path may follow (``a.b.c.d``), as the checker allows.
MAX_PATH_STEPS = 3


def field_info(f: FieldSpec) -> FieldInfo:
    """The formula view of one field: its code, type, labels and reference target."""
    return FieldInfo(code=f.code, type=FIELD_TYPE_MAP.get(f.value_type, FType.UNKNOWN),
                     label=f.label, reference=f.reference if f.type == "reference" else None,
                     dictionary=f.dictionary)


def _fields(fields: Iterable[FieldSpec]) -> dict[str, FieldInfo]:
    return {f.code: field_info(f) for f in fields}


def entity_info(spec: EntitySpec) -> EntityInfo:
    """An entity's main row as the checker sees it (with its dimensions)."""
    return EntityInfo(spec.qualified_code, spec.label, _fields(spec.fields),
                      org_dimension=spec.org_dimension, date_dimension=spec.date_dimension)


def child_code(parent: EntitySpec, child: ChildSpec) -> str:
    """``materials.requisition.lines``: the formula entity of a child table."""
    return f"{parent.qualified_code}.{child.code}"


def child_info(parent: EntitySpec, child: ChildSpec) -> EntityInfo:
    return EntityInfo(child_code(parent, child), child.label, _fields(child.fields))


def _entities(source: object) -> Mapping[str, EntitySpec]:
    """Entity specs by qualified code from a registry or a mapping of them."""
    entities = getattr(source, "entities", source)
    return entities  # type: ignore[return-value]


def parent_of(child: ChildSpec, entities: Mapping[str, EntitySpec]) -> EntitySpec | None:
    """The entity owning ``child`` (compared by value), if it is among ``entities``."""
    for spec in entities.values():
        if any(c is child or c == child for c in spec.children):
            return spec
    return None


def _info(code: str, entities: Mapping[str, EntitySpec],
          cache: dict[str, EntityInfo]) -> EntityInfo | None:
    info = cache.get(code)
    if info is None and code in entities:
        info = cache[code] = entity_info(entities[code])
    return info


def _reachable(start: EntityInfo, entities: Mapping[str, EntitySpec],
               cache: dict[str, EntityInfo]) -> dict[str, EntityInfo]:
    """``start`` and every entity its paths may reach (breadth first, bounded)."""
    found = {start.code: start}
    queue = deque([(start, 0)])
    while queue:
        info, depth = queue.popleft()
        if depth == MAX_PATH_STEPS:
            continue
        for f in info.fields.values():
            if f.reference is None or f.reference in found:
                continue
            target = _info(f.reference, entities, cache)
            if target is not None:
                found[target.code] = target
                queue.append((target, depth + 1))
    return found


def context_for(owner: Owner | None, entities: object, *, mode: Mode = "row",
                parent: EntitySpec | None = None,
                cache: dict[str, EntityInfo] | None = None) -> FormulaContext:
    """The checking context of a formula of ``owner`` (an entity or a child table).

    ``entities`` is a :class:`~yunying.runtime.registry.Registry` or a mapping
    of entity specs by qualified code. In ``row`` mode the bare names are the
    owner's fields and paths reach the entities its references lead to; in
    ``aggregate`` (or ``indicator``) mode every entity of ``entities`` may be
    named and ``owner`` is not needed. ``parent`` names a child table's entity
    (found among ``entities`` when omitted); ``cache`` shares entity infos
    between many calls.
    """
    specs = _entities(entities)
    infos = {} if cache is None else cache
    if mode != "row":
        every = {code: _info(code, specs, infos) for code in specs}
        return FormulaContext(mode=mode, entities={c: i for c, i in every.items() if i})
    if owner is None:
        raise ValueError("a row context needs the entity or child table it belongs to")
    if isinstance(owner, EntitySpec):
        current = _info(owner.qualified_code, specs, infos) or entity_info(owner)
    else:
        owning = parent or parent_of(owner, specs)
        current = (child_info(owning, owner) if owning is not None else
                   EntityInfo(owner.table_name, owner.label, _fields(owner.fields)))
    return FormulaContext(mode="row", entity=current.code,
                          entities=_reachable(current, specs, infos))


def aggregate_context(entities: object, *, mode: Mode = "aggregate") -> FormulaContext:
    """Every entity of ``entities`` (a registry or mapping), for aggregate formulas."""
    return context_for(None, entities, mode=mode)
