"""Metadata endpoints of the JSON API (runtime layer, HTTP edge).

Read-only descriptions of the installed metadata, for generated UIs and API
clients: entities (fields, constraints, enum items, references, children,
numbering, dimensions, computed fields with their formulas — read-only —,
default formulas and validation rules), installed packages, dictionaries. The ``describe_*``
functions are pure (spec → JSON-ready dict); the views only look things up.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from flask import Blueprint
from sqlalchemy import select

from yunying.metadata.spec import (
    ChildSpec, DictionaryItemSpec, DictionarySpec, EntitySpec, FieldSpec, RuleSpec,
)
from yunying.metadata.views import FormSpec, ListViewSpec, form_of, list_view_of
from yunying.platform.errors import NotFound
from yunying.platform.i18n import Text
from yunying.platform.tables import package as package_table
from yunying.runtime.api.context import services
from yunying.runtime.entity.tables import CODE_LENGTH, MONEY_PRECISION
from yunying.runtime.registry import Registry

__all__ = [
    "blueprint", "describe_field", "describe_entity", "summarise_entity",
    "describe_dictionary", "describe_rule", "entity_spec",
]

blueprint = Blueprint("meta", __name__, url_prefix="/api/v1/meta")


def _label(text: Text | None) -> dict[str, str] | None:
    return None if text is None else text.as_dict()


def _item(item: DictionaryItemSpec) -> dict[str, Any]:
    return {"code": item.code, "name": item.label.as_dict(), "parent": item.parent,
            "sort": item.sort, "valid_from": item.valid_from, "valid_to": item.valid_to,
            "active": item.active}


def describe_dictionary(spec: DictionarySpec) -> dict[str, Any]:
    return {"code": spec.qualified_code, "package": spec.package,
            "name": spec.label.as_dict(), "hierarchical": spec.hierarchical,
            "items": [_item(i) for i in spec.items]}


def _string_extras(f: FieldSpec, registry: Registry) -> dict[str, Any]:
    return {"max_length": f.length, "min_length": f.min_length, "pattern": f.pattern}


def _number_extras(f: FieldSpec, registry: Registry) -> dict[str, Any]:
    return {"minimum": f.minimum, "maximum": f.maximum}


def _decimal_extras(f: FieldSpec, registry: Registry) -> dict[str, Any]:
    money = f.value_type == "money"
    precision = f.precision or (MONEY_PRECISION if money else 18)
    scale = f.scale if f.scale is not None else 2
    return {"precision": precision, "scale": scale,
            **_number_extras(f, registry)}


def _enum_extras(f: FieldSpec, registry: Registry) -> dict[str, Any]:
    dictionary = registry.dictionary(f.dictionary or "")
    items = [] if dictionary is None else [
        {"code": i.code, "name": i.label.as_dict()} for i in dictionary.items if i.active]
    return {"dictionary": f.dictionary, "items": items}


def _reference_extras(f: FieldSpec, registry: Registry) -> dict[str, Any]:
    target = registry.entity(f.reference or "")
    return {"entity": f.reference,
            "entity_name": None if target is None else target.label.as_dict(),
            "title_field": None if target is None else target.title_field,
            "key_field": None if target is None else target.key_field}


def _code_extras(f: FieldSpec, registry: Registry) -> dict[str, Any]:
    return {"max_length": CODE_LENGTH}


def _none(f: FieldSpec, registry: Registry) -> dict[str, Any]:
    return {}


_EXTRAS: Mapping[str, Callable[[FieldSpec, Registry], dict[str, Any]]] = {
    "string": _string_extras,
    "text": lambda f, r: {"min_length": f.min_length, "pattern": f.pattern},
    "integer": _number_extras,
    "decimal": _decimal_extras,
    "money": _decimal_extras,
    "enum": _enum_extras,
    "reference": _reference_extras,
    "user": _code_extras,
    "org_unit": _code_extras,
}


def describe_field(f: FieldSpec, registry: Registry) -> dict[str, Any]:
    """One field: type, label, constraints and what its type adds.

    A computed field is ``read_only`` and carries its ``formula`` and
    ``result`` type (with the extras of that type: precision, scale, length);
    a field with a default formula carries ``default_formula``.
    """
    described = {
        "code": f.code, "type": f.type, "name": f.label.as_dict(),
        "description": _label(f.description), "required": f.required,
        "unique": f.unique, "indexed": f.indexed, "default": f.default,
        "read_only": f.type == "computed",
    }
    if f.type == "computed":
        described.update({"formula": f.formula, "result": f.result})
    if f.default_formula is not None:
        described["default_formula"] = f.default_formula
    extras = _EXTRAS.get(f.value_type, _none)(f, registry)
    described.update({k: v for k, v in extras.items() if v is not None})
    return described


def describe_rule(rule: RuleSpec) -> dict[str, Any]:
    """A validation rule: the record fails it only when the formula is FALSE."""
    return {"code": rule.code, "formula": rule.formula, "field": rule.field,
            "message": rule.message.as_dict()}


def _describe_child(child: ChildSpec, registry: Registry) -> dict[str, Any]:
    return {"code": child.code, "name": child.label.as_dict(),
            "fields": [describe_field(f, registry) for f in child.fields],
            "rules": [describe_rule(r) for r in child.rules]}


def summarise_entity(spec: EntitySpec) -> dict[str, Any]:
    """The list entry of an entity."""
    return {"code": spec.qualified_code, "package": spec.package,
            "name": spec.label.as_dict(), "fields": len(spec.fields),
            "children": [c.code for c in spec.children]}


def describe_entity(spec: EntitySpec, registry: Registry) -> dict[str, Any]:
    """Everything a client needs to render and validate an entity's records."""
    numbering = spec.numbering
    return {
        **summarise_entity(spec),
        "description": _label(spec.description),
        "fields": [describe_field(f, registry) for f in spec.fields],
        "children": [_describe_child(c, registry) for c in spec.children],
        "key_field": spec.key_field,
        "title_field": spec.title_field,
        "search_fields": list(spec.search_fields),
        "default_sort": list(spec.default_sort),
        "numbering": None if numbering is None else {
            "field": numbering.field, "pattern": numbering.pattern, "reset": numbering.reset},
        "dimensions": {"org": spec.org_dimension, "date": spec.date_dimension},
        "indexes": [{"fields": list(i.fields), "unique": i.unique} for i in spec.indexes],
        "rules": [describe_rule(r) for r in spec.rules],
        "menu": spec.menu,
        "list": _describe_list(list_view_of(spec)),
        "form": _describe_form(form_of(spec)),
    }


def _describe_list(view: ListViewSpec) -> dict[str, Any]:
    return {"columns": list(view.columns), "filters": list(view.filters),
            "sort": list(view.sort), "page_size": view.page_size}


def _describe_form(form: FormSpec) -> dict[str, Any]:
    """The effective form (declared or derived), conditions as formula text."""
    return {"sections": [{
        "code": s.code, "name": s.label.as_dict(), "columns": s.columns,
        "children": list(s.children),
        "fields": [{"field": f.field, "widget": f.widget, "span": f.span,
                    "visible_when": f.visible_when, "required_when": f.required_when,
                    "readonly_when": f.readonly_when, "help": _label(f.help)}
                   for f in s.fields]} for s in form.sections]}


def entity_spec(registry: Registry, code: str) -> EntitySpec:
    """The installed entity ``code`` (qualified); NotFound otherwise."""
    spec = registry.entity(code)
    if spec is None:
        shown = code[:100]
        raise NotFound(Text(f"没有已安装的实体 {shown}", f"there is no installed entity {shown}"),
                       code="unknown_entity", details={"entity": shown})
    return spec


def _registry() -> Registry:
    return services().runtime().registry


@blueprint.get("/entities")
def list_entities() -> dict[str, Any]:
    registry = _registry()
    return {"items": [summarise_entity(s) for _, s in sorted(registry.entities.items())]}


@blueprint.get("/entities/<code>")
def get_entity(code: str) -> dict[str, Any]:
    registry = _registry()
    return describe_entity(entity_spec(registry, code), registry)


@blueprint.get("/packages")
def list_packages() -> dict[str, Any]:
    with services().db.connect() as conn:
        rows = conn.execute(select(package_table).order_by(package_table.c.code)).all()
    return {"items": [{
        "code": r.code, "version": r.version, "name": {"zh-CN": r.name_zh, "en": r.name_en},
        "installed_at": r.installed_at, "installed_by": r.installed_by,
        "metadata_version": r.metadata_version} for r in rows]}


@blueprint.get("/dictionaries/<code>")
def get_dictionary(code: str) -> dict[str, Any]:
    spec = _registry().dictionary(code)
    if spec is None:
        shown = code[:100]
        raise NotFound(Text(f"没有已安装的字典 {shown}", f"there is no installed dictionary {shown}"),
                       details={"dictionary": shown})
    return describe_dictionary(spec)

