"""The OpenAPI description of the org endpoints (runtime layer, HTTP edge).

:data:`ORG_PATHS` holds OpenAPI path items for ``/api/v1/org``; schemas are
named (apispec turns the names into ``$ref``) and are the marshmallow
schemas of :data:`~yunying.runtime.api.org_schemas.ORG_SCHEMAS`, to be
registered as components with ``spec.components.schema(name, schema=cls)``.
Error responses name the ``Error<status>`` components of the document.
"""

from __future__ import annotations

from typing import Any, Mapping

from yunying.runtime.api.org_schemas import ORG_SCHEMAS
from yunying.runtime.records.query import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

__all__ = ["ORG_PATHS", "ORG_SCHEMAS"]

_JSON = "application/json"
_PREFIX = "/api/v1/org"
_READ_ERRORS = ("400", "404")
_WRITE_ERRORS = ("400", "403", "404", "409", "413", "422")


def _path(name: str, description: str) -> dict[str, Any]:
    return {"in": "path", "name": name, "required": True, "description": description,
            "schema": {"type": "string", "maxLength": 64}}


def _query(name: str, description: str, schema: dict[str, Any], *,
           required: bool = False) -> dict[str, Any]:
    return {"in": "query", "name": name, "required": required, "description": description,
            "schema": schema}


_DATE = {"type": "string", "format": "date"}
_AS_OF = _query("as_of", "the date the answer holds on (default today)", _DATE)
_UNIT = _path("code", "an org unit code")


def _operation(operation_id: str, summary: str, *, ok: str = "200", result: str,
               body: str | None = None, parameters: tuple[dict[str, Any], ...] = (),
               errors: tuple[str, ...] = _READ_ERRORS) -> dict[str, Any]:
    responses: dict[str, Any] = {ok: {"description": summary, "content": {
        _JSON: {"schema": result}}}}
    if ok == "201":
        responses[ok]["headers"] = {"Location": {"schema": {"type": "string"}}}
    responses.update({status: f"Error{status}" for status in errors})
    operation: dict[str, Any] = {"operationId": operation_id, "summary": summary,
                                 "tags": ["org"], "parameters": list(parameters),
                                 "responses": responses}
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {_JSON: {"schema": body}}}
        operation["description"] = "Needs the platform action manage_users."
    return operation


def _write(operation_id: str, summary: str, body: str, *, ok: str = "200",
           result: str = "OrgChange", parameters: tuple[dict[str, Any], ...] = ()
           ) -> dict[str, Any]:
    return _operation(operation_id, summary, ok=ok, result=result, body=body,
                      parameters=parameters, errors=_WRITE_ERRORS)


_WALK = (_path("tree", "an org tree code"), _path("unit", "an org unit code"), _AS_OF)

#: the org endpoints' operations, for the OpenAPI document.
ORG_PATHS: Mapping[str, dict[str, Any]] = {
    f"{_PREFIX}/units": {
        "get": _operation("listOrgUnits", "Org units by code, one page", result="OrgUnitPage",
                          parameters=(
                              _query("type", "only units of this type", {"type": "string"}),
                              _query("as_of", "only units existing on this date", _DATE),
                              _query("page", "page number", {"type": "integer", "minimum": 1,
                                                             "default": 1}),
                              _query("page_size", "units per page", {
                                  "type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE,
                                  "default": DEFAULT_PAGE_SIZE}))),
        "post": _write("createOrgUnit", "Create an org unit with its location and parents",
                       "OrgUnitInput", ok="201", result="OrgUnitCard")},
    f"{_PREFIX}/units/{{code}}": {
        "get": _operation("getOrgUnit", "One org unit as of a date: location, parents, "
                          "children, heads, members", result="OrgUnitCard",
                          parameters=(_UNIT, _AS_OF)),
        "patch": _write("updateOrgUnit", "Rename an org unit or change its type (never its "
                        "code)", "OrgUnitPatch", result="OrgUnit", parameters=(_UNIT,))},
    f"{_PREFIX}/units/{{code}}/split": {
        "post": _write("splitOrgUnit", "Split a unit into new units on a date",
                       "SplitInput", parameters=(_UNIT,))},
    f"{_PREFIX}/units/{{code}}/location": {
        "post": _write("moveOrgUnit", "Move a unit to a location from a date", "MoveInput",
                       parameters=(_UNIT,))},
    f"{_PREFIX}/units/{{code}}/head": {
        "post": _write("setOrgUnitHead", "Set who heads a unit from a date", "HeadInput",
                       parameters=(_UNIT,))},
    f"{_PREFIX}/merge": {
        "post": _write("mergeOrgUnits", "Merge units into an existing or a new unit",
                       "MergeInput")},
    f"{_PREFIX}/assignments": {
        "post": _write("assignToOrgUnit", "Assign a user to a unit from a date",
                       "AssignmentInput", ok="201")},
    f"{_PREFIX}/trees": {
        "get": _operation("listOrgTrees", "Every relation tree", result="OrgTreeList"),
        "post": _write("createOrgTree", "Create a relation tree", "OrgTreeInput", ok="201",
                       result="OrgTree")},
    f"{_PREFIX}/trees/{{tree}}/descendants/{{unit}}": {
        "get": _operation("orgDescendants", "Units below a unit in a tree on a date",
                          result="OrgWalk", parameters=_WALK)},
    f"{_PREFIX}/trees/{{tree}}/ancestors/{{unit}}": {
        "get": _operation("orgAncestors", "Units above a unit in a tree on a date",
                          result="OrgWalk", parameters=_WALK)},
    f"{_PREFIX}/trees/{{tree}}/reparent": {
        "post": _write("reparentOrgUnit", "Put a unit under another parent from a date",
                       "ReparentInput", parameters=(_path("tree", "an org tree code"),))},
    f"{_PREFIX}/locations": {
        "get": _operation("listLocations", "Every location", result="LocationList"),
        "post": _write("createLocation", "Create a location", "LocationInput", ok="201",
                       result="Location")},
    f"{_PREFIX}/users/{{user}}/heads-above": {
        "get": _operation("headsAbove", "The chain of heads above a user in a tree",
                          result="HeadsAbove", parameters=(
                              _path("user", "a user code"),
                              _query("tree", "an org tree code", {"type": "string"},
                                     required=True), _AS_OF))},
}
