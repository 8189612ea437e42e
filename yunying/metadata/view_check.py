"""Cross-checks of an entity's list view, form and menu (metadata layer).

Run by :class:`yunying.metadata.crossref.Checker` for every entity, after
the JSON Schema passed: every column, filter, sort key and placed field must
be a field of the entity, placed once; child sections must name child tables;
a widget must suit its field's type; a ``menu`` must be one of the package's
menus; a field that is always required cannot be hidden by a condition (use
``required_when``); a child's ``totals`` must be numeric fields of it. Condition formulas are type-checked with the entity's
other formulas (:mod:`yunying.runtime.formula.package_check`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from yunying.metadata.spec import SYSTEM_COLUMNS, EntitySpec
from yunying.metadata.views import WIDGETS, FormSpec, ListViewSpec

if TYPE_CHECKING:
    from yunying.metadata.crossref import Checker
    from yunying.metadata.yaml_source import Source

__all__ = ["check_views"]


def check_views(check: "Checker", spec: EntitySpec, source: "Source") -> None:
    """Add an issue to ``check`` for every problem of ``spec``'s views and menu."""
    for j, child in enumerate(spec.children):
        for k, code in enumerate(child.totals or ()):
            found = child.field(code)
            if found is None or not found.is_numeric:
                check.add(source, "unknown_field", f"$.children[{j}].totals[{k}]",
                          f"子表 {child.code} 没有数值字段 {code}",
                          f"child table {child.code} has no numeric field {code!r}")
    if spec.list_view is not None:
        _list_view(check, spec, spec.list_view, source)
    if spec.form is not None:
        _form(check, spec, spec.form, source)
    if spec.menu is not None and spec.menu not in {m.code for m in check.spec.menus}:
        check.add(source, "unknown_menu", "$.menu",
                  f"包 {check.spec.code} 的 menus 中没有菜单 {spec.menu}",
                  f"package {check.spec.code} declares no menu {spec.menu!r} under menus")


def _list_view(check: "Checker", spec: EntitySpec, view: ListViewSpec, source: "Source") -> None:
    for key, codes in (("columns", view.columns), ("filters", view.filters)):
        for k, code in enumerate(codes):
            check.known_field(spec, source, f"$.list.{key}[{k}]", code)
    for k, code in enumerate(view.sort):
        if code.lstrip("-") not in SYSTEM_COLUMNS:
            check.known_field(spec, source, f"$.list.sort[{k}]", code.lstrip("-"))


def _form(check: "Checker", spec: EntitySpec, form: FormSpec, source: "Source") -> None:
    placed: set[str] = set()
    sections: set[str] = set()
    children = {c.code for c in spec.children}
    for i, section in enumerate(form.sections):
        if section.code in sections:
            check.add(source, "duplicate_code", f"$.form.sections[{i}].code",
                      f"表单分区编码 {section.code} 重复",
                      f"duplicate form section code {section.code!r}")
        sections.add(section.code)
        for k, child in enumerate(section.children):
            if child not in children:
                check.add(source, "unknown_child", f"$.form.sections[{i}].children[{k}]",
                          f"实体 {spec.code} 没有子表 {child}",
                          f"entity {spec.code} has no child table {child!r}")
    for i, j, field in form.placed():
        path = f"$.form.sections[{i}].fields[{j}]"
        if field.field in placed:
            check.add(source, "duplicate_field", path,
                      f"字段 {field.field} 在表单中出现了多次",
                      f"field {field.field!r} is placed on the form more than once")
        placed.add(field.field)
        found = check.known_field(spec, source, path, field.field)
        if found is None:
            continue
        if field.widget is not None and field.widget not in WIDGETS.get(found.type, ()):
            allowed = ", ".join(WIDGETS.get(found.type, ()))
            check.add(source, "invalid_widget", f"{path}.widget",
                      f"{found.type} 字段 {field.field} 不能使用控件 {field.widget}（可用：{allowed}）",
                      f"a {found.type} field ({field.field!r}) cannot use widget "
                      f"{field.widget!r} (allowed: {allowed})")
        if found.required and field.visible_when is not None:
            check.add(source, "hidden_required", f"{path}.visible_when",
                      f"字段 {field.field} 总是必填，不能按条件隐藏；请改用 required_when",
                      f"field {field.field!r} is always required and cannot be hidden by a "
                      f"condition; use required_when instead")
