"""Formula syntax tree: frozen nodes with source positions (runtime layer).

The parser (:mod:`.parser`) builds these; the checker, the Python evaluator
and the SQL compiler walk them. Nodes compare by identity (``eq=False``) so a
checked formula can map each node to its type. Operators are normalised:
``==`` is ``=``, ``<>`` is ``!=``, keywords are upper case, function names
upper case; ``5%`` is the number ``0.05`` with ``percent=True``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Iterator, Union

__all__ = [
    "Span", "Node", "Number", "String", "Boolean", "Null", "Name", "Indicator",
    "Unary", "Binary", "In", "Between", "IsNull", "Call", "children", "dump",
    "BINARY_OPERATORS", "COMPARISONS",
]

#: binary operators as they appear in :class:`Binary` after normalisation.
COMPARISONS = ("=", "!=", "<", "<=", ">", ">=")
BINARY_OPERATORS = ("OR", "AND", *COMPARISONS, "&", "+", "-", "*", "/", "^")


@dataclass(frozen=True, slots=True)
class Span:
    """Where a node is in the source: 1-based line and column, ``end_column``
    exclusive (on ``end_line``); ``start``/``end`` are character offsets."""

    line: int
    column: int
    end_line: int
    end_column: int
    start: int
    end: int

    def cover(self, other: "Span") -> "Span":
        """The span from the start of ``self`` to the end of ``other``."""
        return Span(self.line, self.column, other.end_line, other.end_column,
                    self.start, other.end)

    def as_dict(self) -> dict[str, int]:
        return {"line": self.line, "column": self.column, "end_line": self.end_line,
                "end_column": self.end_column, "start": self.start, "end": self.end}


@dataclass(frozen=True, slots=True, eq=False)
class Number:
    value: Decimal
    span: Span
    percent: bool = False


@dataclass(frozen=True, slots=True, eq=False)
class String:
    value: str
    span: Span


@dataclass(frozen=True, slots=True, eq=False)
class Boolean:
    value: bool
    span: Span


@dataclass(frozen=True, slots=True, eq=False)
class Null:
    span: Span


@dataclass(frozen=True, slots=True, eq=False)
class Name:
    """A name or a path ``a.b.c``; bracketed parts are stored without brackets.

    ``spans`` holds one span per part (for locating an unknown part)."""

    parts: tuple[str, ...]
    span: Span
    spans: tuple[Span, ...]

    @property
    def dotted(self) -> str:
        return ".".join(self.parts)


@dataclass(frozen=True, slots=True, eq=False)
class Indicator:
    """``@code`` or ``@[名称]``: another indicator (indicator context only)."""

    code: str
    span: Span


@dataclass(frozen=True, slots=True, eq=False)
class Unary:
    op: str            # "-", "+" or "NOT"
    operand: "Node"
    span: Span


@dataclass(frozen=True, slots=True, eq=False)
class Binary:
    op: str            # one of BINARY_OPERATORS
    left: "Node"
    right: "Node"
    span: Span
    op_span: Span


@dataclass(frozen=True, slots=True, eq=False)
class In:
    operand: "Node"
    items: tuple["Node", ...]
    negated: bool
    span: Span


@dataclass(frozen=True, slots=True, eq=False)
class Between:
    """``operand BETWEEN low AND high``, both ends inclusive."""

    operand: "Node"
    low: "Node"
    high: "Node"
    span: Span


@dataclass(frozen=True, slots=True, eq=False)
class IsNull:
    operand: "Node"
    negated: bool      # IS NOT NULL
    span: Span


@dataclass(frozen=True, slots=True, eq=False)
class Call:
    name: str          # upper case
    args: tuple["Node", ...]
    span: Span
    name_span: Span


Node = Union[Number, String, Boolean, Null, Name, Indicator, Unary, Binary, In,
             Between, IsNull, Call]


def children(node: Node) -> Iterator[Node]:
    """The direct sub-expressions of ``node``, in source order."""
    if isinstance(node, Unary):
        yield node.operand
    elif isinstance(node, Binary):
        yield node.left
        yield node.right
    elif isinstance(node, In):
        yield node.operand
        yield from node.items
    elif isinstance(node, Between):
        yield node.operand
        yield node.low
        yield node.high
    elif isinstance(node, IsNull):
        yield node.operand
    elif isinstance(node, Call):
        yield from node.args


def dump(node: Node) -> str:
    """A compact, fully parenthesised rendering (for tests and debugging)."""
    if isinstance(node, Number):
        return str(node.value)
    if isinstance(node, String):
        return repr(node.value)
    if isinstance(node, Boolean):
        return "TRUE" if node.value else "FALSE"
    if isinstance(node, Null):
        return "NULL"
    if isinstance(node, Name):
        return ".".join(f"[{p}]" if not p.isidentifier() else p for p in node.parts)
    if isinstance(node, Indicator):
        return f"@[{node.code}]"
    if isinstance(node, Unary):
        return f"({node.op} {dump(node.operand)})"
    if isinstance(node, Binary):
        return f"({dump(node.left)} {node.op} {dump(node.right)})"
    if isinstance(node, In):
        items = ", ".join(dump(i) for i in node.items)
        return f"({dump(node.operand)} {'NOT IN' if node.negated else 'IN'} ({items}))"
    if isinstance(node, Between):
        return f"({dump(node.operand)} BETWEEN {dump(node.low)} AND {dump(node.high)})"
    if isinstance(node, IsNull):
        return f"({dump(node.operand)} IS {'NOT ' if node.negated else ''}NULL)"
    args = ", ".join(dump(a) for a in node.args)
    return f"{node.name}({args})"
