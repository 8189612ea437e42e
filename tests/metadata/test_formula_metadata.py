"""Computed fields, default formulas and rules in the metamodel: the schema,
the built specs, the loader's check hook and the package formula check."""

from __future__ import annotations

import pytest

from yunying.metadata.builder import field_from_document, package_from_documents
from yunying.metadata.loader import Finding, load_packages
from yunying.metadata.schema_check import SchemaChecker
from yunying.metadata.spec import COMPUTED_RESULTS, FieldSpec, RuleSpec
from yunying.metadata.yaml_source import parse_yaml
from yunying.platform.errors import InvalidPackage
from yunying.platform.i18n import Text
from yunying.runtime.formula.entity_context import (
    aggregate_context, child_code, context_for, field_info,
)
from yunying.runtime.formula.package_check import FORMULA_CHECKS, check_formulas
from yunying.runtime.formula.types import FType

from metadata_paths import GOOD, MODULES

NAME = {"zh": "名", "en": "Name"}
FIELD = "code: thing\nname: {zh: 物, en: Thing}\nfields:\n  - "


def _schema_issues(text: str) -> list[tuple[str, str]]:
    source, issues = parse_yaml(text.encode(), "f.yaml")
    assert issues == []
    return [(i.path, i.message.en) for i in SchemaChecker().check("entity", source)]


@pytest.mark.parametrize("field, expected", [
    ("{code: a, type: computed, formula: x, result: money, name: {zh: 甲, en: A}}", []),
    ("{code: a, type: computed, formula: x, result: money, precision: 20, scale: 4, "
     "indexed: true, name: {zh: 甲, en: A}}", []),
    ("{code: a, type: computed, formula: x, result: string, length: 8, name: {zh: 甲, en: A}}",
     []),
    ("{code: a, type: computed, formula: x, result: string, name: {zh: 甲, en: A}}",
     [("$.fields[0].length", "missing required key 'length' (fields of type computed need it)")]),
    ("{code: a, type: computed, formula: x, result: decimal, precision: 9, "
     "name: {zh: 甲, en: A}}",
     [("$.fields[0].scale", "missing required key 'scale' (fields of type computed need it)")]),
    ("{code: a, type: computed, formula: x, result: integer, length: 8, scale: 2, "
     "name: {zh: 甲, en: A}}",
     [("$.fields[0].length", "'length' does not apply to fields of type computed"),
      ("$.fields[0].scale", "'scale' does not apply to fields of type computed")]),
    ("{code: a, type: computed, formula: x, result: date, required: true, default: 1, "
     "default_formula: y, name: {zh: 甲, en: A}}",
     [("$.fields[0].default", "'default' does not apply to fields of type computed"),
      ("$.fields[0].default_formula",
       "'default_formula' does not apply to fields of type computed"),
      ("$.fields[0].required", "'required' does not apply to fields of type computed")]),
    ("{code: a, type: computed, formula: x, result: money2, name: {zh: 甲, en: A}}",
     [("$.fields[0].result", 'must be one of: string, text, integer, decimal, money, '
       'boolean, date, datetime; got "money2"')]),
    ("{code: a, type: integer, result: integer, name: {zh: 甲, en: A}}",
     [("$.fields[0].result", "'result' does not apply to fields of type integer")]),
    ("{code: a, type: reference, entity: item, default_formula: '1', name: {zh: 甲, en: A}}",
     [("$.fields[0].default_formula",
       "'default_formula' does not apply to fields of type reference")]),
    ("{code: a, type: integer, default_formula: '', name: {zh: 甲, en: A}}",
     [("$.fields[0].default_formula", "must have at least 1 character(s)")]),
])
def test_computed_and_default_formula_keys_follow_the_type(field, expected):
    assert _schema_issues(FIELD + field + "\n") == expected


def test_rules_are_objects_with_code_formula_and_message():
    text = (FIELD + "{code: a, type: integer, name: {zh: 甲, en: A}}\n"
            "rules:\n"
            "  - {code: ok, formula: a > 0, field: a, message: {zh: 须为正, en: Positive}}\n"
            "  - {code: Bad, formula: '', message: {zh: 甲}, colour: red}\n")
    assert _schema_issues(text) == [
        ("$.rules[1].code", '"Bad" is not valid: expected a lower-case letter, then 0-39 '
                            "lower-case letters, digits or underscores"),
        ("$.rules[1].colour", "unknown key 'colour'; allowed keys: code, formula, message, "
                              "field"),
        ("$.rules[1].formula", "must have at least 1 character(s)"),
        ("$.rules[1].message.en", "missing required key 'en'"),
    ]


def test_the_builder_makes_result_types_rules_and_default_formulas():
    spec = package_from_documents({
        "package": {"code": "fin", "version": "1.0.0", "name": NAME},
        "entity": {"bill": {"code": "bill", "name": NAME, "fields": [
            {"code": "net", "type": "money", "name": NAME},
            {"code": "gross", "type": "computed", "formula": "net * 1.13",
             "result": "money", "name": NAME},
            {"code": "note", "type": "string", "length": 9, "default_formula": "'x'",
             "name": NAME}],
            "rules": [{"code": "positive", "formula": "net > 0", "field": "net",
                       "message": {"zh": "须为正", "en": "Positive"}}],
            "children": [{"code": "lines", "name": NAME, "fields": [
                {"code": "n", "type": "integer", "name": NAME}],
                "rules": [{"code": "small", "formula": "n < 9",
                           "message": {"zh": "小", "en": "Small"}}]}]}},
    })
    bill = spec.entity("bill")
    gross = bill.field("gross")
    assert (gross.type, gross.result, gross.formula, gross.value_type) == (
        "computed", "money", "net * 1.13", "money")
    assert (gross.precision, gross.scale, gross.is_computed, gross.is_numeric) == (
        18, 2, True, True)
    assert bill.field("note").default_formula == "'x'" and bill.field("note").default is None
    assert bill.rules == (RuleSpec("positive", "net > 0", Text("须为正", "Positive"), "net"),)
    assert bill.children[0].rules == (RuleSpec("small", "n < 9", Text("小", "Small")),)
    text = field_from_document("fin", {"code": "t", "type": "computed", "formula": "1",
                                       "result": "text", "name": NAME})
    assert (text.value_type, text.precision, text.scale) == ("text", None, None)
    assert FieldSpec("x", "integer", Text("x", "x")).value_type == "integer"
    assert COMPUTED_RESULTS == ("string", "text", "integer", "decimal", "money", "boolean",
                                "date", "datetime")


# -- the loader's check hook ---------------------------------------------------------

def test_check_findings_become_issues_located_in_their_files():
    received = []

    def check(spec, packages):
        received.append((spec.code, sorted(packages)))
        if spec.code != "clinic":
            return []
        return [Finding("custom", Text("甲", "a"), "entity", "room", "$.fields[1].code"),
                Finding("custom", Text("乙", "b"), "entity", "missing", "$.fields"),
                Finding("custom", Text("丙", "c"), "package", "clinic", "$.requires.base")]
    with pytest.raises(InvalidPackage) as caught:
        load_packages([MODULES / "base", GOOD / "clinic"], checks=[check])
    assert sorted(received) == [("base", ["base", "clinic"]), ("clinic", ["base", "clinic"])]
    issues = caught.value.issues
    assert [(i.code, i.package, i.file, i.path) for i in issues] == [
        ("custom", "clinic", "package.yaml", "$"),
        ("custom", "clinic", "package.yaml", "$.requires.base"),
        ("custom", "clinic", "entities/room.yaml", "$.fields[1].code")]
    assert all(isinstance(i.line, int) for i in issues)


def test_without_checks_formulas_are_not_type_checked(tmp_path):
    root = tmp_path / "loose"
    (root / "entities").mkdir(parents=True)
    (root / "package.yaml").write_text("code: loose\nversion: 1.0.0\nname: {zh: 松, en: Loose}\n",
                                       encoding="utf-8")
    (root / "entities" / "a.yaml").write_text(
        "code: thing\nname: {zh: 物, en: Thing}\nfields:\n"
        "  - {code: a, type: computed, formula: 'nothing', result: text, "
        "name: {zh: 甲, en: A}}\n", encoding="utf-8")
    assert load_packages([root])[0].entity("thing").field("a").formula == "nothing"
    with pytest.raises(InvalidPackage) as caught:
        load_packages([root], checks=FORMULA_CHECKS)
    assert [i.code for i in caught.value.issues] == ["formula_unknown_name"]


# -- the package formula check --------------------------------------------------------

def test_the_bundled_packages_pass_the_formula_check(bundled):
    for spec in bundled.values():
        assert check_formulas(spec, bundled) == []


def test_paths_resolve_into_required_packages(bundled, tmp_path):
    root = tmp_path / "stock"
    (root / "entities").mkdir(parents=True)
    (root / "package.yaml").write_text(
        "code: stock\nversion: 1.0.0\nname: {zh: 库存, en: Stock}\n"
        "requires: {materials: '>=1.1,<2'}\n", encoding="utf-8")
    (root / "entities" / "count.yaml").write_text(
        "code: count\nname: {zh: 盘点, en: Count}\nfields:\n"
        "  - {code: item, type: reference, entity: materials.item, name: {zh: 物资, en: Item}}\n"
        "  - {code: n, type: integer, name: {zh: 数, en: N}}\n"
        "  - {code: value, type: computed, formula: n * item.unit_price, result: money, "
        "name: {zh: 金额, en: Value}}\n"
        "  - {code: what, type: computed, formula: item.unit_prise, result: money, "
        "name: {zh: 何, en: What}}\n", encoding="utf-8")
    with pytest.raises(InvalidPackage) as caught:
        load_packages([root], installed=bundled, checks=FORMULA_CHECKS)
    [issue] = caught.value.issues
    assert (issue.code, issue.path, issue.line) == (
        "formula_unknown_name", "$.fields[3].formula", 7)
    assert "column 6" in issue.message.en and "unit_price" in issue.message.en


def test_contexts_type_fields_by_their_value_type(bundled):
    entities = {e.qualified_code: e for p in bundled.values() for e in p.entities}
    requisition = entities["materials.requisition"]
    lines = requisition.child("lines")
    context = context_for(lines, entities)
    assert context.mode == "row" and context.entity == child_code(requisition, lines)
    fields = context.current.fields
    assert fields["amount"].type is FType.NUMBER                    # computed money
    assert fields["item"].reference == "materials.item"
    assert fields["quantity"].label == Text("数量", "Quantity")
    assert set(context.entities) == {"materials.requisition.lines", "materials.item"}
    main = context_for(requisition, entities)
    assert set(main.entities) == {"materials.requisition"}          # no references
    assert field_info(requisition.field("request_date")).type is FType.DATE
    everything = aggregate_context(entities)
    assert everything.mode == "aggregate" and everything.entity is None
    assert set(everything.entities) == {"materials.item", "materials.requisition",
                                        "materials.supplier", "materials.consumption"}
    with pytest.raises(ValueError):
        context_for(None, entities)
