"""Entity specs as marshmallow schemas for the OpenAPI document (runtime
layer, HTTP edge).

The record service validates records itself; these schemas only *describe*
the wire format so apispec's MarshmallowPlugin can render JSON Schema. Per
entity: the record as returned (``Record``), the create body (``Input``), the
update body (``Patch``) and, per child table, its line and line input. Money
and decimals are strings on the way out (every digit kept) and a string or a
number on the way in; bounds are written as JSON numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable, Mapping

from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import Schema, fields, validate

from yunying.metadata.spec import ChildSpec, EntitySpec, FieldSpec
from yunying.runtime.entity.tables import CODE_LENGTH, MONEY_PRECISION, MONEY_SCALE
from yunying.runtime.registry import Registry

__all__ = ["DecimalOut", "DecimalIn", "register_types", "EntitySchemas", "entity_schemas",
           "component_names"]


class DecimalOut(fields.String):
    """A decimal as the API writes it: a string of digits."""


class DecimalIn(fields.Field):
    """A decimal as the API reads it: a string of digits or a JSON number."""


def register_types(plugin: MarshmallowPlugin) -> None:
    """Teach ``plugin`` the OpenAPI types of the custom fields."""
    plugin.map_to_openapi_type(DecimalOut, "string", "decimal")
    plugin.map_to_openapi_type(DecimalIn, ["string", "number"], None)


def _bound(value: Decimal | None) -> int | float | None:
    """A constraint bound as a JSON number (documentation only)."""
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


def _metadata(f: FieldSpec, **extra: Any) -> dict[str, Any]:
    data = {"title": f.label.en, "description": _description(f)}
    data.update({k: v for k, v in extra.items() if v is not None})
    return data


def _description(f: FieldSpec) -> str:
    text = f"{f.label.zh} / {f.label.en}"
    if f.description is not None:
        text += f" — {f.description.zh} / {f.description.en}"
    return text


def _length(f: FieldSpec, maximum: int | None) -> list:
    if maximum is None and f.min_length is None:
        return []
    return [validate.Length(min=f.min_length, max=maximum)]


def _string(f: FieldSpec, registry: Registry, writing: bool, **kw: Any) -> fields.Field:
    return fields.String(validate=_length(f, f.length),
                         metadata=_metadata(f, pattern=f.pattern), **kw)


def _integer(f: FieldSpec, registry: Registry, writing: bool, **kw: Any) -> fields.Field:
    return fields.Integer(metadata=_metadata(
        f, minimum=_bound(f.minimum), maximum=_bound(f.maximum)), **kw)


def _decimal(f: FieldSpec, registry: Registry, writing: bool, **kw: Any) -> fields.Field:
    money = f.type == "money"
    precision = f.precision or (MONEY_PRECISION if money else 18)
    scale = f.scale if f.scale is not None else MONEY_SCALE
    digits = precision - scale
    fraction = f"(\\.[0-9]{{1,{scale}}})?" if scale else ""
    pattern = f"^-?[0-9]{{1,{digits}}}{fraction}$" if digits else f"^-?0?{fraction}$"
    meta = _metadata(f, pattern=pattern, minimum=_bound(f.minimum),
                     maximum=_bound(f.maximum), x_precision=precision, x_scale=scale)
    if writing:
        return DecimalIn(metadata=meta, **kw)
    return DecimalOut(metadata=meta, **kw)


def _enum(f: FieldSpec, registry: Registry, writing: bool, **kw: Any) -> fields.Field:
    dictionary = registry.dictionary(f.dictionary or "")
    # stored records may hold items retired since; only new values must be active
    items = () if dictionary is None else dictionary.items
    codes = [i.code for i in items if i.active or not writing]
    checks = [validate.OneOf(codes)] if codes else []
    return fields.String(validate=checks, metadata=_metadata(f, x_dictionary=f.dictionary),
                         **kw)


def _identifier(f: FieldSpec, registry: Registry, writing: bool, **kw: Any) -> fields.Field:
    target = {"reference": f.reference, "attachment": "attachment"}
    return fields.Integer(metadata=_metadata(f, minimum=1, x_reference=target.get(f.type)),
                          **kw)


def _code(f: FieldSpec, registry: Registry, writing: bool, **kw: Any) -> fields.Field:
    return fields.String(validate=[validate.Length(max=CODE_LENGTH)],
                         metadata=_metadata(f, x_code_of=f.type), **kw)


def _simple(kind: type[fields.Field]) -> Callable[..., fields.Field]:
    def build(f: FieldSpec, registry: Registry, writing: bool, **kw: Any) -> fields.Field:
        return kind(metadata=_metadata(f), **kw)
    return build


_FIELDS: Mapping[str, Callable[..., fields.Field]] = {
    "string": _string,
    "text": _string,
    "integer": _integer,
    "decimal": _decimal,
    "money": _decimal,
    "boolean": _simple(fields.Boolean),
    "date": _simple(fields.Date),
    "datetime": _simple(fields.DateTime),
    "enum": _enum,
    "reference": _identifier,
    "attachment": _identifier,
    "user": _code,
    "org_unit": _code,
}


def _declared(specs: tuple[FieldSpec, ...], registry: Registry, *, writing: bool,
              required: Callable[[FieldSpec], bool]) -> dict[str, fields.Field]:
    result: dict[str, fields.Field] = {}
    for f in specs:
        build = _FIELDS.get(f.type)
        if build is None:  # computed fields are not stored (yet)
            continue
        # stored required fields are NOT NULL: never null out, never nulled in
        result[f.code] = build(f, registry, writing, required=required(f),
                               allow_none=not f.required)
    return result


def _main_system() -> dict[str, fields.Field]:
    return {
        "id": fields.Integer(required=True, metadata={"minimum": 1}),
        "version": fields.Integer(required=True, metadata={"minimum": 1}),
        "created_at": fields.DateTime(required=True),
        "created_by": fields.String(allow_none=True),
        "updated_at": fields.DateTime(required=True),
        "updated_by": fields.String(allow_none=True),
    }


@dataclass(frozen=True)
class EntitySchemas:
    """The marshmallow schemas of one entity, by component name."""

    schemas: Mapping[str, type[Schema]]


def component_names(entity: str, child: str | None = None) -> dict[str, str]:
    """Component names: ``record``, ``input``, ``patch``, ``page`` (or, for a
    child table, ``line`` and ``line_input``)."""
    if child is not None:
        return {"line": f"{entity}.{child}", "line_input": f"{entity}.{child}.Input"}
    return {"record": entity, "input": f"{entity}.Input", "patch": f"{entity}.Patch",
            "page": f"{entity}.Page"}


def _creatable(spec: EntitySpec) -> Callable[[FieldSpec], bool]:
    numbered = spec.numbering.field if spec.numbering else None
    return lambda f: f.required and f.default is None and f.code != numbered


def _child_schemas(spec: EntitySpec, child: ChildSpec,
                   registry: Registry) -> tuple[type[Schema], type[Schema]]:
    names = component_names(spec.qualified_code, child.code)
    line = Schema.from_dict({
        "id": fields.Integer(required=True, metadata={"minimum": 1}),
        "line_no": fields.Integer(required=True, metadata={"minimum": 1}),
        **_declared(child.fields, registry, writing=False, required=lambda f: False),
    }, name=names["line"])
    line_input = Schema.from_dict({
        "id": fields.Integer(metadata={
            "minimum": 1, "description": "an existing line's id (updates only)"}),
        **_declared(child.fields, registry, writing=True,
                    required=lambda f: f.required and f.default is None),
    }, name=names["line_input"])
    return line, line_input


def entity_schemas(spec: EntitySpec, registry: Registry) -> EntitySchemas:
    """Every schema of ``spec``, in dependency order (lines first)."""
    names = component_names(spec.qualified_code)
    result: dict[str, type[Schema]] = {}
    record_children: dict[str, fields.Field] = {}
    input_children: dict[str, fields.Field] = {}
    for child in spec.children:
        line, line_input = _child_schemas(spec, child, registry)
        child_names = component_names(spec.qualified_code, child.code)
        result[child_names["line"]] = line
        result[child_names["line_input"]] = line_input
        record_children[child.code] = fields.List(fields.Nested(line))
        input_children[child.code] = fields.List(fields.Nested(line_input))
    declared_out = _declared(spec.fields, registry, writing=False, required=lambda f: False)
    result[names["record"]] = Schema.from_dict(
        {**_main_system(), **declared_out, **record_children}, name=names["record"])
    result[names["input"]] = Schema.from_dict({
        **_declared(spec.fields, registry, writing=True, required=_creatable(spec)),
        **input_children}, name=names["input"])
    result[names["patch"]] = Schema.from_dict({
        "version": fields.Integer(required=True, metadata={
            "minimum": 1, "description": "the version read (optimistic lock)"}),
        **_declared(spec.fields, registry, writing=True, required=lambda f: False),
        **input_children}, name=names["patch"])
    result[names["page"]] = Schema.from_dict({
        "items": fields.List(fields.Nested(result[names["record"]]), required=True),
        "total": fields.Integer(required=True),
        "page": fields.Integer(required=True),
        "page_size": fields.Integer(required=True),
    }, name=names["page"])
    return EntitySchemas(result)
