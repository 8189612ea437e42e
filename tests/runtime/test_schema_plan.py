"""Schema sync: every plan kind, planned from a real database and applied."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import inspect

from schema_helpers import (
    IndexSpec, add_rows, child, columns_of, entity, f, json_roundtrip, ops_of, plan_for, sync_to,
    typed, values,
)

from yunying.runtime.schema import (
    AddColumn, ColumnType, KeepColumn, NarrowType, RenameColumn, WidenType,
)

CODE = f("code", "string", length=20, required=True, unique=True)


def _note(*fields, indexes=()):
    return entity("note", CODE, *fields, indexes=indexes)


def _kinds(plan):
    return [op.kind for op in plan.ops]


def _index_names(db, table):
    return {i["name"] for i in inspect(db.engine).get_indexes(table)}


def _unique_names(db, table):
    return {u["name"] for u in inspect(db.engine).get_unique_constraints(table)}


def test_add_column_nullable_keeps_rows_and_leaves_them_empty(db):
    sync_to(db, _note())
    add_rows(db, "sync_note", {"code": "N1"})
    plan = sync_to(db, _note(f("remark", "text")))
    assert _kinds(plan) == ["add_column"]
    op = plan.ops[0]
    assert isinstance(op, AddColumn)
    assert (op.table, op.column, op.type, op.nullable) == (
        "sync_note", "remark", ColumnType("text"), True)
    assert values(db, "SELECT code, remark FROM sync_note") == [("N1", None)]
    assert plan_for(db, _note(f("remark", "text"))).ops == ()


def test_required_column_with_a_literal_default_is_backfilled(db):
    sync_to(db, _note())
    add_rows(db, "sync_note", {"code": "N1"}, {"code": "N2"})
    target = _note(f("score", "decimal", precision=8, scale=2, required=True,
                     default=Decimal("1.50")),
                   f("active", "boolean", required=True, default=True),
                   f("since", "date", required=True, default="2024-05-01"))
    plan = sync_to(db, target)
    assert _kinds(plan) == ["add_column"] * 3
    assert plan.ops[0].describe().en == (
        "add column sync_note.score NUMERIC(8, 2) NOT NULL, "
        "existing rows filled with the default 1.50")
    assert typed(db, "sync_note", "code", "score", "active", "since") == [
        ("N1", Decimal("1.50"), True, date(2024, 5, 1)),
        ("N2", Decimal("1.50"), True, date(2024, 5, 1)),
    ]
    cols = columns_of(db, "sync_note")
    assert [cols[c]["nullable"] for c in ("score", "active", "since")] == [False] * 3
    assert plan_for(db, target).ops == ()


def test_required_column_without_default_on_an_empty_table_is_added_not_null(db):
    sync_to(db, _note())
    target = _note(f("title", "string", length=50, required=True))
    plan = sync_to(db, target)
    assert _kinds(plan) == ["add_column"]
    assert columns_of(db, "sync_note")["title"]["nullable"] is False
    assert plan_for(db, target).ops == ()


def test_indexed_and_unique_fields_add_and_drop_their_index_and_constraint(db):
    sync_to(db, _note(f("score", "integer"), f("tag", "string", length=10)))
    add_rows(db, "sync_note", {"code": "N1", "score": 1, "tag": "a"},
             {"code": "N2", "score": 1, "tag": "b"})
    target = _note(f("score", "integer", indexed=True), f("tag", "string", length=10,
                                                          unique=True),
                   indexes=(IndexSpec(("score", "tag")),))
    plan = sync_to(db, target)
    assert sorted(_kinds(plan)) == ["add_index", "add_index", "add_unique"]
    assert {"ix_sync_note_score", "ix_sync_note_score_tag"} <= _index_names(db, "sync_note")
    assert "uq_sync_note_tag" in _unique_names(db, "sync_note")
    assert plan_for(db, target).ops == ()

    back = _note(f("score", "integer"), f("tag", "string", length=10))
    plan = sync_to(db, back)
    assert sorted(_kinds(plan)) == ["drop_index", "drop_index", "drop_unique"]
    assert not {"ix_sync_note_score", "ix_sync_note_score_tag"} & _index_names(db, "sync_note")
    assert "uq_sync_note_tag" not in _unique_names(db, "sync_note")
    assert values(db, "SELECT count(*) FROM sync_note") == [(2,)]
    assert plan_for(db, back).ops == ()


@pytest.mark.parametrize("before, after, old, new", [
    (f("v", "string", length=10), f("v", "string", length=40),
     ColumnType("string", 10), ColumnType("string", 40)),
    (f("v", "string", length=10), f("v", "text"),
     ColumnType("string", 10), ColumnType("text")),
    (f("v", "decimal", precision=8, scale=2), f("v", "decimal", precision=12, scale=4),
     ColumnType("decimal", precision=8, scale=2), ColumnType("decimal", precision=12, scale=4)),
    (f("v", "integer"), f("v", "decimal", precision=14, scale=2),
     ColumnType("integer"), ColumnType("decimal", precision=14, scale=2)),
])
def test_widening_keeps_every_value(db, before, after, old, new):
    sync_to(db, _note(before))
    value = "12345" if before.type == "string" else 123
    add_rows(db, "sync_note", {"code": "N1", "v": value})
    plan = sync_to(db, _note(after))
    assert plan.ops == (WidenType(table="sync_note", column="v", old=old, new=new),)
    assert values(db, "SELECT v FROM sync_note")[0][0] in (value, Decimal(value))
    assert plan_for(db, _note(after)).ops == ()


@pytest.mark.parametrize("before, after, kind", [
    (f("v", "string", length=40), f("v", "string", length=10), "narrow_type"),
    (f("v", "text"), f("v", "string", length=10), "narrow_type"),
    (f("v", "decimal", precision=12, scale=4), f("v", "decimal", precision=12, scale=2),
     "narrow_type"),
    (f("v", "decimal", precision=12, scale=2), f("v", "decimal", precision=6, scale=2),
     "narrow_type"),
    (f("v", "integer"), f("v", "decimal", precision=6, scale=2), "narrow_type"),
    (f("v", "integer"), f("v", "string", length=10), "change_type"),
    (f("v", "string", length=10), f("v", "date"), "change_type"),
    (f("v", "boolean"), f("v", "integer"), "change_type"),
    (f("v", "date"), f("v", "datetime"), "change_type"),
])
def test_narrowing_and_changing_types_apply_when_no_value_is_hurt(db, before, after, kind):
    sync_to(db, _note(before))
    add_rows(db, "sync_note", {"code": "N1"})  # v is NULL: nothing to lose
    plan = sync_to(db, _note(after))
    assert _kinds(plan) == [kind]
    assert plan_for(db, _note(after)).ops == ()


def test_narrowing_keeps_values_that_fit(db):
    sync_to(db, _note(f("v", "string", length=40), f("d", "decimal", precision=12, scale=4)))
    add_rows(db, "sync_note", {"code": "N1", "v": "short", "d": Decimal("12.5000")})
    target = _note(f("v", "string", length=8), f("d", "decimal", precision=6, scale=2))
    plan = sync_to(db, target)
    assert all(isinstance(op, NarrowType) for op in plan.ops) and len(plan.ops) == 2
    assert values(db, "SELECT v, d FROM sync_note") == [("short", Decimal("12.50"))]
    assert columns_of(db, "sync_note")["v"]["type"].length == 8


def test_required_and_optional_switch_not_null(db):
    sync_to(db, _note(f("title", "string", length=30), f("memo", "text", required=True)))
    add_rows(db, "sync_note", {"code": "N1", "title": "t", "memo": "m"})
    target = _note(f("title", "string", length=30, required=True), f("memo", "text"))
    plan = sync_to(db, target)
    assert sorted(_kinds(plan)) == ["drop_not_null", "set_not_null"]
    cols = columns_of(db, "sync_note")
    assert (cols["title"]["nullable"], cols["memo"]["nullable"]) == (False, True)
    assert plan_for(db, target).ops == ()


def test_set_not_null_fills_nulls_with_the_default(db):
    sync_to(db, _note(f("level", "integer")))
    add_rows(db, "sync_note", {"code": "N1"}, {"code": "N2", "level": 7})
    target = _note(f("level", "integer", required=True, default=3))
    plan = sync_to(db, target)
    assert _kinds(plan) == ["set_not_null"]
    assert "NULLs filled with the default 3" in plan.ops[0].describe().en
    assert values(db, "SELECT code, level FROM sync_note ORDER BY code") == [
        ("N1", 3), ("N2", 7)]


def test_renamed_field_renames_its_column_and_keeps_data(db):
    sync_to(db, _note(f("old_name", "string", length=30, indexed=True)))
    add_rows(db, "sync_note", {"code": "N1", "old_name": "甲"}, {"code": "N2"})
    target = _note(f("new_name", "string", length=30, indexed=True, renamed_from="old_name"))
    plan = sync_to(db, target)
    assert _kinds(plan) == ["drop_index", "rename_column", "add_index"]
    assert plan.ops[1] == RenameColumn(table="sync_note", column="new_name", old="old_name")
    assert values(db, "SELECT code, new_name FROM sync_note ORDER BY code") == [
        ("N1", "甲"), ("N2", None)]
    assert "old_name" not in columns_of(db, "sync_note")
    assert plan_for(db, target).ops == ()


def test_rename_with_a_wider_type_and_required_flag(db):
    sync_to(db, _note(f("old", "string", length=10)))
    add_rows(db, "sync_note", {"code": "N1", "old": "x"})
    target = _note(f("new", "string", length=60, required=True, renamed_from="old"))
    plan = sync_to(db, target)
    assert _kinds(plan) == ["rename_column", "widen_type", "set_not_null"]
    assert values(db, "SELECT new FROM sync_note") == [("x",)]
    assert plan_for(db, target).ops == ()


def test_renamed_from_a_column_that_is_gone_adds_the_column(db):
    sync_to(db, _note())
    plan = sync_to(db, _note(f("fresh", "integer", renamed_from="never_there")))
    assert _kinds(plan) == ["add_column"]


def test_removed_field_keeps_its_column_and_data(db):
    sync_to(db, _note(f("legacy", "string", length=10, required=True, unique=True)))
    add_rows(db, "sync_note", {"code": "N1", "legacy": "keep me"})
    plan = sync_to(db, _note())
    assert _kinds(plan) == ["drop_unique", "keep_column"]
    keep = plan.ops[1]
    assert keep == KeepColumn(table="sync_note", column="legacy",
                              type=ColumnType("string", 10), relax_not_null=True)
    assert keep.describe().en == (
        "field removed: column sync_note.legacy and its data are kept, now nullable")
    assert values(db, "SELECT legacy FROM sync_note") == [("keep me",)]
    assert columns_of(db, "sync_note")["legacy"]["nullable"] is True
    add_rows(db, "sync_note", {"code": "N2"})  # new records need not fill it
    again = plan_for(db, _note())
    assert _kinds(again) == ["keep_column"] and again.changes == ()


def test_drop_removed_drops_empty_columns_and_tables(db):
    sync_to(db, _note(f("legacy", "integer")), entity("gone", f("x", "integer")))
    plan = sync_to(db, _note(), drop_removed=True)
    assert _kinds(plan) == ["drop_column", "drop_table"]
    assert "legacy" not in columns_of(db, "sync_note")
    assert "sync_gone" not in inspect(db.engine).get_table_names()
    assert plan_for(db, _note(), drop_removed=True).ops == ()


def test_removed_entity_keeps_its_tables(db):
    sync_to(db, _note(), entity("gone", f("x", "integer")))
    add_rows(db, "sync_gone", {"x": 1})
    plan = sync_to(db, _note())
    assert _kinds(plan) == ["keep_table"]
    assert plan.changes == ()
    assert plan.ops[0].describe().zh == "实体已移除：保留表 sync_gone 及其数据"
    assert values(db, "SELECT x FROM sync_gone") == [(1,)]


def test_platform_tables_are_never_planned(db):
    plan = plan_for(db)
    assert plan.ops == ()
    assert "yy_package" in inspect(db.engine).get_table_names()


def test_reference_added_later_gets_its_foreign_key_and_index(db):
    uom = entity("uom", f("code", "string", length=8))
    sync_to(db, uom, _note())
    add_rows(db, "sync_uom", {"code": "box"})
    add_rows(db, "sync_note", {"code": "N1"})
    target = _note(f("uom", "reference", reference="sync.uom"))
    plan = sync_to(db, uom, target)
    assert _kinds(plan) == ["add_column", "add_index", "add_foreign_key"]
    fks = inspect(db.engine).get_foreign_keys("sync_note")
    assert [(k["name"], k["referred_table"], k["options"].get("ondelete")) for k in fks] == [
        ("fk_sync_note_uom", "sync_uom", "RESTRICT")]
    assert plan_for(db, uom, target).ops == ()


def test_reference_turned_into_a_plain_integer_drops_its_foreign_key(db):
    uom = entity("uom", f("code", "string", length=8))
    sync_to(db, uom, _note(f("uom", "reference", reference="sync.uom")))
    add_rows(db, "sync_uom", {"code": "box"})
    add_rows(db, "sync_note", {"code": "N1", "uom": 1})
    target = _note(f("uom", "integer"))
    plan = sync_to(db, uom, target)
    assert _kinds(plan) == ["drop_foreign_key", "drop_index"]
    assert inspect(db.engine).get_foreign_keys("sync_note") == []
    assert values(db, "SELECT uom FROM sync_note") == [(1,)]
    assert plan_for(db, uom, target).ops == ()


def test_entities_referencing_each_other_are_created_with_a_deferred_key(db):
    a = entity("alpha", f("beta", "reference", reference="sync.beta"))
    b = entity("beta", f("alpha", "reference", reference="sync.alpha"))
    plan = sync_to(db, a, b)
    assert _kinds(plan)[:2] == ["create_table", "create_table"]
    creates = {op.table: op for op in ops_of(plan, "create_table")}
    deferred = plan.ops[2:]
    assert deferred and all(op.kind == "add_foreign_key" for op in deferred)
    for op in deferred:  # created without the key, which is added once both exist
        assert op.name in creates[op.table].deferred
    assert {k["name"] for t in ("sync_alpha", "sync_beta")
            for k in inspect(db.engine).get_foreign_keys(t)} == {
        "fk_sync_alpha_beta", "fk_sync_beta_alpha"}
    assert plan_for(db, a, b).ops == ()


def test_ops_within_a_table_run_in_a_safe_order(db):
    sync_to(db, _note(f("a", "string", length=5, indexed=True), f("b", "integer"),
                      f("c", "integer")))
    target = _note(f("a2", "string", length=9, renamed_from="a", unique=True),
                   f("b", "integer", required=True, default=0), f("d", "text"))
    plan = plan_for(db, target)
    assert _kinds(plan) == ["drop_index", "rename_column", "add_column", "widen_type",
                            "set_not_null", "keep_column", "add_unique"]
    stored = json_roundtrip(plan)
    assert stored[1] == {
        "kind": "rename_column", "table": "sync_note", "column": "a2", "old": "a",
        "description": {"zh-CN": "重命名列 sync_note.a → a2（保留数据）",
                        "en": "rename column sync_note.a → a2 (data kept)"}}
    assert stored[3]["old"] == {"kind": "string", "length": 5}
    sync_to(db, target)
    assert _kinds(plan_for(db, target)) == ["keep_column"]


def test_a_removed_reference_field_keeps_its_values_but_not_its_key(db):
    uom = entity("uom", f("code", "string", length=8))
    sync_to(db, uom, _note(f("uom", "reference", reference="sync.uom", required=True)))
    add_rows(db, "sync_uom", {"code": "box"})
    add_rows(db, "sync_note", {"code": "N1", "uom": 1})
    plan = sync_to(db, uom, _note())
    assert _kinds(plan) == ["drop_foreign_key", "drop_index", "keep_column"]
    assert inspect(db.engine).get_foreign_keys("sync_note") == []
    with db.begin() as conn:  # the kept value no longer pins the referenced row
        conn.exec_driver_sql("DELETE FROM sync_uom")
    assert typed(db, "sync_note", "uom") == [(1,)]


def test_a_removed_child_table_is_kept_with_its_lines(db):
    with_lines = entity("doc", CODE, children=(child("doc", "lines", f("qty", "integer")),))
    sync_to(db, with_lines)
    add_rows(db, "sync_doc", {"code": "D1"})
    add_rows(db, "sync_doc__lines", {"parent_id": 1, "line_no": 1, "qty": 4})
    plan = sync_to(db, entity("doc", CODE))
    assert _kinds(plan) == ["keep_table"] and plan.ops[0].table == "sync_doc__lines"
    assert typed(db, "sync_doc__lines", "qty") == [(4,)]
