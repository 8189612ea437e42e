"""The published JSON Schemas and the schema issues they produce."""

from __future__ import annotations

import json

import pytest
from jsonschema import Draft202012Validator

from yunying.metadata.schema_check import KINDS, SCHEMA_DIR, SchemaChecker, schema_document
from yunying.metadata.spec import FIELD_TYPES
from yunying.metadata.yaml_source import parse_yaml

SCHEMAS = sorted(p.name for p in SCHEMA_DIR.glob("*.schema.json"))


def _walk(node, path="$"):
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for n, value in enumerate(node):
            yield from _walk(value, f"{path}[{n}]")


@pytest.mark.parametrize("name", SCHEMAS)
def test_schemas_are_valid_draft_2020_12_with_id_title_and_described_properties(name):
    schema = schema_document(name)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].endswith("/" + name)
    assert schema["title"] and schema["description"]
    for path, node in _walk(schema):
        if "properties" in node and path.split(".")[-1] not in ("then", "if"):
            assert node.get("additionalProperties") is False, path
            for key, prop in node["properties"].items():
                assert prop.get("description"), f"{path}.properties.{key}"


def test_every_kind_has_a_schema_file_and_field_types_match_the_spec():
    assert set(KINDS.values()) <= set(SCHEMAS)
    entity = schema_document("entity.schema.json")
    assert entity["$defs"]["field"]["properties"]["type"]["enum"] == list(FIELD_TYPES)
    assert json.loads((SCHEMA_DIR / "common.schema.json").read_text())["$defs"]["label"]


def _check(kind, text):
    source, issues = parse_yaml(text.encode(), "f.yaml")
    assert issues == []
    return [(i.path, i.message.en) for i in SchemaChecker().check(kind, source)]


FIELD = "code: thing\nname: {zh: 物, en: Thing}\nfields:\n  - "


@pytest.mark.parametrize("field, expected", [
    ("{code: a, type: string, name: {zh: 甲, en: A}}",
     [("$.fields[0].length", "missing required key 'length' (fields of type string need it)")]),
    ("{code: a, type: decimal, precision: 10, name: {zh: 甲, en: A}}",
     [("$.fields[0].scale", "missing required key 'scale' (fields of type decimal need it)")]),
    ("{code: a, type: enum, name: {zh: 甲, en: A}}",
     [("$.fields[0].dictionary",
       "missing required key 'dictionary' (fields of type enum need it)")]),
    ("{code: a, type: reference, name: {zh: 甲, en: A}}",
     [("$.fields[0].entity", "missing required key 'entity' (fields of type reference need it)")]),
    ("{code: a, type: computed, name: {zh: 甲, en: A}}",
     [("$.fields[0].formula", "missing required key 'formula' (fields of type computed need it)"),
      ("$.fields[0].result", "missing required key 'result' (fields of type computed need it)")]),
    ("{code: a, type: boolean, length: 3, dictionary: xy, name: {zh: 甲, en: A}}",
     [("$.fields[0].dictionary", "'dictionary' does not apply to fields of type boolean"),
      ("$.fields[0].length", "'length' does not apply to fields of type boolean")]),
    ("{code: a, type: money, name: {zh: 甲, en: A}}", []),
    ("{code: a, type: string, length: 0, name: {zh: 甲, en: A}}",
     [("$.fields[0].length", "must be at least 1 (got 0)")]),
    ("{code: a, type: string, length: 9, lenght: 9, name: {zh: 甲, en: A}}",
     [("$.fields[0].lenght", "unknown key 'lenght'; allowed keys: code, type, name, "
       "description, required, unique, indexed, default, renamed_from, length, min_length, "
       "pattern, precision, scale, min, max, dictionary, entity, formula, result, "
       "default_formula")]),
    ("{code: A, type: user, name: {zh: 甲, en: A}}",
     [("$.fields[0].code", '"A" is not valid: expected a lower-case letter, then 0-39 '
       "lower-case letters, digits or underscores")]),
    ("{code: a, type: user, required: 'yes', name: {zh: 甲, en: A}}",
     [("$.fields[0].required", 'expected a boolean true/false, got a string ("yes")')]),
])
def test_type_specific_rules_give_one_readable_issue_each(field, expected):
    assert _check("entity", FIELD + field + "\n") == expected


def test_every_field_type_is_accepted_with_its_keys():
    extras = {"string": "length: 5", "decimal": "precision: 5, scale: 2",
              "enum": "dictionary: base.uom", "reference": "entity: item",
              "computed": "formula: a, result: text"}
    fields = "".join(
        f"  - {{code: f{n}, type: {t}, name: {{zh: 甲, en: A}}"
        f"{', ' + extras[t] if t in extras else ''}}}\n"
        for n, t in enumerate(FIELD_TYPES))
    assert _check("entity", "code: thing\nname: {zh: 物, en: Thing}\nfields:\n" + fields) == []


def test_manifest_version_and_ranges_are_checked():
    issues = _check("package", "code: pk\nversion: 1.0.0-beta\nname: {zh: 包, en: P}\n"
                               "requires: {base: '>=1.0,<2', other: latest}\n")
    assert issues == [
        ("$.version", '"1.0.0-beta" is not valid: expected a semantic version '
                      "MAJOR.MINOR.PATCH such as 1.0.0"),
        ("$.requires.other", '"latest" is not valid: expected a version range of '
                             'comma-separated comparisons such as ">=1.0,<2"'),
    ]


def test_dictionary_dates_are_real_dates():
    issues = _check("dictionary", "code: dd\nname: {zh: 字, en: D}\nitems:\n"
                                  "  - {code: a, name: {zh: 甲, en: A}, valid_from: 2021-02-29,"
                                  " valid_to: 2021-02-28}\n")
    assert issues == [("$.items[0].valid_from",
                       '"2021-02-29" is not a valid date (YYYY-MM-DD)')]


def test_seed_rows_must_be_objects_with_field_keys():
    issues = _check("seed", "entity: base.thing\nrows:\n  - {ok: 1, Not-OK: 2}\n  - []\n")
    assert [p for p, _ in issues] == ["$.rows[0]['Not-OK']", "$.rows[1]"]


def test_messages_are_bilingual():
    source, _ = parse_yaml(b"code: x\n", "package.yaml")
    issues = SchemaChecker().check("package", source, package="pk")
    assert [(i.path, i.message.zh, i.package) for i in issues] == [
        ("$.code", '"x" 不符合要求：应为小写字母开头，其后 1-15 个小写字母、数字或下划线', "pk"),
        ("$.name", "缺少必填键 name", "pk"),
        ("$.version", "缺少必填键 version", "pk"),
    ]
