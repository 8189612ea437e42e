"""List queries: parsing request parameters and compiling them to SQL (runtime layer).

``ListQuery.from_args`` checks every parameter against the entity spec and
converts every value with its field's type *before* any SQL exists; anything
unknown, ill-typed or out of range raises :class:`InvalidQuery` naming the
parameter and value. ``compile_list`` then builds the two statements of a
list call — ``COUNT`` and the page — with every value bound as a parameter.

Parameters (values as lists, like ``MultiDict.to_dict(flat=False)``)::

    filter=<field>:<op>:<value>   repeatable, combined with AND
    sort=-request_date,number     fields or id/version/created_at/updated_at
    page=1  page_size=20          page ≥ 1, page_size 1..200
    search=<text>                 case-insensitive contains over search_fields

``contains`` and ``startswith`` are case-insensitive, with ``%`` and ``_``
taken literally; ``ne`` also matches empty (NULL) values; ``isnull`` takes
true/false; ``in`` and ``between`` take comma-separated values. Rows are
ordered by the given sort, then by id, with empty values last.

Fields hidden from the caller (field permissions) are treated as if they did
not exist: filtering or sorting by one gives exactly the error an unknown
field gives, a default sort skips it and search leaves it out — a filter
cannot probe a value the caller may not see (``hidden`` of ``from_args``,
:func:`hide_fields`). ``compile_list`` adds the caller's data scope (``where``)
to both statements, so the total never counts a record out of scope.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any, Callable, Iterable, Mapping

from sqlalchemy import ColumnElement, Select, String, Table, and_, cast, or_

from yunying.metadata.spec import EntitySpec
from yunying.platform.errors import InvalidQuery
from yunying.platform.i18n import Text

__all__ = ["ListQuery", "Filter", "Page", "compile_list", "hide_fields", "PARAMETERS",
           "OPERATORS", "MAX_PAGE_SIZE", "DEFAULT_PAGE_SIZE"]

PARAMETERS = ("filter", "sort", "page", "page_size", "search")
OPERATORS = ("eq", "ne", "lt", "le", "gt", "ge", "in", "contains", "startswith",
             "between", "isnull")
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 200
_MAX_PAGE = 10_000_000
_MAX_VALUE = 4000      # characters of one filter or search value
_MAX_IN = 1000         # items of an ``in`` list
_INT64 = 2 ** 63 - 1
_TOO_LONG = Text(f"过滤条件过长（值最多 {_MAX_VALUE} 个字符）",
                 f"filter too long (values up to {_MAX_VALUE} characters)")

_ORDERED = frozenset({"eq", "ne", "lt", "le", "gt", "ge", "in", "between", "isnull"})
_TEXT = _ORDERED | {"contains", "startswith"}
_IDENTITY = frozenset({"eq", "ne", "in", "isnull"})

#: per field type: how a filter value is read, and which operators apply.
_KINDS: Mapping[str, tuple[str, frozenset[str]]] = MappingProxyType({
    "string": ("text", _TEXT), "text": ("text", _TEXT), "enum": ("text", _TEXT),
    "user": ("text", _TEXT), "org_unit": ("text", _TEXT),
    "integer": ("integer", _ORDERED), "decimal": ("decimal", _ORDERED),
    "money": ("decimal", _ORDERED), "date": ("date", _ORDERED),
    "datetime": ("datetime", _ORDERED), "boolean": ("boolean", frozenset({"eq", "ne", "isnull"})),
    "reference": ("integer", _IDENTITY), "attachment": ("integer", _IDENTITY),
})

#: system columns usable in filters and sort, with their field type.
_SYSTEM: Mapping[str, str] = MappingProxyType({
    "id": "integer", "version": "integer", "created_at": "datetime",
    "updated_at": "datetime", "created_by": "user", "updated_by": "user",
})
_NOT_NULL = frozenset({"id", "version", "created_at", "updated_at"})


def _text(raw: str) -> str:
    if "\x00" in raw or not _encodable(raw):
        raise ValueError(raw)
    return raw


def _encodable(raw: str) -> bool:
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _integer(raw: str) -> int:
    if not re.fullmatch(r"[+-]?[0-9]{1,19}", raw.strip()):
        raise ValueError(raw)
    value = int(raw)
    if abs(value) > _INT64:
        raise ValueError(raw)
    return value


def _decimal(raw: str) -> Decimal:
    try:
        value = Decimal(raw.strip())
    except InvalidOperation:
        raise ValueError(raw) from None
    if not value.is_finite() or value.adjusted() > 37:
        raise ValueError(raw)
    return value


def _date(raw: str) -> date:
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", raw.strip()):
        raise ValueError(raw)
    return date.fromisoformat(raw.strip())


def _datetime(raw: str) -> datetime:
    value = datetime.fromisoformat(raw.strip())
    if value.tzinfo is not None:
        try:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        except OverflowError:  # year 1 minus an offset
            raise ValueError(raw) from None
    return value


def _boolean(raw: str) -> bool:
    value = {"true": True, "1": True, "false": False, "0": False}.get(raw.strip().lower())
    if value is None:
        raise ValueError(raw)
    return value


_READERS: Mapping[str, Callable[[str], Any]] = MappingProxyType({
    "text": _text, "integer": _integer, "decimal": _decimal, "date": _date,
    "datetime": _datetime, "boolean": _boolean,
})


@dataclass(frozen=True)
class Filter:
    """One condition: ``value`` is typed (a tuple for ``in`` and ``between``)."""

    field: str
    op: str
    value: Any


@dataclass(frozen=True)
class Page:
    """One page of a list: rows of the main table only (no child lines)."""

    items: list[dict]
    total: int
    page: int
    page_size: int


@dataclass(frozen=True)
class ListQuery:
    """A validated list request for one entity."""

    entity: str
    filters: tuple[Filter, ...] = ()
    sort: tuple[tuple[str, bool], ...] = ()   # (column, descending)
    page: int = 1
    page_size: int = DEFAULT_PAGE_SIZE
    search: str | None = None

    @classmethod
    def from_args(cls, spec: EntitySpec, args: Mapping[str, list[str]], *,
                  hidden: frozenset[str] = frozenset()) -> "ListQuery":
        """Parse request parameters; raises InvalidQuery on the first bad one.

        ``hidden`` fields are treated as if the entity had no such field.
        """
        for name, values in args.items():
            if name not in PARAMETERS:
                shown = _short(str(name))
                raise _invalid(shown, values, Text(
                    f"未知的查询参数 {shown}（可用：{'、'.join(PARAMETERS)}）",
                    f"unknown query parameter {shown} (known: {', '.join(PARAMETERS)})"))
        kinds = _field_kinds(spec, hidden)
        filters = tuple(_filter(raw, kinds) for raw in _values(args, "filter"))
        sort_args = [part for raw in _values(args, "sort") for part in raw.split(",")]
        sort = _sort(sort_args or _default_sort(spec, hidden), kinds)
        search = _single(args, "search")
        if search is not None:
            _check_search(spec, search, hidden)
        return cls(
            entity=spec.qualified_code, filters=filters, sort=sort,
            page=_number(args, "page", 1, _MAX_PAGE, 1),
            page_size=_number(args, "page_size", 1, MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE),
            search=search or None,
        )


def _field_kinds(spec: EntitySpec, hidden: frozenset[str] = frozenset()) -> dict[str, str]:
    kinds = dict(_SYSTEM)
    kinds.update({f.code: f.value_type for f in spec.fields
                  if f.value_type in _KINDS and f.code not in hidden})
    return kinds


def _default_sort(spec: EntitySpec, hidden: frozenset[str]) -> list[str]:
    return [item for item in spec.default_sort if item.strip().lstrip("+-") not in hidden]


def hide_fields(query: ListQuery, spec: EntitySpec, hidden: frozenset[str]) -> ListQuery:
    """``query`` for a caller who may not see ``hidden``: InvalidQuery, worded as
    for an unknown field, when a filter or sort names one (a default sort just
    skips it); search leaves hidden fields out."""
    if not hidden:
        return query
    for f in query.filters:
        if f.field in hidden:
            raise _no_field(f.field, "filter", f"{f.field}:{f.op}:")
    sort = query.sort
    if any(name in hidden for name, _ in sort):
        default = _sort(list(spec.default_sort), _field_kinds(spec))
        if sort != default:
            name, descending = next(item for item in sort if item[0] in hidden)
            raise _no_sort(name, f"-{name}" if descending else name)
        sort = tuple(item for item in sort if item[0] not in hidden)
    if query.search:
        _check_search(spec, query.search, hidden)
    return replace(query, sort=sort)


def _values(args: Mapping[str, list[str]], name: str) -> list[str]:
    raw = args.get(name, [])
    values = [raw] if isinstance(raw, str) else list(raw)
    for value in values:
        if not isinstance(value, str):
            raise _invalid(name, value, Text(f"参数 {name} 的值必须是文本",
                                             f"parameter {name} must be text"))
    return values


def _single(args: Mapping[str, list[str]], name: str) -> str | None:
    values = _values(args, name)
    if len(values) > 1:
        raise _invalid(name, values, Text(f"参数 {name} 只能给一次",
                                          f"parameter {name} may be given only once"))
    return values[0] if values else None


def _number(args, name: str, low: int, high: int, default: int) -> int:
    raw = _single(args, name)
    if raw is None:
        return default
    # str.strip() removes more than int() accepts (e.g. \x1f): parse the stripped text
    digits = raw.strip()
    if re.fullmatch(r"[0-9]{1,9}", digits) and low <= int(digits) <= high:
        return int(digits)
    raise _invalid(name, raw, Text(f"参数 {name} 应为 {low} 到 {high} 之间的整数",
                                   f"parameter {name} must be a whole number from {low} to {high}"))


def _filter(raw: str, kinds: Mapping[str, str]) -> Filter:
    if len(raw) > _MAX_VALUE + 100:
        raise _invalid("filter", raw, _TOO_LONG)
    parts = raw.split(":", 2)
    if len(parts) != 3:
        raise _invalid("filter", raw, Text("过滤条件应写作 字段:运算符:值",
                                           "a filter must look like field:op:value"))
    name, op, value = parts
    kind = _field_kind(name, kinds, "filter", raw)
    reader, ops = _KINDS[kind]
    if op not in OPERATORS:
        shown = _short(op)
        raise _invalid("filter", raw, Text(
            f"未知的运算符 {shown}（可用：{'、'.join(OPERATORS)}）",
            f"unknown operator {shown} (known: {', '.join(OPERATORS)})"))
    if op not in ops:
        raise _invalid("filter", raw, Text(f"字段 {name} 不支持运算符 {op}",
                                           f"operator {op} does not apply to field {name}"))
    if len(value) > _MAX_VALUE:
        raise _invalid("filter", raw, _TOO_LONG)
    try:
        return Filter(name, op, _typed(op, value, _READERS[reader]))
    except ValueError:
        shown = _short(value)
        message = Text(f"字段 {name} 的过滤值 {shown!r} 无法识别",
                       f"cannot read {shown!r} as a value of field {name}")
        raise _invalid("filter", raw, message) from None


def _typed(op: str, value: str, read: Callable[[str], Any]) -> Any:
    if op == "isnull":
        return _boolean(value)
    if op in ("in", "between"):
        items = value.split(",")
        if (op == "between" and len(items) != 2) or len(items) > _MAX_IN:
            raise ValueError(value)
        return tuple(read(item) for item in items)
    return read(value)


def _field_kind(name: str, kinds: Mapping[str, str], parameter: str, raw: str) -> str:
    field_type = kinds.get(name)
    if field_type is None:
        raise _no_field(name, parameter, raw)
    return field_type


def _no_field(name: str, parameter: str, raw: str) -> InvalidQuery:
    shown = _short(name)
    return _invalid(parameter, raw, Text(f"没有名为 {shown} 的字段", f"there is no field {shown}"))


def _no_sort(name: str, item: str) -> InvalidQuery:
    shown = _short(name)
    return _invalid("sort", item, Text(f"不能按 {shown or '（空）'} 排序",
                                       f"cannot sort by {shown or '(empty)'}"))


def _sort(items: Iterable[str], kinds: Mapping[str, str]) -> tuple[tuple[str, bool], ...]:
    sort = []
    for item in items:
        name = item.strip()
        descending = name.startswith("-")
        name = name.lstrip("-") if descending else name.lstrip("+")
        if name not in kinds:
            raise _no_sort(name, item)
        sort.append((name, descending))
    return tuple(sort)


def _check_search(spec: EntitySpec, search: str, hidden: frozenset[str] = frozenset()) -> None:
    if "\x00" in search or len(search) > _MAX_VALUE or not _encodable(search):
        raise _invalid("search", search, Text("搜索文本无效（过长或含 NUL 字符）",
                                              "invalid search text (too long or contains NUL)"))
    if search and not [f for f in spec.search_fields if f not in hidden]:
        raise _invalid("search", search, Text(f"{spec.label.zh} 不支持搜索",
                                              f"{spec.label.en} has no search fields"))


def _short(text: str, limit: int = 50) -> str:
    """What of a hostile name or value goes into a message: short and encodable."""
    short = text if len(text) <= limit else text[:limit] + "…"
    return short.encode("utf-8", "replace").decode("utf-8")


def _invalid(parameter: str, value: Any, message: Text) -> InvalidQuery:
    if isinstance(value, str):
        value = _short(value, 200)
    elif isinstance(value, list):
        value = [_short(v, 200) if isinstance(v, str) else repr(v)[:200] for v in value[:10]]
    else:
        value = repr(value)[:200]
    return InvalidQuery(message, details={"parameter": parameter, "value": value})


# -- compiling -----------------------------------------------------------------

_CONDITIONS: Mapping[str, Callable[[Any, Any], ColumnElement]] = MappingProxyType({
    "eq": lambda c, v: c == v,
    "ne": lambda c, v: or_(c != v, c.is_(None)),
    "lt": lambda c, v: c < v,
    "le": lambda c, v: c <= v,
    "gt": lambda c, v: c > v,
    "ge": lambda c, v: c >= v,
    "in": lambda c, v: c.in_(v),
    "contains": lambda c, v: c.icontains(v, autoescape=True),
    "startswith": lambda c, v: c.istartswith(v, autoescape=True),
    "between": lambda c, v: c.between(v[0], v[1]),
    "isnull": lambda c, v: c.is_(None) if v else c.is_not(None),
})


def compile_list(query: ListQuery, spec: EntitySpec, table: Table, listing: Select,
                 count: Select, *, scope: ColumnElement | None = None,
                 hidden: frozenset[str] = frozenset()) -> tuple[Select, Select]:
    """The ``COUNT`` and page statements of ``query``, from the table's base
    ``listing`` (its columns) and ``count`` (``COUNT(*)``) statements.

    ``scope`` (the caller's data scope) restricts both; search skips ``hidden``.
    """
    where = [_CONDITIONS[f.op](table.c[f.field], f.value) for f in query.filters]
    if scope is not None:
        where.append(scope)
    searched = [name for name in spec.search_fields if name not in hidden]
    if query.search and searched:
        where.append(or_(*(_searchable(table, spec, name).icontains(
            query.search, autoescape=True) for name in searched)))
    condition = and_(*where) if where else None
    page = listing
    if condition is not None:
        count, page = count.where(condition), page.where(condition)
    order = [_order(table.c[name], descending, name) for name, descending in query.sort]
    if not any(name == "id" for name, _ in query.sort):
        order.append(table.c.id.desc() if query.sort and query.sort[-1][1] else table.c.id)
    page = page.order_by(*order).limit(query.page_size).offset(
        (query.page - 1) * query.page_size)
    return count, page


def _searchable(table: Table, spec: EntitySpec, name: str):
    field = spec.field(name)
    column = table.c[name]
    if field is not None and _KINDS.get(field.value_type, ("",))[0] == "text":
        return column
    return cast(column, String)


def _order(column, descending: bool, name: str):
    ordered = column.desc() if descending else column.asc()
    # NULLs last in both directions, the same on SQLite and PostgreSQL
    return ordered if name in _NOT_NULL or not column.nullable else ordered.nulls_last()
