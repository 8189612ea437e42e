"""Schema sync: applying is all or nothing, and table rebuilds keep child rows."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from schema_helpers import (
    add_rows, child, entity, f, model, plan_for, snapshot, sync_to, typed, values,
)

from yunying.platform.errors import ConfigurationError, LossyChange
from yunying.runtime.schema import (
    AddColumn, AddIndex, ColumnType, Plan, WidenType, apply_plan, plan_sync,
)


def _order(number_length=20, memo_length=50):
    return entity(
        "order", f("number", "string", length=number_length, required=True, unique=True),
        children=(child("order", "lines", f("memo", "string", length=memo_length),
                        f("qty", "integer", required=True)),))


def _seed_orders(db):
    add_rows(db, "sync_order", {"number": "O1"}, {"number": "O2"})
    add_rows(db, "sync_order__lines", {"parent_id": 1, "line_no": 1, "memo": "a", "qty": 1},
             {"parent_id": 1, "line_no": 2, "memo": "b", "qty": 2},
             {"parent_id": 2, "line_no": 1, "memo": "c", "qty": 3})


def test_child_rows_survive_a_rebuild_of_their_parent_table(db):
    sync_to(db, _order())
    _seed_orders(db)
    plan = sync_to(db, _order(number_length=40))
    assert [op.kind for op in plan.ops] == ["widen_type"]
    assert typed(db, "sync_order__lines", "parent_id", "line_no", "memo") == [
        (1, 1, "a"), (1, 2, "b"), (2, 1, "c")]
    # the references still hold: orphans are refused, deletes still cascade
    with pytest.raises(IntegrityError):
        add_rows(db, "sync_order__lines", {"parent_id": 99, "line_no": 1, "qty": 1})
    with db.begin() as conn:
        conn.execute(text("DELETE FROM sync_order WHERE id = 1"))
    assert typed(db, "sync_order__lines", "memo") == [("c",)]


def test_a_rebuilt_child_table_keeps_its_cascading_parent_key(db):
    sync_to(db, _order())
    _seed_orders(db)
    sync_to(db, _order(memo_length=80))
    fks = inspect(db.engine).get_foreign_keys("sync_order__lines")
    assert [(k["name"], k["options"].get("ondelete")) for k in fks] == [
        ("fk_sync_order__lines_parent_id", "CASCADE")]
    with db.begin() as conn:
        conn.execute(text("DELETE FROM sync_order WHERE id = 2"))
    assert typed(db, "sync_order__lines", "memo") == [("a",), ("b",)]
    assert plan_for(db, _order(memo_length=80)).ops == ()


def test_an_exception_after_apply_rolls_every_change_back(db):
    sync_to(db, _order())
    _seed_orders(db)
    before = snapshot(db)
    target = _order(number_length=60, memo_length=10)
    wider = entity("order", f("number", "string", length=60, required=True, unique=True),
                   f("note", "text", required=True, default="n/a"),
                   children=target.children)
    extra = entity("extra", f("x", "integer", indexed=True))
    with pytest.raises(RuntimeError, match="after the plan"):
        with db.schema_transaction() as conn:
            plan = plan_sync(conn, model(wider, extra))
            apply_plan(conn, plan)
            assert {"sync_extra"} <= set(inspect(conn).get_table_names())
            raise RuntimeError("after the plan")
    assert snapshot(db) == before
    assert "sync_extra" not in inspect(db.engine).get_table_names()


def test_a_step_failing_midway_leaves_the_database_as_it_was(db):
    sync_to(db, _order(), entity("other", f("x", "integer")))
    _seed_orders(db)
    add_rows(db, "sync_other", {"x": 5})
    before = snapshot(db)
    plan = Plan((
        AddColumn(table="sync_order", column="note", type=ColumnType("text")),
        WidenType(table="sync_order__lines", column="memo", old=ColumnType("string", 50),
                  new=ColumnType("string", 90)),
        AddIndex(table="sync_other", name="ix_sync_other_missing", columns=("missing",)),
    ))
    with pytest.raises(LossyChange) as caught:
        with db.schema_transaction() as conn:
            apply_plan(conn, plan)
    assert caught.value.code == "schema_apply_failed"
    assert caught.value.details["ops"][0]["name"] == "ix_sync_other_missing"
    assert "ix_sync_other_missing" in caught.value.message.en
    assert snapshot(db) == before


def test_an_empty_plan_applies_without_touching_anything(db):
    sync_to(db, _order())
    before = snapshot(db)
    with db.begin() as conn:
        apply_plan(conn, Plan())
    assert snapshot(db) == before


def _alter_in_plain_transaction(db):
    with db.begin() as conn:
        apply_plan(conn, plan_sync(conn, model(_order(number_length=40))))


def test_alterations_outside_a_schema_transaction_never_lose_child_rows(db, dialect):
    """SQLite rebuilds by dropping the table, so it insists on foreign keys being
    off; PostgreSQL alters in place and needs nothing special."""
    sync_to(db, _order())
    _seed_orders(db)
    if dialect == "sqlite":
        with pytest.raises(ConfigurationError) as caught:
            _alter_in_plain_transaction(db)
        assert caught.value.code == "schema_transaction_required"
        assert plan_for(db, _order(number_length=40)).kinds() == ["widen_type"]
    else:
        _alter_in_plain_transaction(db)
        assert plan_for(db, _order(number_length=40)).ops == ()
    assert values(db, "SELECT count(*) FROM sync_order__lines") == [(3,)]


def test_creating_tables_needs_no_schema_transaction(db):
    with db.begin() as conn:
        apply_plan(conn, plan_sync(conn, model(_order())))
    assert {"sync_order", "sync_order__lines"} <= set(inspect(db.engine).get_table_names())


def test_decimal_money_survives_rebuilds_exactly(db):
    spec = entity("fee", f("amount", "money", required=True))
    sync_to(db, spec)
    add_rows(db, "sync_fee", {"amount": Decimal("1234567.89")}, {"amount": Decimal("-0.01")})
    sync_to(db, entity("fee", f("amount", "money", required=True, precision=20, scale=4)))
    assert typed(db, "sync_fee", "amount") == [(Decimal("1234567.8900"),),
                                               (Decimal("-0.0100"),)]
