"""List views, forms and menus in the metamodel: the schema, the built
specs, the derived defaults and the package checks (with condition formulas)."""

from __future__ import annotations

import pytest

from yunying.metadata.builder import package_from_documents
from yunying.metadata.loader import load_packages
from yunying.metadata.views import (
    FormFieldSpec, ListViewSpec, form_of, list_view_of, widget_of,
)
from yunying.platform.errors import InvalidPackage
from yunying.platform.i18n import Text
from yunying.runtime.formula.package_check import FORMULA_CHECKS

from metadata_paths import MODULES

MANIFEST = ("code: desk\nversion: 1.0.0\nname: {zh: 前台, en: Desk}\n"
            "menus:\n  - {code: docs, name: {zh: 单据, en: Documents}, order: 2}\n")
ENTITY = """code: claim
name: {zh: 报销单, en: Claim}
menu: %(menu)s
fields:
  - {code: kind, type: enum, dictionary: kind, required: true, name: {zh: 类型, en: Kind}}
  - {code: amount, type: money, name: {zh: 金额, en: Amount}}
  - {code: reason, type: text, name: {zh: 事由, en: Reason}}
  - {code: note, type: string, length: 20, name: {zh: 备注, en: Note}}
children:
  - code: lines
    name: {zh: 明细, en: Lines}
    fields:
      - {code: qty, type: integer, name: {zh: 数量, en: Qty}}
list:
  columns: [%(column)s, amount]
  filters: [kind]
  sort: [-amount, -id]
form:
  sections:
    - code: main
      name: {zh: 主要, en: Main}
      columns: 3
      fields:
        - kind
        - {field: amount, widget: %(widget)s}
        - {field: reason, visible_when: "%(visible)s", required_when: "amount > 100"}
        - {field: %(again)s, span: 2}
    - code: lines
      name: {zh: 明细, en: Lines}
      children: [%(child)s]
"""
GOOD = dict(menu="docs", column="kind", widget="money", visible="amount > 100",
            again="note", child="lines")
DICTIONARY = ("code: kind\nname: {zh: 类型, en: Kind}\nitems:\n"
              "  - {code: trip, name: {zh: 差旅, en: Trip}}\n")


def _package(tmp_path, **changes):
    root = tmp_path / "desk"
    (root / "entities").mkdir(parents=True)
    (root / "dictionaries").mkdir()
    (root / "package.yaml").write_text(MANIFEST, encoding="utf-8")
    (root / "dictionaries" / "kind.yaml").write_text(DICTIONARY, encoding="utf-8")
    (root / "entities" / "claim.yaml").write_text(ENTITY % {**GOOD, **changes},
                                                  encoding="utf-8")
    return root


def test_views_build_into_specs(tmp_path):
    [spec] = load_packages([_package(tmp_path)], checks=FORMULA_CHECKS)
    claim = spec.entity("claim")
    assert spec.menus[0].code == "docs" and spec.menus[0].order == 2
    assert claim.menu == "docs"
    assert claim.list_view == ListViewSpec(("kind", "amount"), ("kind",), ("-amount", "-id"), 20)
    form = claim.form
    assert [s.code for s in form.sections] == ["main", "lines"]
    assert form.sections[0].columns == 3 and form.sections[1].children == ("lines",)
    assert form.field("reason") == FormFieldSpec(
        "reason", visible_when="amount > 100", required_when="amount > 100")
    assert form.field("note").span == 2
    assert [(f, k) for f, k, _, _ in form.conditions()] == [
        ("reason", "visible_when"), ("reason", "required_when")]
    assert widget_of(claim.field("reason"), form.field("reason")) == "textarea"
    assert widget_of(claim.field("kind")) == "select"


@pytest.mark.parametrize("changes, expected", [
    ({"menu": "nowhere"}, [("unknown_menu", "$.menu")]),
    ({"column": "nope"}, [("unknown_field", "$.list.columns[0]")]),
    ({"widget": "radio"}, [("invalid_widget", "$.form.sections[0].fields[1].widget")]),
    ({"again": "kind"}, [("duplicate_field", "$.form.sections[0].fields[3]")]),
    ({"child": "rows"}, [("unknown_child", "$.form.sections[1].children[0]")]),
    ({"visible": "amount + 1"},
     [("formula_type", "$.form.sections[0].fields[2].visible_when")]),
    ({"visible": "amount > missing"},
     [("formula_unknown_name", "$.form.sections[0].fields[2].visible_when")]),
])
def test_view_problems_are_located(tmp_path, changes, expected):
    with pytest.raises(InvalidPackage) as caught:
        load_packages([_package(tmp_path, **changes)], checks=FORMULA_CHECKS)
    assert [(i.code, i.path) for i in caught.value.issues] == expected
    assert all(i.message.zh and i.message.en for i in caught.value.issues)


def test_a_required_field_cannot_be_hidden(tmp_path):
    root = _package(tmp_path)
    path = root / "entities" / "claim.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace(
        "- kind\n", "- {field: kind, visible_when: \"amount > 1\"}\n"), encoding="utf-8")
    with pytest.raises(InvalidPackage) as caught:
        load_packages([root], checks=FORMULA_CHECKS)
    assert [(i.code, i.path) for i in caught.value.issues] == [
        ("hidden_required", "$.form.sections[0].fields[0].visible_when")]


def test_schema_refuses_unknown_keys_and_bad_sizes(tmp_path):
    root = _package(tmp_path)
    path = root / "entities" / "claim.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace(
        "columns: 3", "columns: 9").replace("filters: [kind]", "filters: [kind]\n  colour: red"),
        encoding="utf-8")
    with pytest.raises(InvalidPackage) as caught:
        load_packages([root])
    assert sorted((i.code, i.path) for i in caught.value.issues) == [
        ("schema", "$.form.sections[0].columns"), ("schema", "$.list.colour")]


def test_derived_views_of_an_entity_without_blocks():
    spec = package_from_documents({
        "package": {"code": "p", "version": "1.0.0", "name": {"zh": "包", "en": "P"}},
        "entity": {"e": {"code": "e", "name": {"zh": "实", "en": "E"}, "title_field": "name",
                         "fields": [
            {"code": "day", "type": "date", "name": {"zh": "日", "en": "Day"}},
            {"code": "memo", "type": "text", "name": {"zh": "注", "en": "Memo"}},
            {"code": "name", "type": "string", "length": 9, "name": {"zh": "名", "en": "Name"}},
            {"code": "n", "type": "integer", "name": {"zh": "数", "en": "N"}}],
            "children": [{"code": "rows", "name": {"zh": "行", "en": "Rows"}, "fields": [
                {"code": "x", "type": "integer", "name": {"zh": "x", "en": "x"}}]}]}}})
    entity = spec.entity("e")
    view = list_view_of(entity)
    assert view.columns == ("name", "day", "n")        # title first, no long text
    assert view.filters == ("day", "n") and view.sort == ("-id",)
    form = form_of(entity)
    assert [f.field for f in form.sections[0].fields] == ["day", "memo", "name", "n"]
    assert form.sections[0].label == Text("实", "E")
    assert form.sections[1].children == ("rows",)


def test_bundled_requisition_declares_its_conditional_field():
    [*_, materials] = load_packages([MODULES / "base", MODULES / "finance",
                                     MODULES / "materials"], checks=FORMULA_CHECKS)
    placed = materials.entity("requisition").form.field("urgent_reason")
    assert placed.visible_when == placed.required_when == "urgency = 'urgent'"
    assert materials.entity("requisition").menu == "documents"
