"""Pure builders from documents to specs: numbering, decimals, defaults, seed keys."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from yunying.metadata.builder import (
    default_problem, field_from_document, finest_reset, numbering_tokens, package_from_documents,
    rendered_length, to_decimal, with_seed_keys,
)
from yunying.metadata.spec import DictionaryItemSpec, DictionarySpec, FieldSpec
from yunying.platform.i18n import Text

NAME = {"zh": "名", "en": "Name"}


@pytest.mark.parametrize("pattern, reset", [
    ("LY{yyyy}{mm}-{seq:4}", "month"), ("{yy}{seq:3}", "year"), ("A{dd}{mm}{seq:2}", "day"),
    ("{seq:6}", "never"), ("{yyyy}-{seq:5}", "year"),
])
def test_reset_defaults_to_the_finest_date_token(pattern, reset):
    assert finest_reset(numbering_tokens(pattern)) == reset


def test_tokens_and_rendered_length():
    assert numbering_tokens("LY{yyyy}{mm}-{seq:4}") == ["yyyy", "mm", "seq:4"]
    assert rendered_length("LY{yyyy}{mm}-{seq:4}") == len("LY202611-0001")
    with pytest.raises(ValueError):
        numbering_tokens("LY{yyyy")


@pytest.mark.parametrize("value, expected", [
    (0.01, Decimal("0.01")), (0.1, Decimal("0.1")), (12, Decimal("12")), ("3.50", Decimal("3.50")),
    (1e-7, Decimal("1E-7")), (None, None),
])
def test_decimals_are_built_from_their_text_never_from_binary_floats(value, expected):
    result = to_decimal(value)
    assert result == expected and (result is None or str(result) == str(expected))


@pytest.mark.parametrize("bad", [True, "abc", "NaN", "Infinity"])
def test_non_numbers_are_not_decimals(bad):
    with pytest.raises(ValueError):
        to_decimal(bad)


def test_money_defaults_to_numeric_18_2_and_references_are_qualified():
    money = field_from_document("fin", {"code": "amount", "type": "money", "name": NAME})
    assert (money.precision, money.scale) == (18, 2)
    ref = field_from_document("fin", {"code": "a", "type": "reference", "entity": "base.org",
                                      "name": NAME})
    assert ref.reference == "base.org"
    enum = field_from_document("fin", {"code": "e", "type": "enum", "dictionary": "kind",
                                       "name": NAME})
    assert enum.dictionary == "fin.kind"


def test_date_defaults_accept_iso_strings_and_date_objects():
    for value in ("2024-02-29", date(2024, 2, 29)):
        f = field_from_document("p", {"code": "d", "type": "date", "default": value, "name": NAME})
        assert f.default == date(2024, 2, 29)
    f = field_from_document("p", {"code": "t", "type": "datetime", "default": "2024-01-02T03:04:05",
                                  "name": NAME})
    assert f.default == datetime(2024, 1, 2, 3, 4, 5)


@pytest.mark.parametrize("field, value, fits", [
    (FieldSpec("a", "decimal", Text("a", "a"), precision=4, scale=2), "12.34", True),
    (FieldSpec("a", "decimal", Text("a", "a"), precision=4, scale=2), "0.5", True),
    (FieldSpec("a", "decimal", Text("a", "a"), precision=4, scale=2), "123.4", False),
    (FieldSpec("a", "decimal", Text("a", "a"), precision=2, scale=2), "0.99", True),
    (FieldSpec("a", "decimal", Text("a", "a"), precision=4, scale=2), 1.005, False),
    (FieldSpec("a", "money", Text("a", "a"), precision=18, scale=2, maximum=Decimal(10)), 10, True),
    (FieldSpec("a", "money", Text("a", "a"), precision=18, scale=2, maximum=Decimal(10)), 10.01,
     False),
    (FieldSpec("a", "integer", Text("a", "a")), True, False),
    (FieldSpec("a", "boolean", Text("a", "a")), False, True),
    (FieldSpec("a", "text", Text("a", "a"), min_length=3), "ab", False),
    (FieldSpec("a", "datetime", Text("a", "a")), "2024-01-01 10:00:00", True),
    (FieldSpec("a", "org_unit", Text("a", "a")), "0301", True),
    (FieldSpec("a", "computed", Text("a", "a"), formula="1"), 1, False),
])
def test_default_problem(field, value, fits):
    assert (default_problem(field, value) is None) is fits


def test_enum_defaults_are_checked_against_the_dictionary_when_known():
    f = FieldSpec("u", "enum", Text("u", "u"), dictionary="base.uom")
    uom = DictionarySpec("base", "uom", Text("单位", "Unit"),
                         (DictionaryItemSpec("box", Text("盒", "Box")),))
    assert default_problem(f, "box", uom) is None
    assert default_problem(f, "crate", uom).en == "the default 'crate' is not an item of base.uom"
    assert default_problem(f, "crate") is None  # unknown dictionary: reported elsewhere


def _documents(seed_entity):
    return {
        "package": {"code": "extra", "version": "1.0.0", "name": NAME},
        "entity": {"note": {"code": "note", "name": NAME, "key_field": "code", "fields": [
            {"code": "code", "type": "string", "length": 8, "unique": True, "name": NAME}]}},
        "seed": {"seed/x.yaml": {"entity": seed_entity, "rows": [{"code": "A", "n": 1.5}]}},
    }


def test_seed_keys_resolve_in_the_package_or_later_across_packages():
    own = package_from_documents(_documents("note"))
    assert own.seeds[0].key == "code" and own.seeds[0].rows[0]["n"] == Decimal("1.5")
    assert own.documents["demo"] == {}
    foreign = package_from_documents(_documents("other.thing"))
    assert foreign.seeds[0].key is None
    other = package_from_documents({
        "package": {"code": "other", "version": "1.0.0", "name": NAME},
        "entity": {"thing": {"code": "thing", "name": NAME, "key_field": "ref", "fields": [
            {"code": "ref", "type": "string", "length": 8, "unique": True, "name": NAME}]}}})
    resolved = with_seed_keys(foreign, {e.qualified_code: e for e in other.entities})
    assert resolved.seeds[0].key == "ref"
    assert with_seed_keys(foreign, {}).seeds[0].key is None
