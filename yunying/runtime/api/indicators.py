"""The indicator endpoints of the JSON API (runtime layer, HTTP edge).

``/api/v1/indicators``: the list, one indicator with its versions, a value
computed live for a unit and period (with drill rows: child units, persons
or a dimension's values), a series of totals, the dependency graph, and the
diff of two versions. Every endpoint needs the platform action
``view_indicators`` (403 otherwise; 401 for nobody, by :mod:`.auth`). Query
parameters are checked here before anything is computed: an unknown or
repeated parameter, a malformed period, ``from`` after ``to``, a series
longer than :data:`~.indicator_schemas.MAX_SERIES` periods, an unknown tree,
a bad flag — each a 400 naming the parameter (``details.field``); the engine
refuses a period finer than the indicator's or a drill it does not offer the
same way. An unknown indicator or unit is a 404.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Iterator

from flask import Blueprint
from flask import request
from sqlalchemy import Connection, select

from yunying.metadata.indicators import version_diff
from yunying.platform.errors import InvalidQuery, YunyingError
from yunying.platform.i18n import Text
from yunying.platform.org import OrgNotFound
from yunying.platform.org_admin import CODE_PATTERN
from yunying.platform.tables import org_tree, org_unit, user
from yunying.runtime.access.grants import require_platform
from yunying.runtime.api.context import request_context, services
from yunying.runtime.api.indicator_schemas import (
    INDICATOR_PATHS, INDICATOR_SCHEMAS, MAX_SERIES, computation_dict, diff_dict, graph_dict,
    indicator_detail, indicator_summary, series_dict,
)
from yunying.runtime.formula.indicator_check import indicator_graph
from yunying.runtime.indicators.periods import Period

if TYPE_CHECKING:
    from yunying.metadata.indicators import IndicatorSpec
    from yunying.runtime.container import Runtime
    from yunying.runtime.indicators.compute import Computation

__all__ = ["blueprint", "INDICATOR_PATHS", "INDICATOR_SCHEMAS", "VIEW_INDICATORS",
           "bad_parameter", "drill_names"]

blueprint = Blueprint("indicators", __name__, url_prefix="/api/v1/indicators")

#: the platform action every indicator endpoint needs.
VIEW_INDICATORS = "view_indicators"
_DEFAULT_TREE = "cost"
_FLAGS = {"1": True, "true": True, "0": False, "false": False}
_DIMENSION = "dim:"


# -- reading the request -------------------------------------------------------------------

def bad_parameter(name: str, value: str, why: Text) -> InvalidQuery:
    """A 400 naming the query parameter at fault (``details.field``)."""
    shown = value[:50]
    return InvalidQuery(Text(f"参数 {name} 有误（{shown!r}）：{why.zh}",
                             f"parameter {name} is invalid ({shown!r}): {why.en}"),
                        details={"field": name, "parameter": name, "value": shown})


@contextmanager
def _parameters(args: dict[str, str], period: str = "period") -> Iterator[None]:
    """The engine's refusal of a parameter (``details.field``) worded like ours;
    its ``period`` is the parameter named ``period`` here."""
    try:
        yield
    except InvalidQuery as exc:
        name = exc.details.get("field") if isinstance(exc.details, dict) else None
        name = period if name == "period" else name
        if name not in args:
            raise
        raise bad_parameter(name, args[name], exc.message) from exc


def _missing(name: str, what: Text) -> InvalidQuery:
    return InvalidQuery(Text(f"参数 {name} 为必填项（{what.zh}）",
                             f"the {name} parameter is required ({what.en})"),
                        details={"field": name, "parameter": name})


def _args(*allowed: str) -> dict[str, str]:
    """The query parameters (one value each); unknown or repeated ones are refused."""
    args = request.args.to_dict(flat=False)
    args.pop("lang", None)
    for name, values in sorted(args.items()):
        if name not in allowed:
            raise bad_parameter(name, ",".join(values), Text(
                f"不是可用的参数；可用：{'、'.join(allowed) or '无'}",
                f"not a known parameter; known: {', '.join(allowed) or 'none'}"))
        if len(values) != 1:
            raise bad_parameter(name, ",".join(values), Text("只能给出一次", "give it once"))
    return {name: values[0] for name, values in args.items()}


def _required(args: dict[str, str], name: str, what: Text) -> str:
    value = args.get(name)
    if value is None or value == "":
        raise _missing(name, what)
    return value


def _period(args: dict[str, str], name: str) -> Period:
    """A period code (the engine refuses one finer than the indicator's)."""
    value = _required(args, name, Text("期间，如 2025-03、2025-Q1、2025-H1、2025",
                                       "a period such as 2025-03, 2025-Q1, 2025-H1, 2025"))
    try:
        return Period.parse(value, field=name)
    except YunyingError as exc:
        raise bad_parameter(name, value, exc.message) from None


def _flag(args: dict[str, str], name: str) -> bool:
    value = args.get(name, "0")
    if value.lower() not in _FLAGS:
        raise bad_parameter(name, value, Text("应为 1 或 0（true / false）",
                                              "must be 1 or 0 (true / false)"))
    return _FLAGS[value.lower()]


def _version(args: dict[str, str], name: str, spec: "IndicatorSpec") -> int:
    value = _required(args, name, Text("版本号", "a version number"))
    if value.isascii() and value.isdigit() and len(value) < 10 \
            and spec.version(int(value)) is not None:
        return int(value)
    known = ", ".join(str(v.version) for v in spec.versions)
    raise bad_parameter(name, value, Text(f"不是指标 {spec.qualified_code} 的版本；可用：{known}",
                                          f"not a version of indicator {spec.qualified_code}; "
                                          f"known: {known}"))


# -- looking things up ---------------------------------------------------------------------

def _viewer() -> "Runtime":
    """The runtime, once the caller may view indicators."""
    require_platform(request_context(), VIEW_INDICATORS)
    return services().runtime()


def _check_unit(conn: Connection, code: str) -> None:
    if CODE_PATTERN.fullmatch(code) and conn.execute(
            select(org_unit.c.code).where(org_unit.c.code == code)).first() is not None:
        return
    shown = code[:50]
    raise OrgNotFound(Text(f"组织单元 {shown} 不存在", f"org unit {shown!r} does not exist"),
                      details={"field": "unit", "code": shown})


def _check_tree(conn: Connection, code: str) -> None:
    if CODE_PATTERN.fullmatch(code) and conn.execute(
            select(org_tree.c.code).where(org_tree.c.code == code)).first() is not None:
        return
    raise bad_parameter("tree", code, Text("没有这个组织树", "there is no such org tree"))


def drill_names(conn: Connection, runtime: "Runtime", spec: "IndicatorSpec",
                computation: "Computation") -> dict[str, Text]:
    """Names of the total (its unit) and of the drill rows, by key: units from
    the org tables, persons from the users — each in one query —, a
    dimension's values from the dictionary of an enum field (else the value)."""
    drill, unit = computation.drill, computation.unit
    wanted = {m.key for m in computation.members if m.key}
    units = {unit} | (wanted if drill == "units" else set())
    names = {code: Text(zh, en) for code, zh, en in conn.execute(
        select(org_unit.c.code, org_unit.c.name_zh, org_unit.c.name_en)
        .where(org_unit.c.code.in_(sorted(units))))}
    if drill == "persons" and wanted:
        names.update({code: Text(zh, en) for code, zh, en in conn.execute(
            select(user.c.code, user.c.name_zh, user.c.name_en)
            .where(user.c.code.in_(sorted(wanted))))})
    elif drill is not None and drill.startswith(_DIMENSION):
        labels = _dictionary_labels(runtime, spec, drill[len(_DIMENSION):])
        names.update({k: labels.get(k, Text(k, k)) for k in wanted})
    return names


def _dictionary_labels(runtime: "Runtime", spec: "IndicatorSpec", name: str
                       ) -> dict[str, Text]:
    """Item labels of the dictionaries behind dimension ``name`` of the entities
    the indicator aggregates."""
    labels: dict[str, Text] = {}
    registry = runtime.registry
    for code in runtime.indicators.evaluator.entities(spec):
        entity = registry.entity(code)
        found = entity.field(name) if entity is not None else None
        dictionary = registry.dictionary(found.dictionary) \
            if found is not None and found.dictionary else None
        for item in dictionary.items if dictionary is not None else ():
            labels.setdefault(item.code, item.label)
    return labels


# -- endpoints -----------------------------------------------------------------------------

@blueprint.get("")
def list_indicators() -> dict[str, Any]:
    _args()
    indicators = _viewer().registry.indicators
    return {"items": [indicator_summary(s) for _, s in sorted(indicators.items())]}


@blueprint.get("/graph")
def graph() -> dict[str, Any]:
    _args()
    registry = _viewer().registry
    return graph_dict(indicator_graph(registry.indicators, registry), registry.indicators)


@blueprint.get("/<code>")
def get_indicator(code: str) -> dict[str, Any]:
    _args()
    return indicator_detail(_viewer().indicators.spec(code))


@blueprint.get("/<code>/compute")
def compute(code: str) -> dict[str, Any]:
    args = _args("unit", "period", "tree", "drill", "restate")
    runtime = _viewer()
    engine = runtime.indicators
    spec = engine.spec(code)
    unit = _required(args, "unit", Text("组织单元编码", "an org unit code"))
    period = _period(args, "period")
    drill, restate = args.get("drill") or None, _flag(args, "restate")
    tree = args.get("tree") or _DEFAULT_TREE
    with services().db.begin() as conn:
        _check_unit(conn, unit)
        _check_tree(conn, tree)
        with _parameters(args):
            result = engine.compute(conn, spec.qualified_code, unit, period, tree=tree,
                                    drill=drill, restate=restate,
                                    today=request_context().now().date())
        names = drill_names(conn, runtime, spec, result)
    return computation_dict(spec, result, names)


@blueprint.get("/<code>/series")
def series(code: str) -> dict[str, Any]:
    args = _args("unit", "from", "to", "tree", "restate")
    engine = _viewer().indicators
    spec = engine.spec(code)
    unit = _required(args, "unit", Text("组织单元编码", "an org unit code"))
    first, last = _period(args, "from"), _period(args, "to")
    _check_span(args, first, last)
    restate = _flag(args, "restate")
    tree = args.get("tree") or _DEFAULT_TREE
    with services().db.begin() as conn:
        _check_unit(conn, unit)
        _check_tree(conn, tree)
        with _parameters(args, period="from"):
            points = engine.series(conn, spec.qualified_code, unit, first, last, tree=tree,
                                   restate=restate, today=request_context().now().date())
    return series_dict(spec, unit, tree, restate, points)


_PER_YEAR = {"month": 12, "quarter": 4, "half_year": 2, "year": 1}


def _count(first: Period, last: Period) -> int:
    """Periods from ``first`` to ``last`` (same kind), without listing them."""
    return (last.year - first.year) * _PER_YEAR[first.kind] + last.index - first.index + 1


def _check_span(args: dict[str, str], first: Period, last: Period) -> None:
    if first.kind != last.kind:
        raise bad_parameter("to", args["to"], Text(
            f"应与 from 同为 {first.kind} 期间", f"must be a {first.kind} period like from"))
    if last < first:
        raise bad_parameter("to", args["to"], Text(f"不能早于 from（{first.code}）",
                                                   f"must not be before from ({first.code})"))
    if _count(first, last) > MAX_SERIES:
        raise bad_parameter("to", args["to"], Text(
            f"一次最多 {MAX_SERIES} 个期间", f"at most {MAX_SERIES} periods at a time"))


@blueprint.get("/<code>/versions/diff")
def diff(code: str) -> dict[str, Any]:
    args = _args("from", "to")
    spec = _viewer().indicators.spec(code)
    old, new = _version(args, "from", spec), _version(args, "to", spec)
    changes = version_diff(spec.version(old), spec.version(new))
    return diff_dict(spec.qualified_code, old, new, changes)
