"""Schema sync: a synced database re-plans to nothing, on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from schema_helpers import (
    IndexSpec, add_rows, child, entity, f, json_roundtrip, ops_of, plan_for, snapshot,
    sync_to, values,
)

from yunying.runtime.schema import render


def _catalogue():
    """Every field type, indexes, uniques, references, a self-reference, a child table."""
    uom = entity("uom", f("code", "string", length=16, required=True, unique=True))
    item = entity(
        "item",
        f("code", "string", length=32, required=True, unique=True),
        f("note", "text"),
        f("qty", "integer", indexed=True),
        f("ratio", "decimal", precision=10, scale=4),
        f("price", "money", required=True),
        f("big", "money", precision=20, scale=6),
        f("active", "boolean", required=True, default=True),
        f("since", "date", default="today"),
        f("seen", "datetime", default="now"),
        f("category", "enum", dictionary="sync.category"),
        f("owner", "user"),
        f("dept", "org_unit", indexed=True),
        f("photo", "attachment"),
        f("uom", "reference", reference="sync.uom", required=True),
        f("parent", "reference", reference="sync.item"),
        indexes=(IndexSpec(("qty", "since")), IndexSpec(("owner", "dept"), unique=True)),
    )
    order = entity(
        "order",
        f("number", "string", length=20, unique=True),
        f("total", "money"),
        children=(child("order", "lines",
                        f("item", "reference", reference="sync.item", required=True),
                        f("quantity", "decimal", precision=12, scale=2, required=True),
                        f("memo", "string", length=200, indexed=True)),),
    )
    return uom, item, order


def test_a_fresh_database_gets_every_table_in_dependency_order(db):
    plan = sync_to(db, *_catalogue())
    created = [op.table for op in ops_of(plan, "create_table")]
    assert set(created) == {"sync_uom", "sync_item", "sync_order", "sync_order__lines"}
    assert created.index("sync_uom") < created.index("sync_item")
    assert created.index("sync_item") < created.index("sync_order__lines")
    assert created.index("sync_order") < created.index("sync_order__lines")
    assert len(plan.ops) == 4


def test_replanning_after_apply_finds_nothing(db):
    sync_to(db, *_catalogue())
    again = plan_for(db, *_catalogue())
    assert again.ops == ()
    assert render(again) == "schema: no changes / 数据库结构无变更"


def test_replanning_after_rebuilding_every_table_finds_nothing(db):
    """Alterations rebuild tables on SQLite: names, uniques, FKs, indexes survive."""
    uom, item, order = _catalogue()
    sync_to(db, uom, item, order)
    add_rows(db, "sync_uom", {"code": "box"})
    add_rows(db, "sync_item", {"code": "A", "price": Decimal("1.50"), "active": True,
                               "uom": 1})
    add_rows(db, "sync_order", {"number": "O1"})
    add_rows(db, "sync_order__lines", {"parent_id": 1, "line_no": 1, "item": 1,
                                       "quantity": Decimal("2.00")})
    wider = [
        entity("uom", *(_widen(x) for x in uom.fields)),
        entity("item", *(_widen(x) for x in item.fields), indexes=item.indexes),
        entity("order", *(_widen(x) for x in order.fields),
               children=(child("order", "lines",
                               *(_widen(x) for x in order.children[0].fields)),)),
    ]
    plan = sync_to(db, *wider)
    assert {op.table for op in ops_of(plan, "widen_type")} == {
        "sync_uom", "sync_item", "sync_order", "sync_order__lines"}
    assert plan_for(db, *wider).ops == ()
    before = snapshot(db)
    assert before["sync_order__lines"]["rows"][0][3] == 1  # the line still points at item 1
    assert values(db, "SELECT code, price FROM sync_item") == [("A", Decimal("1.50"))]


def _widen(spec):
    if spec.type == "string":
        return replace(spec, length=spec.length + 10)
    if spec.type in ("decimal", "money"):
        return replace(spec, precision=(spec.precision or 18) + 2, scale=spec.scale)
    return spec


def test_the_plan_is_json_ready_with_both_languages(db):
    plan = plan_for(db, *_catalogue())
    stored = json_roundtrip(plan)
    assert [d["kind"] for d in stored] == ["create_table"] * 4
    item = next(d for d in stored if d["table"] == "sync_item")
    assert item["entity"] == "sync.item"
    assert {"name": "price", "type": "NUMERIC(18, 2)", "nullable": False} in item["columns"]
    assert "uq_sync_item_owner_dept" in item["uniques"]
    assert "fk_sync_item_uom" in item["foreign_keys"]
    assert item["description"]["en"].startswith("create table sync_item")
    assert item["description"]["zh-CN"].startswith("新建表 sync_item")


def test_render_lists_created_tables_one_line_each(db):
    plan = plan_for(db, *_catalogue())
    lines = render(plan).splitlines()
    assert lines[0] == ("schema plan: 4 change(s), 4 step(s) / "
                        "数据库结构变更计划：4 项变更，共 4 步")
    assert lines[1] == "  1. + [create_table] create table sync_order (8 columns) / " \
                       "新建表 sync_order（8 列）"
    assert len(lines) == 5


def test_long_codes_get_stable_shortened_names(db):
    """Identifiers over 63 characters end in a hash; PostgreSQL keeps them whole."""
    long_field = "a_rather_long_field_code_for_naming_test"  # 40 characters
    spec = entity("a_long_entity_code_here",
                  f(long_field, "string", length=10, unique=True),
                  f("another_rather_long_field_code_to_index", "integer", indexed=True),
                  children=(child("a_long_entity_code_here", "long_child_code",
                                  f(long_field, "integer", indexed=True)),))
    sync_to(db, spec)
    assert plan_for(db, spec).ops == ()
    wider = entity("a_long_entity_code_here",
                   f(long_field, "string", length=20, unique=True),
                   f("another_rather_long_field_code_to_index", "integer", indexed=True),
                   children=spec.children)
    assert [op.kind for op in sync_to(db, wider).ops] == ["widen_type"]
    assert plan_for(db, wider).ops == ()
