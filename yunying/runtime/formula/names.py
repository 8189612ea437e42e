"""Name resolution for formulas (名称解析): fields, paths, entities, indicators (runtime layer).

A :class:`Names` is built per check over a :class:`FormulaContext`. Fields
and entities resolve by **code** first, then by zh-CN or en **label**
(case-sensitive); a label shared by two fields (or entities) is ambiguous.
Labels are found by a scan remembered for the rest of the check (formulas
name few things; building indexes of every label would cost more). Paths ``a.b.c`` follow reference fields, at most :data:`MAX_STEPS`.

Results are plain data (:class:`Resolved` / :class:`Unresolved`); the
checker turns an :class:`Unresolved` into a located issue.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from yunying.platform.i18n import Text
from yunying.runtime.formula.context import EntityInfo, FieldInfo, FormulaContext
from yunying.runtime.formula.suggest import nearest
from yunying.runtime.formula.types import FType

__all__ = ["MAX_STEPS", "Scope", "Resolved", "Unresolved", "Names", "entity_text", "did_you_mean"]

#: where a name is read: ``("row", entity)``, ``("inner", aggregated entity)``
#: or ``("outer", None)`` (aggregate mode, outside any aggregate).
Scope = tuple[str, str | None]

#: references a path may follow: ``a.b.c.d`` follows three.
MAX_STEPS = 3


@dataclass(frozen=True, slots=True)
class Resolved:
    """A field path: starting ``entity``, field codes, the value's type, the
    (entity, field) pairs read on the way and the entities reached."""

    entity: str
    path: tuple[str, ...]
    type: FType
    reads: tuple[tuple[str, str], ...]
    reached: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Unresolved:
    """Why a name did not resolve: issue code, the offending part's index
    (None: the whole name), message and suggestions."""

    code: str
    part: int | None
    message: Text
    suggestions: tuple[str, ...] = ()


def entity_text(info: EntityInfo | None, code: str) -> Text:
    """How an entity is named in messages: its label and code."""
    label = info.label if info else None
    if label is None:
        return Text(code, code)
    return Text(f"{label.zh}（{code}）", f"{label.en} ({code})")


def did_you_mean(suggestions: Sequence[str]) -> Text:
    """The "did you mean …?" tail of a message (empty without suggestions)."""
    if not suggestions:
        return Text("", "")
    return Text(f"；是否想写：{'、'.join(suggestions)}？", f"; did you mean {', '.join(suggestions)}?")


def _entity_as_value(text: str) -> Unresolved:
    return Unresolved("context", None, Text(
        f"{text} 是实体，不是值；统计记录数请用 COUNT({text})",
        f"{text} is an entity, not a value; count its records with COUNT({text})"))


def _label_index(items: Mapping[str, Any],
                 label_of: Callable[[Any], Text | None]) -> dict[str, tuple[str, ...]]:
    index: dict[str, list[str]] = {}
    for code, item in items.items():
        label = label_of(item)
        if label is not None:
            for text in {label.zh, label.en}:
                index.setdefault(text, []).append(code)
    return {text: tuple(codes) for text, codes in index.items()}


class Names:
    """Name lookup over one context, for the duration of one check."""

    __slots__ = ("context", "entities", "_labels", "_entity_names", "_indicator_labels")

    def __init__(self, context: FormulaContext) -> None:
        self.context = context
        self.entities = context.entities
        #: (entity, label) → field codes, and name → entity codes, found so far
        self._labels: dict[tuple[str, str], tuple[str, ...]] = {}
        self._entity_names: dict[str, tuple[str, ...]] = {}
        self._indicator_labels: dict[str, tuple[str, ...]] | None = None

    # -- fields -----------------------------------------------------------
    def field(self, entity: str, part: str) -> FieldInfo | tuple[str, ...] | None:
        """The field ``part`` (code or label) of ``entity``; a tuple of codes when ambiguous."""
        info = self.entities.get(entity)
        if info is None:
            return None
        found = info.fields.get(part)
        if found is not None:
            return found
        key = (entity, part)
        codes = self._labels.get(key)
        if codes is None:   # a scan, remembered for this check: cheaper than an index
            codes = self._labels[key] = tuple(
                f.code for f in info.fields.values()
                if f.label is not None and (f.label.zh == part or f.label.en == part))
        if not codes:
            return None
        return info.fields[codes[0]] if len(codes) == 1 else codes

    def field_names(self, entity: str) -> list[str]:
        """Every name a field of ``entity`` may be written as (for suggestions)."""
        info = self.entities.get(entity)
        if info is None:
            return []
        names = list(info.fields)
        for f in info.fields.values():
            if f.label is not None:
                names += [f.label.zh, f.label.en]
        return names

    def owners(self, part: str) -> tuple[str, ...]:
        """Entities having a field named ``part``."""
        return tuple(code for code in self.entities
                     if isinstance(self.field(code, part), FieldInfo))

    def path(self, entity: str, parts: Sequence[str], first: int) -> Resolved | Unresolved:
        """Follow ``parts[first:]`` as a field path from ``entity``."""
        codes: list[str] = []
        reads: list[tuple[str, str]] = []
        reached: list[str] = []
        current, previous = entity, None
        for index in range(first, len(parts)):
            if previous is not None:
                step = self._step(previous, parts, index, len(reached))
                if isinstance(step, Unresolved):
                    return step
                current = step
                reached.append(current)
            found = self.field(current, parts[index])
            if not isinstance(found, FieldInfo):
                return self._unknown_field(current, parts[index], index, found)
            codes.append(found.code)
            reads.append((current, found.code))
            previous = found
        assert previous is not None
        return Resolved(entity, tuple(codes), previous.type, tuple(reads), tuple(reached))

    def _step(self, previous: FieldInfo, parts: Sequence[str], index: int,
              steps: int) -> str | Unresolved:
        part, before = parts[index], parts[index - 1]
        if previous.reference is None:
            kind = previous.type.label
            return Unresolved("unknown_name", index, Text(
                f"“{before}”是{kind.zh}字段，不是引用，不能从中读取“{part}”",
                f"{before!r} is a {kind.en} field, not a reference: cannot read {part!r} from it"))
        if steps >= MAX_STEPS:
            return Unresolved("too_complex", None, Text(
                f"路径最多经过 {MAX_STEPS} 个引用字段，“{'.'.join(parts)}”超过了",
                f"a path may follow at most {MAX_STEPS} references; {'.'.join(parts)!r} follows more"))
        if previous.reference not in self.entities:
            return Unresolved("unknown_name", index, Text(
                f"“{before}”引用的实体 {previous.reference} 在此不可用，不能读取“{part}”",
                f"the entity {previous.reference} referenced by {before!r} is not available "
                f"here: cannot read {part!r}"))
        return previous.reference

    def _unknown_field(self, entity: str, part: str, index: int,
                       found: tuple[str, ...] | None) -> Unresolved:
        where = entity_text(self.entities.get(entity), entity)
        if found:
            codes = "、".join(found)
            return Unresolved("unknown_name", index, Text(
                f"“{part}”是{where.zh}中多个字段的名称（{codes}），请改用字段编码",
                f"{part!r} is the label of several fields of {where.en} "
                f"({', '.join(found)}); write the field code instead"), tuple(found))
        suggestions = nearest(part, self.field_names(entity))
        hint = did_you_mean(suggestions)
        return Unresolved("unknown_name", index, Text(
            f"{where.zh}没有字段“{part}”{hint.zh}",
            f"{where.en} has no field {part!r}{hint.en}"), suggestions)

    # -- entities ---------------------------------------------------------
    def entity(self, part: str) -> str | tuple[str, ...] | None:
        """The qualified code of the entity named ``part`` (qualified code,
        unique bare code, or label); a tuple of codes when ambiguous."""
        if part in self.entities:
            return part
        found = self._entity_names.get(part)
        if found is None:
            found = self._entity_names[part] = self._scan_entities(part)
        if not found:
            return None
        return found[0] if len(found) == 1 else found

    def _scan_entities(self, part: str) -> tuple[str, ...]:
        if "." not in part:   # a bare code: what follows the qualified code's last dot
            suffix = "." + part
            bare = tuple(code for code in self.entities if code.endswith(suffix))
            if bare:
                return self._at_home(bare)
        return self._at_home(tuple(code for code, info in self.entities.items()
                                   if info.label is not None
                                   and (info.label.zh == part or info.label.en == part)))

    def _at_home(self, codes: tuple[str, ...]) -> tuple[str, ...]:
        """Of several entities, the one of the context's home package (if exactly one)."""
        home = self.context.home
        if len(codes) < 2 or home is None:
            return codes
        own = tuple(code for code in codes if code.startswith(home + ".")
                    and "." not in code[len(home) + 1:])
        return own if len(own) == 1 else codes

    def entity_names(self) -> list[str]:
        """Every name an entity may be written as (for suggestions)."""
        names = list(self.entities)
        for code, info in self.entities.items():
            names.append(code.rsplit(".", 1)[-1])
            if info.label is not None:
                names += [info.label.zh, info.label.en]
        return names

    def qualify(self, parts: Sequence[str]) -> tuple[str, int] | Unresolved | None:
        """The entity a qualified name starts with and the index of its first
        field part (``[a.b].f`` and ``a.b.f`` both name entity ``a.b``; the
        longest qualified code wins); Unresolved when its name is ambiguous;
        None when the name does not start with an entity."""
        found = self.entity(parts[0])
        if isinstance(found, tuple):
            return Unresolved("unknown_name", 0, Text(
                f"“{parts[0]}”是多个实体的名称（{'、'.join(found)}），请改用实体的完整编码",
                f"{parts[0]!r} names several entities ({', '.join(found)}); "
                f"write the qualified entity code instead"), found)
        if found is not None:
            return found, 1
        for end in range(len(parts), 1, -1):   # unbracketed: materials.requisition.amount
            code = ".".join(parts[:end])
            if code in self.entities:
                return code, end
        return None

    # -- names in a scope -------------------------------------------------
    def resolve(self, scope: Scope, parts: Sequence[str],
                shown: Callable[[], str]) -> Resolved | Unresolved:
        """Resolve a name in ``scope`` (``shown()`` gives its source text for
        messages): ``("row", entity)`` —
        a field path of the current record; ``("inner", entity)`` — a field
        path of the aggregated entity (in an aggregate's condition);
        ``("outer", None)`` — outside any aggregate in aggregate mode, where
        no name is a value by itself (always Unresolved)."""
        return _SCOPE_RULES[scope[0]](self, scope[1], parts, shown)

    def _in_row(self, entity: str | None, parts: Sequence[str],
                shown: Callable[[], str]) -> Resolved | Unresolved:
        if entity is None:
            return Unresolved("unknown_name", 0, Text(
                f"此处没有可用的字段，无法识别“{parts[0]}”",
                f"no fields are available here: {parts[0]!r} is unknown"))
        return self.path(entity, parts, 0)

    def _in_condition(self, entity: str | None, parts: Sequence[str],
                      shown: Callable[[], str]) -> Resolved | Unresolved:
        assert entity is not None
        first = 0
        if self.field(entity, parts[0]) is None:
            qualified = self.qualify(parts)
            if isinstance(qualified, tuple):
                other, first = qualified
                if other != entity:
                    text = shown()
                    this, that = (entity_text(self.entities.get(e), e) for e in (entity, other))
                    return Unresolved("context", None, Text(
                        f"{text}：汇总{this.zh}时，条件只能读取{this.zh}的字段，不能读取{that.zh}",
                        f"{text}: the condition of an aggregate over {this.en} can only read "
                        f"fields of {this.en}, not of {that.en}"))
                if first == len(parts):
                    return _entity_as_value(shown())
        return self.path(entity, parts, first)

    def _outside(self, _none: str | None, parts: Sequence[str],
                 shown: Callable[[], str]) -> Unresolved:
        text = shown()
        qualified = self.aggregated(parts, text)
        if isinstance(qualified, Unresolved):
            return qualified
        entity, first = qualified
        if first == len(parts):
            return _entity_as_value(text)
        resolved = self.path(entity, parts, first)
        if isinstance(resolved, Unresolved):
            return resolved
        return Unresolved("context", None, Text(
            f"{text} 是明细字段，在汇总公式中须放在汇总函数（SUM、AVG、MIN、MAX、COUNT 等）里",
            f"{text} is a field of individual records: in an aggregate formula wrap it in an "
            f"aggregate (SUM, AVG, MIN, MAX, COUNT …)"))

    def aggregated(self, parts: Sequence[str], text: str) -> tuple[str, int] | Unresolved:
        """The entity a name in aggregate mode starts with, and the index of
        its first field part; Unresolved when the name is not qualified."""
        qualified = self.qualify(parts)
        if qualified is not None:
            return qualified
        owners = self.owners(parts[0])
        if owners:
            example = f"{owners[0]}.{text}"
            return Unresolved("context", None, Text(
                f"汇总公式中的名称须以实体限定：{text} 应写作例如 {example}（并放在汇总函数中）",
                f"names in aggregate formulas are qualified by their entity: write {text} "
                f"as e.g. {example} (inside an aggregate)"))
        suggestions = nearest(parts[0], self.entity_names())
        hint = did_you_mean(suggestions)
        return Unresolved("unknown_name", 0, Text(
            f"没有名为“{parts[0]}”的实体（汇总公式中的名称写作 实体.字段）{hint.zh}",
            f"there is no entity {parts[0]!r} (aggregate formulas name entity.field){hint.en}"),
            suggestions)

    # -- indicators -------------------------------------------------------
    def indicator(self, name: str) -> str | Unresolved:
        """The code of the indicator written ``@name`` (code or label)."""
        indicators = self.context.indicators
        if name in indicators:
            return name
        if self._indicator_labels is None:
            self._indicator_labels = _label_index(indicators, lambda label: label)
        codes = self._indicator_labels.get(name, ())
        if len(codes) == 1:
            return codes[0]
        if codes:
            return Unresolved("unknown_name", None, Text(
                f"“{name}”是多个指标的名称（{'、'.join(codes)}），请改用指标编码",
                f"{name!r} names several indicators ({', '.join(codes)}); write the code instead"),
                codes)
        suggestions = nearest(name, [*indicators, *self._indicator_labels])
        hint = did_you_mean(suggestions)
        return Unresolved("unknown_name", None, Text(
            f"没有指标“{name}”{hint.zh}", f"there is no indicator {name!r}{hint.en}"), suggestions)


_SCOPE_RULES = {"row": Names._in_row, "inner": Names._in_condition, "outer": Names._outside}
