"""The OpenAPI 3.1 document of the JSON API, generated from the installed
metadata (runtime layer, HTTP edge).

``build_document(registry)`` is pure: apispec with its MarshmallowPlugin
renders the entity schemas of :mod:`.schemas` plus hand-written operations
for every installed entity, the metadata endpoints, attachments and the
formula endpoints. Computed fields appear in the record schemas as
``readOnly`` properties (with ``x-formula``), never in the input schemas;
fields with a default formula are not required on create; validation rules
are listed as ``x-rules`` of the record and line schemas. The app
keeps one :class:`DocumentCache` (in ``app.extensions``) that rebuilds the
document only when the registry's metadata version moves on.
"""

from __future__ import annotations

import threading
from typing import Any, Mapping

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, Flask, Response, current_app

from yunying.metadata.spec import EntitySpec, FieldSpec, RuleSpec
from yunying.runtime.api.context import REQUEST_ID_HEADER, services
from yunying.runtime.api.formula import FORMULA_PATHS, FORMULA_SCHEMAS
from yunying.runtime.api.schemas import component_names, entity_schemas, register_types
from yunying.runtime.records.query import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, OPERATORS
from yunying.runtime.registry import Registry

__all__ = ["blueprint", "build_document", "DocumentCache", "init_openapi", "OPENAPI_VERSION"]

OPENAPI_VERSION = "3.1.0"
_EXTENSION = "yunying.openapi"
_JSON = "application/json"

blueprint = Blueprint("openapi", __name__, url_prefix="/api/v1")

_ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {
        "type": "object",
        "required": ["code", "message", "messages", "details"],
        "properties": {
            "code": {"type": "string", "description": "stable error code"},
            "message": {"type": "string", "description": "in the request's language"},
            "messages": {"type": "object", "required": ["zh-CN", "en"], "properties": {
                "zh-CN": {"type": "string"}, "en": {"type": "string"}}},
            "details": {"type": "object", "description": (
                "validation_failed: {fields: {path: [{code, message, params}]}}; "
                "stale_record: {current_version}; invalid_query: {parameter, value}; "
                "invalid_package: {issues: [...]}")},
        },
    }},
}

_ATTACHMENT_SCHEMA = {
    "type": "object",
    "required": ["id", "filename", "size", "content_type", "sha256"],
    "properties": {
        "id": {"type": "integer", "minimum": 1},
        "filename": {"type": "string"},
        "size": {"type": "integer", "minimum": 0},
        "content_type": {"type": "string"},
        "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
    },
}

_PARAMETERS: dict[str, dict[str, Any]] = {
    "filter": {"in": "query", "name": "filter", "style": "form", "explode": True,
               "description": ("field:op:value, repeatable (AND); op is one of "
                               + ", ".join(OPERATORS) + "; in/between take comma lists"),
               "schema": {"type": "array", "items": {"type": "string", "maxLength": 8000}}},
    "sort": {"in": "query", "name": "sort", "description":
             "comma-separated fields, '-' for descending (id, version, created_at, "
             "updated_at allowed)", "schema": {"type": "string"}},
    "page": {"in": "query", "name": "page",
             "schema": {"type": "integer", "minimum": 1, "default": 1}},
    "page_size": {"in": "query", "name": "page_size", "schema": {
        "type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE,
        "default": DEFAULT_PAGE_SIZE}},
    "search": {"in": "query", "name": "search", "description":
               "case-insensitive text contained in any search field",
               "schema": {"type": "string", "maxLength": 4000}},
    "lang": {"in": "query", "name": "lang", "description":
             "language of error messages (else Accept-Language; default zh-CN)",
             "schema": {"type": "string", "enum": ["zh-CN", "en"]}},
    "record_id": {"in": "path", "name": "id", "required": True,
                  "schema": {"type": "integer", "minimum": 1}},
    "version": {"in": "query", "name": "version", "description":
                "the version read; refused with 409 when stale",
                "schema": {"type": "integer", "minimum": 1}},
    "request_id": {"in": "header", "name": REQUEST_ID_HEADER, "description":
                   "echoed on the response; generated when absent",
                   "schema": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,128}$"}},
}

_ERRORS = {
    "400": "malformed request, bad JSON or invalid query",
    "403": "not permitted",
    "404": "no such entity, record or address",
    "409": "stale version or a conflict with stored data",
    "413": "request body too large",
    "422": "the record failed validation",
}


def _responses(ok: dict[str, Any], *errors: str) -> dict[str, Any]:
    result = dict(ok)
    for status in ("400", *errors):
        result[status] = f"Error{status}"  # apispec turns names into $refs
    return result


def _body(schema: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {_JSON: {"schema": schema}}}


def _params(*names: str) -> list[Any]:
    return ["lang", "request_id", *names]


def _entity_paths(spec: APISpec, entity: EntitySpec) -> None:
    q = entity.qualified_code
    names = component_names(q)
    label = f"{entity.label.zh} / {entity.label.en}"
    tag = [entity.package]
    spec.path(f"/api/v1/records/{q}", operations={
        "get": {"operationId": f"list:{q}", "summary": f"List {label}", "tags": tag,
                "parameters": _params("filter", "sort", "page", "page_size", "search"),
                "responses": _responses({"200": _body(names["page"], "one page")}, "404")},
        "post": {"operationId": f"create:{q}", "summary": f"Create {label}", "tags": tag,
                 "parameters": _params(),
                 "requestBody": {"required": True, "content": {_JSON: {
                     "schema": names["input"]}}},
                 "responses": _responses({"201": {
                     **_body(names["record"], "created"),
                     "headers": {"Location": {"schema": {"type": "string"}}}}},
                     "404", "409", "413", "422")},
    })
    spec.path(f"/api/v1/records/{q}/{{id}}", operations={
        "get": {"operationId": f"get:{q}", "summary": f"Read {label}", "tags": tag,
                "parameters": _params("record_id"),
                "responses": _responses({"200": _body(names["record"], "the record")}, "404")},
        "patch": {"operationId": f"update:{q}", "summary": f"Update {label}", "tags": tag,
                  "parameters": _params("record_id"),
                  "requestBody": {"required": True, "content": {_JSON: {
                      "schema": names["patch"]}}},
                  "responses": _responses({"200": _body(names["record"], "updated")},
                                          "404", "409", "413", "422")},
        "delete": {"operationId": f"delete:{q}", "summary": f"Delete {label}", "tags": tag,
                   "parameters": _params("record_id", "version"),
                   "responses": _responses({"204": {"description": "deleted"}},
                                           "404", "409")},
    })


def _object(description: str) -> dict[str, Any]:
    return {"description": description, "content": {_JSON: {"schema": {"type": "object"}}}}


def _platform_paths(spec: APISpec) -> None:
    meta = {
        "/api/v1/meta/entities": ("listEntities", "installed entities", ()),
        "/api/v1/meta/entities/{code}": ("describeEntity", "one entity in full", ("code",)),
        "/api/v1/meta/packages": ("listPackages", "installed packages and versions", ()),
        "/api/v1/meta/dictionaries/{code}": ("getDictionary", "a dictionary's items",
                                             ("code",)),
    }
    for path, (operation, summary, path_params) in meta.items():
        params = _params() + [{"in": "path", "name": n, "required": True,
                               "schema": {"type": "string"}} for n in path_params]
        spec.path(path, operations={"get": {
            "operationId": operation, "summary": summary, "tags": ["meta"],
            "parameters": params, "responses": _responses({"200": _object(summary)}, "404")}})
    spec.path("/api/v1/attachments", operations={"post": {
        "operationId": "uploadAttachment", "summary": "Store a file", "tags": ["attachments"],
        "parameters": _params(),
        "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
            "type": "object", "required": ["file"],
            "properties": {"file": {"type": "string", "contentMediaType":
                                    "application/octet-stream"}}}}}},
        "responses": _responses({"201": _body("Attachment", "stored")}, "413")}})
    spec.path("/api/v1/attachments/{id}", operations={"get": {
        "operationId": "downloadAttachment", "summary": "Download a stored file",
        "tags": ["attachments"], "parameters": _params("record_id"),
        "responses": _responses({"200": {"description": "the file", "content": {
            "application/octet-stream": {"schema": {"type": "string"}}}}}, "404")}})
    spec.path("/api/v1/openapi.json", operations={"get": {
        "operationId": "openapi", "summary": "This document", "tags": ["meta"],
        "security": [], "responses": {"200": _object("the OpenAPI document")}}})


def _components(spec: APISpec) -> None:
    spec.components.schema("Error", _ERROR_SCHEMA)
    spec.components.schema("Attachment", _ATTACHMENT_SCHEMA)
    for status, description in _ERRORS.items():
        spec.components.response(f"Error{status}", {
            "description": description, "content": {_JSON: {"schema": "Error"}}})
    for name, parameter in _PARAMETERS.items():
        spec.components.parameter(name, parameter["in"], {
            k: v for k, v in parameter.items() if k != "in"})


def _computed_property(f: FieldSpec) -> dict[str, Any]:
    """The JSON Schema of a computed field's value (read-only)."""
    kind = f.value_type
    schema: dict[str, Any] = dict(_RESULT_SCHEMAS.get(kind, {"type": ["string", "null"]}))
    if kind == "string" and f.length:
        schema["maxLength"] = f.length
    if kind in ("decimal", "money"):
        schema.update({"x-precision": f.precision, "x-scale": f.scale})
    schema.update({"readOnly": True, "title": f.label.en, "x-formula": f.formula,
                   "description": f"{f.label.zh} / {f.label.en} — computed: {f.formula}"})
    return schema


_RESULT_SCHEMAS: dict[str, dict[str, Any]] = {
    "string": {"type": ["string", "null"]}, "text": {"type": ["string", "null"]},
    "integer": {"type": ["integer", "null"]},
    "decimal": {"type": ["string", "null"], "format": "decimal"},
    "money": {"type": ["string", "null"], "format": "decimal"},
    "boolean": {"type": ["boolean", "null"]},
    "date": {"type": ["string", "null"], "format": "date"},
    "datetime": {"type": ["string", "null"], "format": "date-time"},
}


def _rules(rules: tuple[RuleSpec, ...]) -> list[dict[str, Any]]:
    return [{"code": r.code, "formula": r.formula, "field": r.field,
             "message": r.message.as_dict()} for r in rules]


def _describe_formulas(schemas: dict[str, Any], record: str, inputs: tuple[str, ...],
                       fields: tuple[FieldSpec, ...], rules: tuple[RuleSpec, ...]) -> None:
    """Add computed fields, default formulas and rules to one table's schemas."""
    properties = schemas[record].setdefault("properties", {})
    for f in fields:
        if f.type == "computed":
            properties[f.code] = _computed_property(f)
    if rules:
        schemas[record]["x-rules"] = _rules(rules)
    defaulted = {f.code: f.default_formula for f in fields if f.default_formula}
    for name in inputs:
        schema = schemas[name]
        if "required" in schema:
            schema["required"] = [c for c in schema["required"] if c not in defaulted]
            if not schema["required"]:
                del schema["required"]
        for code, formula in defaulted.items():
            if code in schema.get("properties", {}):
                schema["properties"][code]["x-default-formula"] = formula


def _formula_components(document: dict[str, Any], registry: Registry) -> None:
    schemas = document["components"]["schemas"]
    for code, entity in registry.entities.items():
        names = component_names(code)
        _describe_formulas(schemas, names["record"], (names["input"], names["patch"]),
                           entity.fields, entity.rules)
        for child in entity.children:
            lines = component_names(code, child.code)
            _describe_formulas(schemas, lines["line"], (lines["line_input"],),
                               child.fields, child.rules)


def build_document(registry: Registry) -> dict[str, Any]:
    """The OpenAPI 3.1 document for the installed metadata of ``registry``."""
    plugin = MarshmallowPlugin()
    spec = APISpec(
        title="Yunying API", version=f"1.{registry.metadata_version}",
        openapi_version=OPENAPI_VERSION, plugins=[plugin],
        info={"description": "Records, metadata and attachments of a Yunying installation "
                             "(运营). Money and decimals are strings that keep every digit.",
              "x-metadata-version": registry.metadata_version},
    )
    register_types(plugin)
    _components(spec)
    for code, entity in sorted(registry.entities.items()):
        for name, schema in entity_schemas(entity, registry).schemas.items():
            spec.components.schema(name, schema=schema)
        _entity_paths(spec, entity)
    _platform_paths(spec)
    for schemas, paths in _service_groups():
        _add_group(spec, schemas, paths)
    from yunying.runtime.api.auth_openapi import SECURITY, SECURITY_SCHEMES, UNAUTHENTICATED
    for name, scheme in SECURITY_SCHEMES.items():
        spec.components.security_scheme(name, scheme)
    spec.components.response("Error401", UNAUTHENTICATED)
    document = spec.to_dict()
    document["security"] = SECURITY
    _unauthenticated_responses(document)
    _formula_components(document, registry)
    return document


def _unauthenticated_responses(document: dict[str, Any]) -> None:
    """Every operation that needs a token or a session may answer 401."""
    for operations in document["paths"].values():
        for operation in operations.values():
            if isinstance(operation, dict) and operation.get("security") != []:
                operation.setdefault("responses", {}).setdefault(
                    "401", {"$ref": "#/components/responses/Error401"})


def _service_groups() -> list[tuple[Mapping[str, Any], Mapping[str, Any]]]:
    """(component schemas, path items) of every hand-written API group."""
    from yunying.runtime.api import (
        audit, auth_openapi, explain, indicator_schemas, org_paths, org_schemas, roles,
        workflow_paths,
    )
    return [(FORMULA_SCHEMAS, FORMULA_PATHS),
            (auth_openapi.SESSION_SCHEMAS, auth_openapi.SESSION_PATHS),
            (roles.ROLES_SCHEMAS, roles.ROLES_PATHS),
            (explain.EXPLAIN_SCHEMAS, explain.EXPLAIN_PATHS),
            (audit.AUDIT_SCHEMAS, audit.AUDIT_PATHS),
            (org_schemas.ORG_SCHEMAS, org_paths.ORG_PATHS),
            (workflow_paths.WORKFLOW_SCHEMAS, workflow_paths.WORKFLOW_PATHS),
            (indicator_schemas.INDICATOR_SCHEMAS, indicator_schemas.INDICATOR_PATHS)]


def _add_group(spec: APISpec, schemas: Mapping[str, Any], paths: Mapping[str, Any]) -> None:
    """Add one group: schemas are dicts or marshmallow classes; every
    operation gains the common parameters before its own."""
    for name, component in schemas.items():
        if isinstance(component, dict):
            spec.components.schema(name, component)
        else:
            spec.components.schema(name, schema=component)
    for path, operations in paths.items():
        spec.path(path, operations={
            method: {**operation, "parameters": _merged_params(operation)}
            for method, operation in operations.items()})


def _merged_params(operation: Mapping[str, Any]) -> list[Any]:
    own = list(operation.get("parameters", []))
    return [*(p for p in _params() if p not in own), *own]


class DocumentCache:
    """The last document built, keyed by metadata version (one per app)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version: int | None = None
        self._document: dict[str, Any] | None = None

    def document(self, registry: Registry) -> dict[str, Any]:
        with self._lock:
            if self._document is None or self._version != registry.metadata_version:
                self._document = build_document(registry)
                self._version = registry.metadata_version
            return self._document


@blueprint.get("/openapi.json")
def openapi_document() -> Response:
    cache: DocumentCache = current_app.extensions[_EXTENSION]
    return current_app.json.response(cache.document(services().runtime().registry))


def init_openapi(app: Flask) -> None:
    """Give ``app`` its own document cache and the document endpoint."""
    app.extensions[_EXTENSION] = DocumentCache()
    app.register_blueprint(blueprint)
