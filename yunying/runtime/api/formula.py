"""The formula endpoints of the JSON API (runtime layer, HTTP edge).

For the formula editor: ``POST /api/v1/formula/check`` checks a formula in
a context — row mode over an installed entity's (or child table's) fields,
or aggregate mode over every installed entity — and answers 200 with its
type and dependencies, or 200 with ``valid: false`` and every located error.
``POST /api/v1/formula/eval`` evaluates a row formula against a stored record
(``record_id``) or sample ``values`` converted by their fields' types, and
answers ``{"value", "type"}`` or 422 with the formula's errors. A malformed
request is a 400 naming the parameter; an unknown entity, child table or
record is a 404. Nothing here writes.
"""

from __future__ import annotations

from typing import Any, Mapping

from flask import Blueprint, Response, current_app, request

from yunying.metadata.spec import EntitySpec
from yunying.platform.errors import NotFound, PermissionDenied
from yunying.platform.i18n import Text
from yunying.runtime.api.context import request_context, services
from yunying.runtime.api.errors import error_response
from yunying.runtime.api.formula_values import (
    bad_request, encodable, field_values, free_values, record_id, utc,
)
from yunying.runtime.api.json import object_body
from yunying.runtime.api.meta import entity_spec
from yunying.runtime.formula.checker import Checked, check
from yunying.runtime.formula.context import FormulaContext
from yunying.runtime.formula.entity_context import Owner, aggregate_context, context_for
from yunying.runtime.formula.errors import FormulaError
from yunying.runtime.formula.evaluator import evaluate
from yunying.runtime.formula.types import FType
from yunying.runtime.records.paths import compile_paths, read_paths
from yunying.runtime.registry import Registry

__all__ = ["blueprint", "FORMULA_PATHS", "FORMULA_SCHEMAS"]

blueprint = Blueprint("formula", __name__, url_prefix="/api/v1/formula")

_CHECK_KEYS = ("formula", "entity", "child", "mode", "expect")
_EVAL_KEYS = ("formula", "entity", "child", "record_id", "values")
_MODES = ("row", "aggregate")
_EXPECT = {t.value: t for t in (FType.NUMBER, FType.STRING, FType.BOOLEAN, FType.DATE,
                                FType.DATETIME)}


def _loads(data: bytes) -> Any:
    return current_app.json.loads(data)


def _body(allowed: tuple[str, ...]) -> dict[str, Any]:
    body = object_body(request, _loads)
    unknown = sorted(str(k)[:50] for k in body if k not in allowed)
    if unknown:
        raise bad_request(unknown[0], f"未知参数 {unknown[0]}；可用：{'、'.join(allowed)}",
                          f"unknown parameter {unknown[0]!r}; allowed: {', '.join(allowed)}")
    source = body.get("formula")
    if not isinstance(source, str):
        raise bad_request("formula", "formula 为必填项，应为文本",
                          "formula is required and must be text")
    encodable("formula", source)
    return body


def _text(body: Mapping[str, Any], key: str, choices: Any = None) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or (choices is not None and value not in choices):
        shown = f"：{'、'.join(choices)}" if choices else ""
        listed = f": one of {', '.join(choices)}" if choices else ""
        raise bad_request(key, f"{key} 应为文本{shown}", f"{key} must be text{listed}")
    return value


def _owner(registry: Registry, body: Mapping[str, Any]) -> tuple[EntitySpec | None, Owner | None]:
    """The entity and the table (entity or child) the formula belongs to, if given."""
    entity, child = _text(body, "entity"), _text(body, "child")
    if entity is None:
        if child is not None:
            raise bad_request("child", "child 需要同时给出 entity", "child needs entity")
        return None, None
    spec = entity_spec(registry, entity)
    if child is None:
        return spec, spec
    found = spec.child(child)
    if found is None:
        shown = child[:50]
        raise NotFound(Text(f"{spec.label.zh} 没有子表 {shown}",
                            f"{spec.label.en} has no child table {shown}"),
                       code="unknown_child", details={"entity": entity, "child": shown})
    return spec, found


def _context(registry: Registry, body: Mapping[str, Any], mode: str) -> FormulaContext:
    if mode == "aggregate":
        for key in ("entity", "child"):
            if body.get(key) is not None:
                raise bad_request(
                    key, f"汇总模式的公式可以使用所有实体，不能指定 {key}",
                    f"an aggregate formula may use every entity; {key} does not apply")
        return aggregate_context(registry)
    spec, owner = _owner(registry, body)
    if owner is None:
        return FormulaContext(mode="row")
    return context_for(owner, registry, parent=spec)


@blueprint.post("/check")
def check_formula() -> dict[str, Any]:
    body = _body(_CHECK_KEYS)
    mode = _text(body, "mode", _MODES) or "row"
    expected = _text(body, "expect", tuple(_EXPECT))
    registry = services().runtime().registry
    context = _context(registry, body, mode)
    try:
        checked = check(body["formula"], context,
                        expect=_EXPECT[expected] if expected else None)
    except FormulaError as exc:
        return {"valid": False, "errors": [issue.as_dict() for issue in exc.issues]}
    return {"valid": True, "type": checked.type.value,
            "dependencies": checked.dependencies.as_dict()}


@blueprint.post("/eval")
def eval_formula() -> Any:
    body = _body(_EVAL_KEYS)
    if "record_id" in body and "values" in body:
        raise bad_request("record_id", "record_id 与 values 只能给出其一",
                          "give either record_id or values, not both")
    ctx = request_context()
    svc = services()
    with svc.db.connect() as conn:
        runtime = svc.runtime(conn)
        registry = runtime.registry
        spec, owner = _owner(registry, body)
        if owner is None:
            if "record_id" in body:
                raise bad_request("record_id", "record_id 需要同时给出 entity",
                                  "record_id needs entity")
            row, context = free_values(body.get("values", {}))
        else:
            context = context_for(owner, registry, parent=spec)
            if "record_id" in body:
                row = runtime.records.row(conn, ctx, spec.qualified_code,  # type: ignore
                                          record_id(body["record_id"]),
                                          child=_text(body, "child"))
            else:
                row = field_values(owner, body.get("values", {}))
        try:
            checked = check(body["formula"], context)
            if owner is not None:
                _refuse_unseen(ctx, checked, row, "record_id" in body)
            values = {**row, **_path_values(conn, registry, owner, checked, row)}
            now = utc(ctx.now())
            value = evaluate(checked, values, today=now.date(), now=now)
        except FormulaError as exc:
            return _formula_failed(exc)
    return {"value": value, "type": checked.type.value}


def _refuse_unseen(ctx: Any, checked: Checked, row: Mapping[str, Any], stored: bool) -> None:
    """A restricted caller may not evaluate a formula that reads what the caller
    cannot see: a field hidden from them, or anything through a reference (the
    referenced record may be outside their data scope)."""
    grants = ctx.grants
    if grants is None or grants.superuser:
        return
    through = sorted(p for p in checked.dependencies.fields if "." in p)
    hidden = sorted(p for p in checked.dependencies.fields
                    if "." not in p and stored and p not in row)
    if through or hidden:
        raise PermissionDenied(
            Text("公式读取了您无权查看的数据（经引用读取的字段或隐藏字段）",
                 "the formula reads data you may not see (fields through a reference "
                 "or hidden fields)"),
            code="formula_reads_unseen", details={"paths": through})


def _formula_failed(exc: FormulaError) -> Response:
    return error_response(422, "formula_error", exc.message,
                          {"errors": [issue.as_dict() for issue in exc.issues]})


def _path_values(conn: Any, registry: Registry, owner: Owner | None, checked: Checked,
                 row: Mapping[str, Any]) -> dict[str, Any]:
    """Values the formula reads through references (``item.unit_price``)."""
    if owner is None:
        return {}
    plan = compile_paths(owner.fields, checked.dependencies.fields, registry)
    return read_paths(conn, [(plan, row)])[0] if plan else {}


# -- the OpenAPI description -------------------------------------------------------

_ISSUE = {
    "type": "object",
    "required": ["code", "message", "line", "column", "end_column", "start", "end",
                 "suggestions"],
    "properties": {
        "code": {"type": "string", "enum": ["syntax", "unknown_name", "unknown_function",
                                            "arity", "type", "context", "cycle",
                                            "too_complex", "evaluation"]},
        "message": {"type": "object", "required": ["zh-CN", "en"], "properties": {
            "zh-CN": {"type": "string"}, "en": {"type": "string"}}},
        "line": {"type": "integer"}, "column": {"type": "integer"},
        "end_line": {"type": "integer"}, "end_column": {"type": "integer"},
        "start": {"type": "integer", "description": "character offset"},
        "end": {"type": "integer", "description": "character offset (exclusive)"},
        "suggestions": {"type": "array", "items": {"type": "string"}},
    },
}
_TYPES = ["number", "string", "boolean", "date", "datetime", "null", "unknown"]

#: component schemas of the formula endpoints, for the OpenAPI document.
FORMULA_SCHEMAS: Mapping[str, dict[str, Any]] = {
    "FormulaIssue": _ISSUE,
    "FormulaCheckRequest": {
        "type": "object", "required": ["formula"], "additionalProperties": False,
        "properties": {
            "formula": {"type": "string", "description": "the formula (at most 10,000 "
                        "characters, nesting at most 100 levels)"},
            "entity": {"type": "string", "description": "row mode: an installed entity "
                       "(materials.requisition) whose fields the formula may name"},
            "child": {"type": "string", "description": "row mode: a child table of the "
                      "entity (lines): the formula is over one line"},
            "mode": {"type": "string", "enum": list(_MODES), "default": "row",
                     "description": "row: one record; aggregate: every installed entity"},
            "expect": {"type": "string", "enum": list(_EXPECT),
                       "description": "the type the result must have (boolean for rules)"},
        }},
    "FormulaCheckResult": {
        "type": "object", "required": ["valid"],
        "properties": {
            "valid": {"type": "boolean"},
            "type": {"type": "string", "enum": _TYPES},
            "dependencies": {"type": "object", "properties": {
                name: {"type": "array", "items": {"type": "string"}}
                for name in ("fields", "entities", "entity_fields", "indicators", "functions")}},
            "errors": {"type": "array", "items": {"$ref": "#/components/schemas/FormulaIssue"}},
        }},
    "FormulaEvalRequest": {
        "type": "object", "required": ["formula"], "additionalProperties": False,
        "properties": {
            "formula": {"type": "string"},
            "entity": {"type": "string"},
            "child": {"type": "string"},
            "record_id": {"type": "integer", "minimum": 1, "description":
                          "evaluate against this stored record (or line, with child)"},
            "values": {"type": "object", "description": (
                "sample values by field code, converted by the field types (decimals as "
                "strings or numbers, dates YYYY-MM-DD); without entity, by name with the "
                "JSON type as the type")},
        }},
    "FormulaEvalResult": {
        "type": "object", "required": ["value", "type"],
        "properties": {
            "value": {"description": "the value: numbers as exact decimal strings, dates "
                                     "ISO, booleans, text or null"},
            "type": {"type": "string", "enum": _TYPES},
        }},
}


def _operation(operation_id: str, summary: str, request_schema: str, result: str,
               errors: tuple[str, ...]) -> dict[str, Any]:
    responses: dict[str, Any] = {"200": {"description": summary, "content": {
        "application/json": {"schema": result}}}}
    responses.update({status: f"Error{status}" for status in errors})
    return {"operationId": operation_id, "summary": summary, "tags": ["formula"],
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": request_schema}}},
            "responses": responses}


#: the formula endpoints' operations, for the OpenAPI document.
FORMULA_PATHS: Mapping[str, dict[str, Any]] = {
    "/api/v1/formula/check": {"post": _operation(
        "checkFormula", "Check a formula: its type and dependencies, or every error",
        "FormulaCheckRequest", "FormulaCheckResult", ("400", "404", "413"))},
    "/api/v1/formula/eval": {"post": _operation(
        "evaluateFormula", "Evaluate a row formula against a record or sample values",
        "FormulaEvalRequest", "FormulaEvalResult", ("400", "404", "413", "422"))},
}
