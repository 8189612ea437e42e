"""The shapes of the indicator answers (runtime layer, HTTP edge).

Pure functions turning indicator specs, computations and the dependency graph
into the JSON the API answers (the CLI's ``--json`` prints the same), the
label of the 统计口径 version a value was computed with, and the OpenAPI
description of ``/api/v1/indicators`` (:data:`INDICATOR_SCHEMAS`,
:data:`INDICATOR_PATHS`). Texts are ``{"zh", "en"}`` objects, decimals
strings keeping every digit (the API's JSON provider), colours
``green | amber | red`` or ``null``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from yunying.platform.i18n import Text
from yunying.runtime.indicators.colours import COLOURS, colour

if TYPE_CHECKING:
    from yunying.metadata.indicators import IndicatorSpec, IndicatorVersion
    from yunying.runtime.formula.indicator_check import IndicatorGraph
    from yunying.runtime.indicators.compute import Computation, Member

__all__ = [
    "INDICATOR_PATHS", "INDICATOR_SCHEMAS", "MAX_SERIES", "UNNAMED",
    "text_dict", "indicator_summary", "indicator_detail", "version_dict",
    "computation_dict", "series_dict", "graph_dict", "diff_dict",
]

#: periods one series may span (ten years of months).
MAX_SERIES = 120
#: the name of a drill row without a unit, person or dimension value.
UNNAMED = Text("未指定", "unspecified")


def text_dict(value: Text | None) -> dict[str, str] | None:
    """A text as ``{"zh", "en"}`` (as ``version_diff`` shows texts too)."""
    return None if value is None else {"zh": value.zh, "en": value.en}


def _definition(version: "IndicatorVersion") -> dict[str, Any]:
    d = version.definition
    return {"summary": text_dict(d.summary), "numerator": text_dict(d.numerator),
            "denominator": text_dict(d.denominator), "includes": text_dict(d.includes),
            "excludes": text_dict(d.excludes), "source": text_dict(d.source)}


def version_dict(version: "IndicatorVersion", *, formulas: bool = True) -> dict[str, Any]:
    """One version: number, effective date, 口径 text, note (and its formulas)."""
    shown = {"version": version.version, "effective_from": version.effective_from,
             "definition": _definition(version), "note": text_dict(version.note)}
    if formulas:
        shown.update({"formula": version.formula, "numerator": version.numerator,
                      "denominator": version.denominator})
    return shown


def indicator_summary(spec: "IndicatorSpec") -> dict[str, Any]:
    """What the indicator list shows of one indicator (with its current 口径)."""
    thresholds = spec.thresholds
    return {
        "code": spec.qualified_code, "package": spec.package, "name": text_dict(spec.label),
        "aliases": [text_dict(a) for a in spec.aliases], "owner": text_dict(spec.owner),
        "unit": text_dict(spec.unit), "direction": spec.direction, "type": spec.type,
        "factor": spec.factor, "decimals": spec.decimals, "period": spec.period,
        "time_rollup": spec.time_rollup, "dimensions": list(spec.dimensions),
        "target": spec.target,
        "thresholds": None if thresholds is None else {"green": thresholds.green,
                                                       "amber": thresholds.amber},
        "current_version": version_dict(spec.current, formulas=False),
    }


def indicator_detail(spec: "IndicatorSpec") -> dict[str, Any]:
    """The summary plus every version with its formulas."""
    return {**indicator_summary(spec), "versions": [version_dict(v) for v in spec.versions]}


def _member(spec: "IndicatorSpec", member: "Member", name: Text | None) -> dict[str, Any]:
    return {"key": member.key, "name": text_dict(name), "value": member.value,
            "numerator": member.numerator, "denominator": member.denominator,
            "colour": colour(spec, member.value)}


def computation_dict(spec: "IndicatorSpec", computation: "Computation",
                     names: Mapping[str, Text]) -> dict[str, Any]:
    """One computed value with its drill rows; ``names`` by member key (the
    unit's own code names the total)."""
    c = computation
    return {
        "indicator": c.indicator, "name": text_dict(spec.label), "unit": c.unit,
        "tree": c.tree, "period": c.period.code, "version": c.version,
        "restated": c.restated, "label": text_dict(c.label), "drill": c.drill,
        "total": _member(spec, c.total, names.get(c.unit)),
        "members": [_member(spec, m, names.get(m.key, UNNAMED)) for m in c.members],
    }


def series_dict(spec: "IndicatorSpec", unit: str, tree: str, restate: bool,
                points: tuple["Computation", ...]) -> dict[str, Any]:
    """The totals of consecutive periods."""
    return {"indicator": spec.qualified_code, "unit": unit, "tree": tree, "restated": restate,
            "points": [{"period": p.period.code, "value": p.total.value,
                        "numerator": p.total.numerator, "denominator": p.total.denominator,
                        "version": p.version, "colour": colour(spec, p.total.value)}
                       for p in points]}


def graph_dict(graph: "IndicatorGraph", indicators: Mapping[str, "IndicatorSpec"]
               ) -> dict[str, Any]:
    """Nodes (dependencies first) with the entities each reads, and the edges."""
    nodes = []
    for code in graph.order():
        spec = indicators.get(code)
        nodes.append({"code": code, "name": None if spec is None else text_dict(spec.label),
                      "entities": sorted(graph.entities.get(code, ()))})
    edges = [{"from": code, "to": ref.code, "shift": ref.shift, "n": ref.n}
             for code in graph.order() for ref in graph.edges.get(code, ())]
    return {"nodes": nodes, "edges": edges, "cycles": [list(c) for c in graph.cycles()],
            "broken": sorted(graph.broken)}


def _plain(value: Any) -> Any:
    return text_dict(value) if isinstance(value, Text) else value


def diff_dict(code: str, old: int, new: int, changes: list[dict[str, Any]]) -> dict[str, Any]:
    """The changes between two versions (version_diff's list, texts as objects)."""
    return {"indicator": code, "from": old, "to": new,
            "changes": [{key: _plain(value) for key, value in change.items()}
                        for change in changes]}


# -- OpenAPI -------------------------------------------------------------------------------

_JSON = "application/json"
_PREFIX = "/api/v1/indicators"
_TEXT = {"type": ["object", "null"], "properties": {"zh": {"type": "string"},
                                                    "en": {"type": "string"}}}
_DECIMAL = {"type": ["string", "null"], "format": "decimal"}
_COLOUR = {"type": ["string", "null"], "enum": [*COLOURS, None]}
_VALUE = {"type": "object", "required": ["key", "name", "value", "numerator", "denominator",
                                         "colour"], "properties": {
    "key": {"type": "string"}, "name": _TEXT, "value": _DECIMAL, "numerator": _DECIMAL,
    "denominator": _DECIMAL, "colour": _COLOUR}}
_VERSION = {"type": "object", "required": ["version", "effective_from", "definition", "note"],
            "properties": {
    "version": {"type": "integer"}, "effective_from": {"type": "string", "format": "date"},
    "definition": {"type": "object", "additionalProperties": _TEXT}, "note": _TEXT,
    "formula": {"type": ["string", "null"]}, "numerator": {"type": ["string", "null"]},
    "denominator": {"type": ["string", "null"]}}}
_SUMMARY = {
    "code": {"type": "string"}, "package": {"type": "string"}, "name": _TEXT,
    "aliases": {"type": "array", "items": _TEXT}, "owner": _TEXT, "unit": _TEXT,
    "direction": {"type": "string", "enum": ["higher_better", "lower_better", "monitor"]},
    "type": {"type": "string"}, "factor": _DECIMAL, "decimals": {"type": "integer"},
    "period": {"type": "string"}, "time_rollup": {"type": "string"},
    "dimensions": {"type": "array", "items": {"type": "string"}}, "target": _DECIMAL,
    "thresholds": {"type": ["object", "null"], "properties": {"green": _DECIMAL,
                                                              "amber": _DECIMAL}},
    "current_version": _VERSION}

#: component schemas (plain JSON Schema) of the indicator answers.
INDICATOR_SCHEMAS: Mapping[str, Any] = {
    "IndicatorList": {"type": "object", "required": ["items"], "properties": {"items": {
        "type": "array", "items": {"type": "object", "required": list(_SUMMARY),
                                   "properties": _SUMMARY}}}},
    "Indicator": {"type": "object", "required": [*_SUMMARY, "versions"], "properties": {
        **_SUMMARY, "versions": {"type": "array", "items": _VERSION}}},
    "IndicatorValue": {"type": "object", "required": [
        "indicator", "name", "unit", "tree", "period", "version", "restated", "label", "drill",
        "total", "members"], "properties": {
        "indicator": {"type": "string"}, "name": _TEXT, "unit": {"type": "string"},
        "tree": {"type": "string"}, "period": {"type": "string"},
        "version": {"type": "integer"}, "restated": {"type": "boolean"}, "label": _TEXT,
        "drill": {"type": ["string", "null"]}, "total": _VALUE,
        "members": {"type": "array", "items": _VALUE}}},
    "IndicatorSeries": {"type": "object", "required": ["indicator", "unit", "tree", "restated",
                                                       "points"], "properties": {
        "indicator": {"type": "string"}, "unit": {"type": "string"},
        "tree": {"type": "string"}, "restated": {"type": "boolean"},
        "points": {"type": "array", "items": {"type": "object", "required": [
            "period", "value", "numerator", "denominator", "version", "colour"], "properties": {
            "period": {"type": "string"}, "value": _DECIMAL, "numerator": _DECIMAL,
            "denominator": _DECIMAL, "version": {"type": "integer"}, "colour": _COLOUR}}}}},
    "IndicatorGraph": {"type": "object", "required": ["nodes", "edges", "cycles", "broken"],
                       "properties": {
        "nodes": {"type": "array", "items": {"type": "object", "properties": {
            "code": {"type": "string"}, "name": _TEXT,
            "entities": {"type": "array", "items": {"type": "string"}}}}},
        "edges": {"type": "array", "items": {"type": "object", "properties": {
            "from": {"type": "string"}, "to": {"type": "string"},
            "shift": {"type": "string", "enum": ["current", "prev", "lastyear", "ytd"]},
            "n": {"type": "integer"}}}},
        "cycles": {"type": "array", "items": {"type": "array", "items": {"type": "string"}}},
        "broken": {"type": "array", "items": {"type": "string"}}}},
    "IndicatorDiff": {"type": "object", "required": ["indicator", "from", "to", "changes"],
                      "properties": {
        "indicator": {"type": "string"}, "from": {"type": "integer"},
        "to": {"type": "integer"}, "changes": {"type": "array", "items": {
            "type": "object", "required": ["field", "old", "new"],
            "properties": {"field": {"type": "string"}}}}}},
}


def _query(name: str, description: str, schema: Mapping[str, Any], *,
           required: bool = False) -> dict[str, Any]:
    return {"in": "query", "name": name, "required": required, "description": description,
            "schema": dict(schema)}


_CODE = {"in": "path", "name": "code", "required": True, "schema": {"type": "string"},
         "description": "indicator code, qualified (performance.avg_los) or local if unique"}
_PERIOD = {"type": "string", "pattern": r"^[0-9]{4}(-[0-9]{2}|-Q[1-4]|-H[1-2])?$"}
_UNIT = _query("unit", "org unit code", {"type": "string"}, required=True)
_TREE = _query("tree", "org tree (default cost)", {"type": "string", "default": "cost"})
_RESTATE = _query("restate", "restate history with the current version (1/0)",
                  {"type": "string", "enum": ["1", "0", "true", "false"]})


def _get(operation_id: str, summary: str, result: str, parameters: tuple = (),
         errors: tuple[str, ...] = ("400", "403")) -> dict[str, Any]:
    responses: dict[str, Any] = {"200": {"description": summary, "content": {
        _JSON: {"schema": result}}}}
    responses.update({status: f"Error{status}" for status in errors})
    return {"get": {"operationId": operation_id, "summary": summary, "tags": ["indicators"],
                    "description": "Needs the platform action view_indicators.",
                    "parameters": list(parameters), "responses": responses}}


#: the indicator endpoints' operations, for the OpenAPI document.
INDICATOR_PATHS: Mapping[str, Any] = {
    _PREFIX: _get("listIndicators", "Indicators with their current 统计口径",
                  "IndicatorList"),
    f"{_PREFIX}/graph": _get("indicatorGraph", "Indicator dependency graph",
                             "IndicatorGraph"),
    f"{_PREFIX}/{{code}}": _get("getIndicator", "One indicator with every version",
                                "Indicator", (_CODE,), ("400", "403", "404")),
    f"{_PREFIX}/{{code}}/compute": _get(
        "computeIndicator", "One value, with drill rows", "IndicatorValue", (
            _CODE, _UNIT, _query("period", "2025-03, 2025-Q1, 2025-H1 or 2025", _PERIOD,
                                 required=True), _TREE,
            _query("drill", "units | persons | dim:<field>", {"type": "string"}), _RESTATE),
        ("400", "403", "404")),
    f"{_PREFIX}/{{code}}/series": _get(
        "indicatorSeries", f"Totals of consecutive periods (at most {MAX_SERIES})",
        "IndicatorSeries", (_CODE, _UNIT,
                            _query("from", "first period", _PERIOD, required=True),
                            _query("to", "last period (same kind)", _PERIOD, required=True),
                            _TREE, _RESTATE), ("400", "403", "404")),
    f"{_PREFIX}/{{code}}/versions/diff": _get(
        "indicatorVersionDiff", "What changed between two versions", "IndicatorDiff", (
            _CODE, _query("from", "older version number", {"type": "integer", "minimum": 1},
                          required=True),
            _query("to", "newer version number", {"type": "integer", "minimum": 1},
                   required=True)), ("400", "403", "404")),
}
