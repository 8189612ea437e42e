"""Schema sync: lossy changes are refused with row counts; allow_lossy forces
what can be forced, and nothing runs while a refusal stands."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import inspect

from schema_helpers import (
    IndexSpec, add_rows, columns_of, entity, f, model, plan_for, refusals_for, snapshot,
    sync_to, typed,
)

from yunying.platform.errors import LossyChange
from yunying.runtime.schema import Refusal, check_plan, plan_sync, render

CODE = f("code", "string", length=20, required=True)


def _note(*fields, indexes=()):
    return entity("note", CODE, *fields, indexes=indexes)


def _seen(refusals):
    return [(r.kind, r.table, r.column, r.rows, r.forcible) for r in refusals]


def _refused_apply(db, *specs, allow_lossy=False, drop_removed=False):
    """Apply must raise before changing anything; returns the error."""
    before = snapshot(db)
    with pytest.raises(LossyChange) as caught:
        sync_to(db, *specs, allow_lossy=allow_lossy, drop_removed=drop_removed)
    assert snapshot(db) == before
    assert caught.value.code == "lossy_change"
    return caught.value


def test_narrowing_a_string_is_refused_with_the_rows_too_long(db):
    sync_to(db, _note(f("title", "string", length=20)))
    add_rows(db, "sync_note", {"code": "1", "title": "x" * 20}, {"code": "2", "title": "y" * 9},
             {"code": "3", "title": "short"}, {"code": "4"}, {"code": "5", "title": "长" * 9})
    target = _note(f("title", "string", length=8))
    refusals = refusals_for(db, target)
    assert _seen(refusals) == [("narrow_type", "sync_note", "title", 3, True)]
    assert refusals[0].message.en.startswith(
        "sync_note.title: 3 row(s) hold values longer than the new length 8")
    assert "3 行的值超过新长度 8" in refusals[0].message.zh
    error = _refused_apply(db, target)
    assert error.details == {"refusals": [refusals[0].as_dict()]}
    assert error.details["refusals"][0]["rows"] == 3


def test_forcing_a_string_narrowing_truncates(db):
    sync_to(db, _note(f("title", "string", length=20)))
    add_rows(db, "sync_note", {"code": "1", "title": "abcdefghijkl"}, {"code": "2"},
             {"code": "3", "title": "长长长长长长长长长长"})
    sync_to(db, _note(f("title", "string", length=8)), allow_lossy=True)
    assert typed(db, "sync_note", "title") == [("abcdefgh",), (None,), ("长" * 8,)]
    assert columns_of(db, "sync_note")["title"]["type"].length == 8


def test_narrowing_a_decimal_scale_is_refused_and_forcing_rounds_half_up(db):
    sync_to(db, _note(f("rate", "decimal", precision=12, scale=4)))
    add_rows(db, "sync_note", *({"code": str(i), "rate": Decimal(v)} for i, v in enumerate(
        ["2.6750", "-2.3450", "1.0050", "3.1200", "7"])), {"code": "n"})
    target = _note(f("rate", "decimal", precision=12, scale=2))
    assert _seen(refusals_for(db, target)) == [("narrow_type", "sync_note", "rate", 3, True)]
    _refused_apply(db, target)
    sync_to(db, target, allow_lossy=True)
    assert typed(db, "sync_note", "rate") == [
        (Decimal("2.68"),), (Decimal("-2.35"),), (Decimal("1.01"),), (Decimal("3.12"),),
        (Decimal("7.00"),), (None,)]


def test_decimal_values_too_large_for_the_new_precision_cannot_be_forced(db):
    sync_to(db, _note(f("amount", "decimal", precision=12, scale=2)))
    add_rows(db, "sync_note", *({"code": str(i), "amount": Decimal(v)} for i, v in enumerate(
        ["1000.00", "-1000.00", "999.99"])))
    target = _note(f("amount", "decimal", precision=5, scale=2))
    refusals = refusals_for(db, target)
    assert _seen(refusals) == [("narrow_type", "sync_note", "amount", 2, False)]
    assert ("more than 3 integer digit(s), which NUMERIC(5, 2) cannot store"
            in refusals[0].message.en)
    error = _refused_apply(db, target, allow_lossy=True)
    assert [r["forcible"] for r in error.details["refusals"]] == [False]


def test_decimal_values_are_judged_after_rounding_to_the_new_scale(db):
    sync_to(db, _note(f("amount", "decimal", precision=12, scale=3)))
    add_rows(db, "sync_note", {"code": "1", "amount": Decimal("999.995")},
             {"code": "2", "amount": Decimal("999.994")})
    target = _note(f("amount", "decimal", precision=5, scale=2))
    assert _seen(refusals_for(db, target)) == [  # 999.995 rounds up to 1000.00
        ("narrow_type", "sync_note", "amount", 1, False),
        ("narrow_type", "sync_note", "amount", 2, True)]


def test_integer_to_a_small_decimal_counts_the_integers_that_do_not_fit(db):
    sync_to(db, _note(f("qty", "integer")))
    add_rows(db, "sync_note", {"code": "1", "qty": 1000}, {"code": "2", "qty": 999},
             {"code": "3", "qty": -123456})
    assert _seen(refusals_for(db, _note(f("qty", "decimal", precision=5, scale=2)))) == [
        ("narrow_type", "sync_note", "qty", 2, False)]


def test_changing_a_type_counts_the_values_it_would_lose(db):
    sync_to(db, _note(f("ref", "integer"), f("flag", "string", length=5, required=True)))
    add_rows(db, "sync_note", {"code": "1", "ref": 5, "flag": "y"},
             {"code": "2", "flag": "n"}, {"code": "3", "ref": 7, "flag": "y"})
    target = _note(f("ref", "date"), f("flag", "boolean", required=True))
    refusals = refusals_for(db, target)
    assert _seen(refusals) == [("change_type", "sync_note", "ref", 2, True),
                               ("change_type", "sync_note", "flag", 3, False)]
    assert refusals[0].message.en == (
        "sync_note.ref: 2 row(s) hold values that cannot be converted from INTEGER to DATE "
        "(forcing empties them)")
    _refused_apply(db, target, allow_lossy=True)  # the required one cannot be forced


def test_forcing_a_type_change_empties_the_old_values(db):
    sync_to(db, _note(f("ref", "integer")))
    add_rows(db, "sync_note", {"code": "1", "ref": 5}, {"code": "2"})
    target = _note(f("ref", "date"))
    sync_to(db, target, allow_lossy=True)
    assert typed(db, "sync_note", "code", "ref") == [("1", None), ("2", None)]
    assert plan_for(db, target).ops == ()


def test_a_field_becoming_required_is_refused_while_rows_have_no_value(db):
    sync_to(db, _note(f("title", "string", length=10)))
    add_rows(db, "sync_note", {"code": "1"}, {"code": "2", "title": "t"}, {"code": "3"})
    target = _note(f("title", "string", length=10, required=True))
    refusals = refusals_for(db, target)
    assert _seen(refusals) == [("set_not_null", "sync_note", "title", 2, False)]
    assert refusals[0].message.en == (
        "sync_note.title becomes required but 2 row(s) have no value; fill them first or "
        "give the field a default")
    _refused_apply(db, target, allow_lossy=True)


@pytest.mark.parametrize("new_field", [
    f("title", "string", length=10, required=True),
    f("since", "date", required=True, default="today"),
    f("stamp", "datetime", required=True, default="now"),
])
def test_a_required_column_without_literal_default_is_refused_on_a_table_with_rows(
        db, new_field):
    sync_to(db, _note())
    add_rows(db, "sync_note", {"code": "1"}, {"code": "2"})
    refusals = refusals_for(db, _note(new_field))
    assert _seen(refusals) == [("add_column", "sync_note", new_field.code, 2, False)]
    assert refusals[0].message.en.startswith(
        f"new required field sync_note.{new_field.code} has no default, so 2 existing row(s)")
    _refused_apply(db, _note(new_field), allow_lossy=True)


def test_a_unique_constraint_over_duplicates_is_refused_with_the_duplicate_rows(db):
    sync_to(db, _note(f("tag", "string", length=5), f("kind", "string", length=5)))
    tags = ["a", "a", "a", "b", "b", "c", None, None]
    add_rows(db, "sync_note", *({"code": str(i), "tag": t, "kind": "k" if i < 2 else str(i)}
                                for i, t in enumerate(tags)))
    target = _note(f("tag", "string", length=5, unique=True), f("kind", "string", length=5),
                   indexes=(IndexSpec(("tag", "kind"), unique=True),))
    refusals = refusals_for(db, target)
    assert _seen(refusals) == [("add_unique", "sync_note", "tag", 5, False),
                               ("add_unique", "sync_note", "tag, kind", 2, False)]
    assert "5 row(s) share duplicate values" in refusals[0].message.en
    _refused_apply(db, target, allow_lossy=True)


def test_a_unique_renamed_column_is_checked_under_its_old_name(db):
    sync_to(db, _note(f("old", "string", length=5)))
    add_rows(db, "sync_note", {"code": "1", "old": "x"}, {"code": "2", "old": "x"})
    target = _note(f("new", "string", length=5, unique=True, renamed_from="old"))
    assert _seen(refusals_for(db, target)) == [("add_unique", "sync_note", "new", 2, False)]


def test_a_foreign_key_over_missing_rows_is_refused(db):
    uom = entity("uom", f("code", "string", length=5))
    sync_to(db, uom, _note(f("uom", "integer")))
    add_rows(db, "sync_uom", {"code": "box"})
    add_rows(db, "sync_note", {"code": "1", "uom": 1}, {"code": "2", "uom": 9},
             {"code": "3", "uom": 10}, {"code": "4"})
    target = _note(f("uom", "reference", reference="sync.uom"))
    refusals = refusals_for(db, uom, target)
    assert _seen(refusals) == [("add_foreign_key", "sync_note", "uom", 2, False)]
    assert "2 row(s) refer to rows missing from sync_uom" in refusals[0].message.en
    _refused_apply(db, uom, target, allow_lossy=True)


def test_dropping_removed_columns_and_tables_with_data_needs_allow_lossy(db):
    sync_to(db, _note(f("legacy", "integer")), entity("gone", f("x", "integer")))
    add_rows(db, "sync_note", {"code": "1", "legacy": 4}, {"code": "2"})
    add_rows(db, "sync_gone", {"x": 1}, {"x": 2}, {"x": 3})
    refusals = refusals_for(db, _note(), drop_removed=True)
    assert _seen(refusals) == [("drop_column", "sync_note", "legacy", 1, True),
                               ("drop_table", "sync_gone", None, 3, True)]
    _refused_apply(db, _note(), drop_removed=True)
    sync_to(db, _note(), drop_removed=True, allow_lossy=True)
    assert "legacy" not in columns_of(db, "sync_note")
    assert "sync_gone" not in inspect(db.engine).get_table_names()
    assert typed(db, "sync_note", "code") == [("1",), ("2",)]


def test_one_refusal_stops_the_whole_plan(db):
    sync_to(db, _note(f("title", "string", length=20)))
    add_rows(db, "sync_note", {"code": "1", "title": "much too long"})
    target = _note(f("title", "string", length=4), f("extra", "text"),
                   f("score", "integer", indexed=True))
    with db.connect() as conn:
        plan = plan_sync(conn, model(target))
    assert len(plan.ops) == 4  # two columns, an index and the refused narrowing
    _refused_apply(db, target)


def test_render_marks_refusals_with_their_row_counts(db):
    sync_to(db, _note(f("title", "string", length=20), f("memo", "text")))
    add_rows(db, "sync_note", {"code": "1", "title": "much too long"}, {"code": "2"})
    target = _note(f("title", "string", length=4), f("memo", "text", required=True),
                   f("extra", "integer"))
    with db.connect() as conn:
        plan = plan_sync(conn, model(target))
        refusals = check_plan(conn, plan)
    text = render(plan, refusals)
    lines = text.splitlines()
    assert lines[0] == ("schema plan: 3 change(s), 3 step(s) / "
                        "数据库结构变更计划：3 项变更，共 3 步")
    assert lines[1] == ("  1. + [add_column] add column sync_note.extra INTEGER / "
                        "新增列 sync_note.extra INTEGER")
    assert lines[2].startswith("  2. + [narrow_type] narrow sync_note.title: VARCHAR(20) → "
                               "VARCHAR(4)")
    assert lines[3].startswith("     ! REFUSED / 已拒绝 (1 row(s) / 行): sync_note.title: 1 row(s)")
    assert lines[4].startswith("  3. + [set_not_null] make sync_note.memo required")
    assert lines[5].startswith("     ! REFUSED / 已拒绝 (2 row(s) / 行, cannot be forced / 不可强制)")
    assert lines[-1] == "2 lossy change(s) refused / 2 项有损变更被拒绝"


def test_refusal_as_dict_is_json_ready():
    from yunying.platform.i18n import Text
    refusal = Refusal("t", "c", 4, "drop_column", Text("中", "en"), forcible=True)
    assert refusal.as_dict() == {"table": "t", "column": "c", "rows": 4, "kind": "drop_column",
                                 "forcible": True, "message": {"zh-CN": "中", "en": "en"}}


def test_a_new_unique_column_is_judged_by_the_values_it_will_get(db):
    sync_to(db, _note())
    add_rows(db, "sync_note", {"code": "1"}, {"code": "2"}, {"code": "3"})
    empty = _note(f("tag", "string", length=5, unique=True))
    assert refusals_for(db, empty) == []  # NULL in every row: no duplicates
    filled = _note(f("tag", "string", length=5, unique=True, default="x"))
    assert _seen(refusals_for(db, filled)) == [("add_unique", "sync_note", "tag", 3, False)]
    sync_to(db, empty)
    assert typed(db, "sync_note", "tag") == [(None,)] * 3


def test_a_reference_moved_to_another_entity_is_checked_against_the_new_one(db):
    a = entity("uom", f("code", "string", length=5))
    b = entity("unit", f("code", "string", length=5))
    sync_to(db, a, b, _note(f("unit", "reference", reference="sync.uom")))
    add_rows(db, "sync_uom", {"code": "u1"}, {"code": "u2"})
    add_rows(db, "sync_unit", {"code": "n1"})
    add_rows(db, "sync_note", {"code": "1", "unit": 1}, {"code": "2", "unit": 2})
    target = _note(f("unit", "reference", reference="sync.unit"))
    with db.connect() as conn:
        plan = plan_sync(conn, model(a, b, target))
        assert plan.kinds() == ["drop_foreign_key", "add_foreign_key"]
        assert _seen(check_plan(conn, plan)) == [
            ("add_foreign_key", "sync_note", "unit", 1, False)]
