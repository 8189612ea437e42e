"""The list page's query string and its filter bar (runtime layer, staff UI;
pure: no Flask, no database).

A list page speaks a query string made for people and forms::

    f.urgency=urgent                 an enum / boolean / lookup field equals
    f.urgency=urgent&f.urgency=high  … one of several (``in``)
    f.reason=pump                    a text field contains (case-insensitive)
    f.total_amount.from=100          number range, inclusive (``ge`` / ``le``)
    f.request_date.from=2026-01-01&f.request_date.to=2026-01-31   date range
                                     (of a datetime field: whole days of the display zone)
    q=search text   sort=-request_date,number   page=2   page_size=50
    columns=number,urgency           (or repeated: the column chooser's checkboxes)

:func:`parse_page_query` checks the names (an unknown or unreadable field is an
:class:`InvalidQuery` naming the parameter) and translates the values into
the record API's list arguments (``filter=<field>:<op>:<value>``, ``sort``,
``page``, ``page_size``, ``search``), which ``RecordService.query`` then
reads with the field types — values are checked there, once, for the API and
the UI alike. :func:`error_target` tells which control of the page an
InvalidQuery from either place belongs to, so the page can show it there.
:func:`filter_bar` builds the controls of the bar, one per filter of the
list view (and one per other field the query filters by), by field type.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from types import MappingProxyType
from typing import Any, Callable, Iterable, Mapping

from yunying.metadata.spec import DictionarySpec, EntitySpec, FieldSpec
from yunying.metadata.views import ListViewSpec
from yunying.platform.errors import InvalidQuery
from yunying.platform.i18n import Text

__all__ = ["PageQuery", "FilterControl", "FilterInput", "Option", "CONTROLS",
           "PAGE_PARAMETERS", "parse_page_query", "filter_bar", "error_target",
           "filterable", "page_params"]

#: the page's own parameters besides the ``f.<field>`` filters (``lang`` is
#: the language switch, read by the request context).
PAGE_PARAMETERS = ("q", "sort", "page", "page_size", "columns", "lang")
_SINGLE = ("q", "sort", "page", "page_size")
_PREFIX = "f."
_SHOWN = 50           # characters of a hostile name quoted in a message


@dataclass(frozen=True)
class _Control:
    """How one field type is filtered: the control, its bounds (``""`` for a
    single value, ``from`` / ``to`` for a range) and whether it takes several
    values."""

    name: str
    bounds: tuple[str, ...]
    several: bool = False


_ONE = ("",)
_RANGE = ("from", "to")

#: the filter control of each value type (types not listed cannot be filtered).
CONTROLS: Mapping[str, _Control] = MappingProxyType({
    "string": _Control("text", _ONE), "text": _Control("text", _ONE),
    "integer": _Control("number", _RANGE), "decimal": _Control("number", _RANGE),
    "money": _Control("number", _RANGE),
    "date": _Control("date", _RANGE), "datetime": _Control("datetime", _RANGE),
    "enum": _Control("select", _ONE, several=True),
    "boolean": _Control("boolean", _ONE),
    "reference": _Control("lookup", _ONE, several=True),
    "user": _Control("lookup", _ONE, several=True),
    "org_unit": _Control("lookup", _ONE, several=True),
})


@dataclass(frozen=True)
class PageQuery:
    """A list page's query string, checked and translated.

    ``filters`` maps each filtered field to its given values per bound
    (``{"request_date": {"from": ("2026-01-01",)}}``); ``columns`` is empty
    when the page shows the list view's columns; ``args`` are the record
    API's list arguments, ready for ``RecordService.query``."""

    filters: Mapping[str, Mapping[str, tuple[str, ...]]]
    search: str
    sort: tuple[str, ...]
    columns: tuple[str, ...]
    args: Mapping[str, list[str]]


@dataclass(frozen=True)
class Option:
    """One choice of a select: the value sent and its label."""

    value: str
    label: Text | str
    selected: bool = False


@dataclass(frozen=True)
class FilterInput:
    """One input of a control: its parameter name, current value and bound."""

    name: str
    value: str
    bound: str = ""


@dataclass(frozen=True)
class FilterControl:
    """One control of the filter bar. ``control`` is one of ``text number
    date datetime select boolean lookup``; ``options`` are a select's
    choices (for a lookup: the current values with their display text);
    ``lookup_url`` is where a lookup searches (``?q=``)."""

    field: str
    control: str
    label: Text
    inputs: tuple[FilterInput, ...]
    options: tuple[Option, ...] = ()
    lookup_url: str | None = None

    @property
    def active(self) -> bool:
        return any(i.value for i in self.inputs) or any(o.selected for o in self.options)


# -- the query string ----------------------------------------------------------------

def filterable(spec: EntitySpec, readable: frozenset[str] | None = None) -> dict[str, FieldSpec]:
    """The main fields of ``spec`` a list page can filter by (for the caller
    who may read ``readable``; None: every field)."""
    return {f.code: f for f in spec.fields
            if f.value_type in CONTROLS and (readable is None or f.code in readable)}


def parse_page_query(spec: EntitySpec, view: ListViewSpec, params: Mapping[str, Any], *,
                     readable: frozenset[str] | None = None,
                     zone: tzinfo = timezone.utc) -> PageQuery:
    """Check a list page's parameters (values as lists, like
    ``request.args.to_dict(flat=False)``) and translate them.

    ``readable`` are the main fields the caller may read (None: all); any
    other field is refused exactly like one that does not exist. ``zone``
    is the one dates of datetime ranges are meant in (the display zone).
    Raises InvalidQuery naming the parameter."""
    fields = filterable(spec, readable)
    filters = _filters(params, fields)
    single = {name: _texts(name, params[name])[0].strip()
              for name in _SINGLE if params.get(name)}
    sort = tuple(s.strip() for s in single.get("sort", "").split(",") if s.strip()) \
        or tuple(view.sort)
    args: dict[str, list[str]] = {}
    conditions = [condition for code, bounds in filters.items()
                  for bound, values in bounds.items()
                  for condition in _conditions(fields[code], bound, values, zone)]
    if conditions:
        args["filter"] = conditions
    if sort:
        args["sort"] = [",".join(sort)]
    for name, api in (("page", "page"), ("page_size", "page_size"), ("q", "search")):
        if single.get(name):
            args[api] = [single[name]]
    args.setdefault("page_size", [str(view.page_size)])
    return PageQuery(filters=MappingProxyType({k: MappingProxyType(v)
                                               for k, v in filters.items()}),
                     search=single.get("q", ""), sort=sort,
                     columns=_columns(spec, params.get("columns"), readable),
                     args=MappingProxyType(args))


def _filters(params: Mapping[str, Any],
             fields: Mapping[str, FieldSpec]) -> dict[str, dict[str, tuple[str, ...]]]:
    """The non-blank filter values per field and bound; every other
    parameter checked (known, given once when it must be)."""
    filters: dict[str, dict[str, tuple[str, ...]]] = {}
    for name, raw in params.items():
        values = _texts(name, raw)
        if name.startswith(_PREFIX):
            field, bound = _filter_name(name, fields)
            kept = tuple(v for v in values if v.strip())
            if len(kept) > 1 and not CONTROLS[field.value_type].several:
                raise _invalid(name, values, Text(f"参数 {_short(name)} 只能给一次",
                                                  f"parameter {_short(name)} may be given once"))
            if kept:
                filters.setdefault(field.code, {})[bound] = kept
        elif name not in PAGE_PARAMETERS:
            raise _invalid(name, values, Text(
                f"未知的参数 {_short(name)}（可用：f.<字段>、{'、'.join(PAGE_PARAMETERS)}）",
                f"unknown parameter {_short(name)} (known: f.<field>, "
                f"{', '.join(PAGE_PARAMETERS)})"))
        elif name in _SINGLE and len(values) > 1:
            raise _invalid(name, values, Text(f"参数 {name} 只能给一次",
                                              f"parameter {name} may be given only once"))
    return filters


def _texts(name: Any, raw: Any) -> list[str]:
    values = [raw] if isinstance(raw, str) else list(raw or ())
    if not isinstance(name, str) or not all(isinstance(v, str) for v in values):
        raise _invalid(str(name), values, Text("参数值必须是文本", "parameter values must be text"))
    return values or [""]


def _filter_name(name: str, fields: Mapping[str, FieldSpec]) -> tuple[FieldSpec, str]:
    """The field and bound a ``f.<field>[.from|.to]`` parameter names."""
    code, _, bound = name[len(_PREFIX):].partition(".")
    field = fields.get(code)
    if field is None:
        raise _invalid(name, None, Text(f"没有可过滤的字段 {_short(code)}",
                                        f"there is no field {_short(code)} to filter by"))
    control = CONTROLS[field.value_type]
    if bound not in control.bounds:
        wanted = "、".join(f"f.{code}.{b}" if b else f"f.{code}" for b in control.bounds)
        raise _invalid(name, None, Text(f"字段 {code} 的过滤参数应写作 {wanted}",
                                        f"filter parameters of field {code}: "
                                        f"{wanted.replace('、', ', ')}"))
    return field, bound


def _columns(spec: EntitySpec, raw: Any, readable: frozenset[str] | None) -> tuple[str, ...]:
    if not raw:
        return ()
    names = [part.strip() for value in _texts("columns", raw) for part in value.split(",")]
    chosen: list[str] = []
    for name in filter(None, names):
        field = spec.field(name)
        if field is None or (readable is not None and name not in readable):
            raise _invalid("columns", raw, Text(f"没有可显示的字段 {_short(name)}",
                                                f"there is no field {_short(name)} to show"))
        if name not in chosen:
            chosen.append(name)
    return tuple(chosen)


def _conditions(field: FieldSpec, bound: str, values: tuple[str, ...],
                zone: tzinfo) -> list[str]:
    """The record API's ``filter`` arguments for one bound of a field's filter."""
    code, control = field.code, CONTROLS[field.value_type].name
    if control == "text":
        return [f"{code}:contains:{values[0].strip()}"]
    if control == "datetime":
        op = "ge" if bound == "from" else "lt"
        return [f"{code}:{op}:{_day_start(field, bound, values[0], zone)}"]
    if bound in _RANGE:
        return [f"{code}:{'ge' if bound == 'from' else 'le'}:{values[0].strip()}"]
    if len(values) > 1:
        return [f"{code}:in:{','.join(v.strip() for v in values)}"]
    return [f"{code}:eq:{values[0].strip()}"]


def _day_start(field: FieldSpec, bound: str, raw: str, zone: tzinfo) -> str:
    """A datetime range covers whole days of ``zone``: from the start of the
    first day to (before) the start of the day after the last one, as the
    naive UTC moments timestamps are stored in."""
    try:
        day = date.fromisoformat(raw.strip()) + timedelta(days=1 if bound == "to" else 0)
        start = datetime.combine(day, time.min, tzinfo=zone).astimezone(timezone.utc)
    except (ValueError, OverflowError):
        name = f"{_PREFIX}{field.code}.{bound}"
        raise _invalid(name, raw, Text(
            f"{field.label.zh}（{name}）应为日期 YYYY-MM-DD，收到 {_short(raw)!r}",
            f"{field.label.en} ({name}) must be a date YYYY-MM-DD; got {_short(raw)!r}")
        ) from None
    return start.replace(tzinfo=None).isoformat()


def page_params(params: Iterable[tuple[str, str]], *, drop: Iterable[str] = (),
                **changes: str | Iterable[str] | None) -> list[tuple[str, str]]:
    """The pairs of a page's query string with ``drop`` names left out and
    ``changes`` set (a None change removes the name): for links that keep
    the other parameters (sort headers, pager, export)."""
    gone = set(drop) | set(changes)
    pairs = [(k, v) for k, v in params if k not in gone]
    for name, value in changes.items():
        if value is None:
            continue
        pairs.extend((name, v) for v in ([value] if isinstance(value, str) else value))
    return pairs


# -- errors ----------------------------------------------------------------------------

def error_target(error: InvalidQuery) -> str | None:
    """The field (or page parameter ``q``, ``sort``, ``page``, ``page_size``,
    ``columns``) an InvalidQuery of :func:`parse_page_query` or of the record
    service is about, so the page can show it next to that control."""
    details = error.details if isinstance(error.details, Mapping) else {}
    parameter, value = details.get("parameter"), details.get("value")
    if not isinstance(parameter, str):
        return None
    if parameter.startswith(_PREFIX):
        return parameter[len(_PREFIX):].partition(".")[0]
    if parameter == "filter" and isinstance(value, str):
        return value.partition(":")[0]
    return {"search": "q"}.get(parameter, parameter)


def _short(text: str) -> str:
    short = text if len(text) <= _SHOWN else text[:_SHOWN] + "…"
    return short.encode("utf-8", "replace").decode("utf-8")


def _invalid(parameter: str, value: Any, message: Text) -> InvalidQuery:
    if isinstance(value, list):
        value = [_short(v) if isinstance(v, str) else repr(v)[:_SHOWN] for v in value[:10]]
    elif isinstance(value, str):
        value = _short(value)
    return InvalidQuery(message, details={"parameter": _short(parameter), "value": value})


# -- the filter bar ----------------------------------------------------------------------

#: a lookup's search URL for a field (reference / user / org_unit).
LookupUrl = Callable[[FieldSpec], str]
#: the display text of a lookup's current raw value.
Describe = Callable[[FieldSpec, str], str]


def filter_bar(spec: EntitySpec, view: ListViewSpec, params: Mapping[str, Any], *,
               dictionaries: Mapping[str, DictionarySpec], lookup_url: LookupUrl,
               describe: Describe = lambda field, value: value,
               readable: frozenset[str] | None = None) -> tuple[FilterControl, ...]:
    """The controls of the filter bar with the values of the page's
    parameters ``params`` (as given, so a refused query is shown as typed):
    the list view's filters the caller may read, then any other field the
    parameters filter by."""
    fields = filterable(spec, readable)
    codes = [c for c in view.filters if c in fields]
    for name in params:
        code = str(name)[len(_PREFIX):].partition(".")[0] if str(name).startswith(_PREFIX) else ""
        if code in fields and code not in codes:
            codes.append(code)
    given = _Given(params)
    return tuple(_BUILDERS[CONTROLS[fields[c].value_type].name](
        fields[c], given, dictionaries, lookup_url, describe) for c in codes)


class _Given:
    """The non-blank values of a page's filter parameters."""

    def __init__(self, params: Mapping[str, Any]) -> None:
        self._params = params

    def values(self, field: str, bound: str = "") -> tuple[str, ...]:
        name = f"{_PREFIX}{field}.{bound}" if bound else f"{_PREFIX}{field}"
        raw = self._params.get(name, ())
        values = [raw] if isinstance(raw, str) else list(raw)
        return tuple(v for v in values if isinstance(v, str) and v.strip())

    def value(self, field: str, bound: str = "") -> str:
        values = self.values(field, bound)
        return values[0] if values else ""


def _inputs(field: FieldSpec, given: _Given) -> tuple[FilterInput, ...]:
    return tuple(FilterInput(f"{_PREFIX}{field.code}.{b}" if b else f"{_PREFIX}{field.code}",
                             given.value(field.code, b), b)
                 for b in CONTROLS[field.value_type].bounds)


def _plain(field, given, dictionaries, lookup_url, describe) -> FilterControl:
    return FilterControl(field.code, CONTROLS[field.value_type].name, field.label,
                         _inputs(field, given))


def _select(field, given, dictionaries, lookup_url, describe) -> FilterControl:
    chosen = given.values(field.code)
    spec = dictionaries.get(field.dictionary or "")
    items = sorted(spec.items, key=lambda i: (i.sort, i.code)) if spec is not None else []
    options = [Option(i.code, i.label, i.code in chosen) for i in items
               if i.active or i.code in chosen]
    known = {o.value for o in options}
    options += [Option(v, v, True) for v in chosen if v not in known]
    return FilterControl(field.code, "select", field.label, _inputs(field, given),
                         tuple(options))


def _boolean(field, given, dictionaries, lookup_url, describe) -> FilterControl:
    chosen = given.value(field.code)
    options = (Option("true", Text("是", "Yes"), chosen == "true"),
               Option("false", Text("否", "No"), chosen == "false"))
    return FilterControl(field.code, "boolean", field.label, _inputs(field, given), options)


def _lookup(field, given, dictionaries, lookup_url, describe) -> FilterControl:
    options = tuple(Option(v, describe(field, v), True) for v in given.values(field.code))
    return FilterControl(field.code, "lookup", field.label, _inputs(field, given), options,
                         lookup_url=lookup_url(field))


_BUILDERS: Mapping[str, Callable[..., FilterControl]] = MappingProxyType({
    "text": _plain, "number": _plain, "date": _plain, "datetime": _plain,
    "select": _select, "boolean": _boolean, "lookup": _lookup,
})
