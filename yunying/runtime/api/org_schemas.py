"""The org API's request and response bodies as marshmallow schemas
(runtime layer, HTTP edge).

Request schemas validate every body of ``/api/v1/org`` strictly — unknown
keys, wrong JSON types (a boolean must be ``true``/``false``, not ``"yes"``),
malformed dates and codes — and :func:`load_body` turns marshmallow's
findings into one ``ValidationFailed`` (422) whose ``details.fields`` maps
each path (``into[1].name.zh``) to bilingual messages. Every schema here
also describes the wire format for the OpenAPI document (``ORG_SCHEMAS``).
"""

from __future__ import annotations

from typing import Any, Mapping

from marshmallow import Schema, fields, validate

from yunying.metadata.org_data import LOCATION_KINDS, TREE_KINDS, UNIT_TYPES
from yunying.platform.errors import ValidationFailed
from yunying.platform.i18n import Text
from yunying.platform.org_admin import CODE_PATTERN, MAX_NAME
from yunying.runtime.api.body_errors import described, problems

__all__ = ["USER_PATTERN", "load_body", "ORG_SCHEMAS"]

#: the most units one split creates or one merge closes.
_MAX_UNITS = 100
#: user codes (the login), as identity accepts them.
USER_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}"

# Every marshmallow message is a code (``kind|param|param``) translated below.
_MESSAGES: Mapping[str, Text] = {
    "required": Text("为必填项", "is required"),
    "null": Text("不能为 null", "may not be null"),
    "text": Text("应为文本", "must be text"),
    "date": Text("应为日期 YYYY-MM-DD", "must be a date YYYY-MM-DD"),
    "boolean": Text("应为 true 或 false", "must be true or false"),
    "object": Text("应为 JSON 对象", "must be a JSON object"),
    "list": Text("应为数组", "must be an array"),
    "unknown": Text("不是可用的字段", "is not a known field"),
    "code": Text("编码须为 1–64 个字母、数字或 _ . -，以字母或数字开头",
                 "must be a code: 1–64 letters, digits or _ . -, starting with a letter "
                 "or digit"),
    "user": Text("用户账号须为 1–64 个字母、数字或 _ . @ -，以字母或数字开头",
                 "must be a user code: 1–64 letters, digits or _ . @ -, starting with a "
                 "letter or digit"),
    "length": Text("长度须为 {0}–{1} 个字符", "must have {0} to {1} characters"),
    "count": Text("须有 {0}–{1} 项", "needs {0} to {1} item(s)"),
    "choice": Text("应为以下之一：{0}", "must be one of: {0}"),
}


def _errors(kind: str) -> dict[str, str]:
    return {"required": "required", "null": "null", "invalid": kind, "format": kind,
            "invalid_utf8": kind, "type": kind, "validator_failed": kind}


def _pattern(pattern: str, error: str, description: str | None,
             **kw: Any) -> fields.String:
    # \Z, not $: "$" would let a trailing newline through
    metadata = {"pattern": f"^{pattern}$"}
    if description:
        metadata["description"] = description
    return fields.String(validate=validate.Regexp(pattern + r"\Z", error=error),
                         error_messages=_errors("text"), metadata=metadata, **kw)


def _code(description: str | None = None, **kw: Any) -> fields.String:
    return _pattern(CODE_PATTERN.pattern, "code", description, **kw)


def _user(description: str | None = None, **kw: Any) -> fields.String:
    return _pattern(USER_PATTERN, "user", description, **kw)


def _choice(choices: tuple[str, ...], **kw: Any) -> fields.String:
    return fields.String(validate=validate.OneOf(choices, error="choice|{choices}"),
                         error_messages=_errors("text"), **kw)


def _date(**kw: Any) -> fields.Date:
    return fields.Date(error_messages=_errors("date"), **kw)


def _codes(**kw: Any) -> fields.Dict:
    return fields.Dict(keys=_code(), values=_code(), error_messages=_errors("object"), **kw)


class StrictBoolean(fields.Boolean):
    """A JSON boolean only: ``"yes"``, ``1`` or ``"true"`` are refused."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class _Strict(Schema):
    error_messages = {"unknown": "unknown", "type": "object"}


def _name_text(**kw: Any) -> fields.String:
    return fields.String(validate=validate.Length(1, MAX_NAME, error="length|{min}|{max}"),
                         error_messages=_errors("text"), **kw)


class OrgName(_Strict):
    zh = _name_text(required=True)
    en = _name_text(required=True)


class OrgNamePatch(_Strict):
    zh = _name_text()
    en = _name_text()


def _nested(schema: type[Schema], **kw: Any) -> fields.Nested:
    return fields.Nested(schema, error_messages=_errors("object"), **kw)


class OrgUnitInput(_Strict):
    code = _code(required=True)
    name = _nested(OrgName, required=True)
    type = _choice(UNIT_TYPES, required=True)
    valid_from = _date(required=True)
    valid_to = _date(allow_none=True)
    location = _code(allow_none=True)
    parents = _codes(metadata={"description": "tree code → parent unit code"})


class OrgUnitPatch(_Strict):
    name = _nested(OrgNamePatch)
    type = _choice(UNIT_TYPES)


class OrgTreeInput(_Strict):
    code = _code(required=True)
    name = _nested(OrgName, required=True)
    kind = _choice(TREE_KINDS, required=True)
    valid_from = _date(required=True)
    valid_to = _date(allow_none=True)


class LocationInput(_Strict):
    code = _code(required=True)
    name = _nested(OrgName, required=True)
    kind = _choice(LOCATION_KINDS, required=True)
    parent = _code(allow_none=True)


class ReparentInput(_Strict):
    unit = _code(required=True)
    parent = _code(required=True)
    on = _date(required=True)


class NewOrgUnit(_Strict):
    code = _code(required=True)
    name = _nested(OrgName, required=True)
    type = _choice(UNIT_TYPES, required=True)


class SplitInput(_Strict):
    into = fields.List(_nested(NewOrgUnit), required=True,
                       validate=validate.Length(1, _MAX_UNITS, error="count|{min}|{max}"),
                       error_messages=_errors("list"))
    on = _date(required=True)
    reassign = fields.Dict(keys=_user(), values=_code(), error_messages=_errors("object"),
                           metadata={"description": "member user code → new unit code"})
    children = _codes(metadata={"description": "child unit code → new unit code"})


class MergeInput(_Strict):
    units = fields.List(_code(), required=True,
                        validate=validate.Length(1, _MAX_UNITS, error="count|{min}|{max}"),
                        error_messages=_errors("list"))
    into = _code("an existing unit to merge into (give into or into_new)")
    into_new = _nested(NewOrgUnit, metadata={"description": "a new unit to merge into"})
    on = _date(required=True)


class MoveInput(_Strict):
    location = _code(required=True)
    on = _date(required=True)


class HeadInput(_Strict):
    user = _user(required=True)
    on = _date(required=True)


class AssignmentInput(_Strict):
    user = _user(required=True)
    unit = _code(required=True)
    primary = StrictBoolean(load_default=True, error_messages=_errors("boolean"))
    on = _date(required=True)


# -- responses (documentation only) ----------------------------------------------

class OrgPeriod(Schema):
    user = fields.String(required=True)
    valid_from = fields.Date(required=True)
    valid_to = fields.Date(required=True, allow_none=True)


class OrgMember(OrgPeriod):
    primary = fields.Boolean(required=True)


class OrgUnit(Schema):
    code = fields.String(required=True)
    name = fields.Nested(OrgName, required=True)
    type = fields.String(required=True)
    valid_from = fields.Date(required=True)
    valid_to = fields.Date(required=True, allow_none=True)


class OrgUnitPage(Schema):
    items = fields.List(fields.Nested(OrgUnit), required=True)
    total = fields.Integer(required=True)
    page = fields.Integer(required=True)
    page_size = fields.Integer(required=True)


class OrgUnitCard(OrgUnit):
    as_of = fields.Date(required=True)
    location = fields.String(required=True, allow_none=True)
    location_path = fields.List(fields.String(), required=True,
                                metadata={"description": "the location, then its parents"})
    parents = fields.Dict(keys=fields.String(), values=fields.String(), required=True,
                          metadata={"description": "tree code → parent unit code"})
    children = fields.Dict(keys=fields.String(), values=fields.List(fields.String()),
                           required=True, metadata={"description": "tree code → child units"})
    heads = fields.List(fields.Nested(OrgPeriod), required=True)
    members = fields.List(fields.Nested(OrgMember), required=True)


class OrgTree(Schema):
    code = fields.String(required=True)
    name = fields.Nested(OrgName, required=True)
    kind = fields.String(required=True)
    valid_from = fields.Date(required=True)
    valid_to = fields.Date(required=True, allow_none=True)


class Location(Schema):
    code = fields.String(required=True)
    name = fields.Nested(OrgName, required=True)
    kind = fields.String(required=True)
    parent = fields.String(required=True, allow_none=True)


class OrgWalk(Schema):
    tree = fields.String(required=True)
    unit = fields.String(required=True)
    as_of = fields.Date(required=True)
    units = fields.List(fields.String(), required=True,
                        metadata={"description": "descendants by depth then code, or "
                                                 "ancestors parent first"})


class OrgHead(Schema):
    unit = fields.String(required=True)
    user = fields.String(required=True)


class HeadsAbove(Schema):
    user = fields.String(required=True)
    tree = fields.String(required=True)
    as_of = fields.Date(required=True)
    heads = fields.List(fields.Nested(OrgHead), required=True,
                        metadata={"description": "nearest first"})


class OrgChange(Schema):
    """What a change did: the units it touched, from when."""

    on = fields.Date(required=True)
    units = fields.List(fields.String(), required=True,
                        metadata={"description": "the units changed or created"})
    closed = fields.List(fields.String(), required=True,
                         metadata={"description": "the units closed on ``on``"})


def _list(item: type[Schema]) -> type[Schema]:
    return Schema.from_dict({"items": fields.List(fields.Nested(item), required=True)},
                            name=f"{item.__name__}List")


#: every schema of the org endpoints, by OpenAPI component name.
ORG_SCHEMAS: Mapping[str, type[Schema]] = {
    schema.__name__: schema for schema in (
        OrgName, OrgNamePatch, OrgUnitInput, OrgUnitPatch, OrgTreeInput, LocationInput,
        ReparentInput, NewOrgUnit, SplitInput, MergeInput, MoveInput, HeadInput,
        AssignmentInput, OrgPeriod, OrgMember, OrgUnit, OrgUnitPage, OrgUnitCard, OrgTree,
        Location, OrgWalk, OrgHead, HeadsAbove, OrgChange)
} | {"OrgTreeList": _list(OrgTree), "LocationList": _list(Location)}


# -- turning marshmallow's findings into one located error ---------------------------

def load_body(schema: type[Schema], body: Mapping[str, Any]) -> dict[str, Any]:
    """``body`` loaded by ``schema``; ValidationFailed naming every bad path."""
    loaded, found = problems(schema, body)
    if loaded is not None:
        return loaded
    summary, details = described(found, _MESSAGES)
    raise ValidationFailed(summary, details={"fields": details})
