"""The record service's audit trail: record.create / update / delete with the
exact changes (Decimal digits kept, lines added / removed / changed), written
in the write's savepoint — a refused write leaves no event, and a failing
audit insert takes the change back with it: no audit row, no change."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from yunying.metadata.builder import package_from_documents
from yunying.platform.errors import Conflict, NotFound, StaleRecord, ValidationFailed
from yunying.platform.tables import audit_event, number_sequence
from yunying.runtime.records import RecordService
from yunying.runtime.records.audit_changes import json_safe, strip_changes
from yunying.runtime.registry import Registry

from record_helpers import (  # noqa: F401 - fixtures
    CTX, ITEM, NOW, REQ, SAMPLE, at, items, registry, requisition, service, tables,
)


def _events(db, entity: str = REQ) -> list[dict]:
    with db.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(
            select(audit_event).where(audit_event.c.entity == entity)
            .order_by(audit_event.c.id))]


def _count(db, table: str) -> int:
    with db.connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()


# ---------------------------------------------------------------- create

def test_create_records_every_stored_value_and_every_line(tables, service, items):
    with tables.begin() as conn:
        record = service.create(conn, at(NOW, actor="zhangsan"), REQ, requisition(items))
    first, second = record["lines"]
    [event] = _events(tables)
    assert (event["kind"], event["actor"], event["at"], event["record_id"], event["detail"]) == \
        ("record.create", "zhangsan", NOW, record["id"], {"version": 1})
    assert event["changes"] == {
        "number": [None, "LY202611-0001"],
        "department": [None, "0301"],
        "requester": [None, "zhangsan"],
        "request_date": [None, "2026-11-25"],
        "urgency": [None, "normal"],
        "reason": [None, "月度领用"],
        "lines": {"added": [
            {"id": first["id"], "line_no": 1, "values": {
                "item": items["WS-0001"], "quantity": "20.00", "unit_price": "32.5000",
                "amount": "650.00"}},
            {"id": second["id"], "line_no": 2, "values": {
                "item": items["WS-0002"], "quantity": "10.00"}},
        ]},
    }


def test_values_are_json_safe_and_decimals_keep_every_digit(tables, service, items):
    with tables.begin() as conn:
        record = service.create(conn, CTX, SAMPLE, {
            "code": "S-1", "price": "12345678901234.50", "ratio": "-0.001", "count": 3,
            "flag": False, "day": "2026-02-28", "moment": "2026-11-25T08:15:30",
            "item": items["BG-0001"]})
    [event] = _events(tables, SAMPLE)
    assert event["record_id"] == record["id"]
    assert event["changes"] == {
        "code": [None, "S-1"], "count": [None, 3], "ratio": [None, "-0.001"],
        "price": [None, "12345678901234.50"], "flag": [None, False],
        "day": [None, "2026-02-28"], "moment": [None, "2026-11-25T08:15:30"],
        "item": [None, items["BG-0001"]]}


@pytest.mark.parametrize("value, safe", [
    (Decimal("0E-8"), "0.00000000"),
    (Decimal("1.10"), "1.10"),
    (Decimal("-123456789012345678.12"), "-123456789012345678.12"),
    (date(2026, 1, 2), "2026-01-02"),
    (datetime(2026, 1, 2, 3, 4, 5, 6), "2026-01-02T03:04:05.000006"),
    (time(8, 30), "08:30:00"),
    (True, True), (7, 7), ("文字", "文字"), (None, None),
])
def test_json_safe(value, safe):
    assert json_safe(value) == safe


# ---------------------------------------------------------------- update

def test_update_records_only_the_changed_fields_old_to_new(tables, service, items):
    with tables.begin() as conn:
        record = service.create(conn, CTX, REQ, requisition(items, total_amount="650.5"))
    later = NOW + timedelta(hours=1)
    with tables.begin() as conn:
        service.update(conn, at(later, actor="lisi"), REQ, record["id"],
                       {"reason": "补充领用", "urgency": "normal", "total_amount": "650.50",
                        "requester": None}, version=1)
    event = _events(tables)[-1]
    assert (event["kind"], event["actor"], event["at"], event["detail"]) == \
        ("record.update", "lisi", later, {"version": 2})
    # urgency and total_amount were sent unchanged (650.50 == 650.5): not listed
    assert event["changes"] == {"requester": ["zhangsan", None],
                                "reason": ["月度领用", "补充领用"]}


def test_update_records_lines_added_removed_and_changed(tables, service, items):
    with tables.begin() as conn:
        record = service.create(conn, CTX, REQ, requisition(items))
    first, second = record["lines"]
    with tables.begin() as conn:
        updated = service.update(conn, CTX, REQ, record["id"], {"lines": [
            {"id": second["id"], "quantity": "3.5"},                         # moved up
            {"item": items["BG-0001"], "quantity": "1.5", "note": "新增"},   # added
        ]}, version=1)
    added = updated["lines"][1]
    assert _events(tables)[-1]["changes"] == {"lines": {
        "added": [{"id": added["id"], "line_no": 2, "values": {
            "item": items["BG-0001"], "quantity": "1.50", "note": "新增"}}],
        "removed": [{"id": first["id"], "line_no": 1, "values": {
            "item": items["WS-0001"], "quantity": "20.00", "unit_price": "32.5000",
            "amount": "650.00"}}],
        "changed": [{"id": second["id"], "line_no": 1, "changes": {
            "line_no": [2, 1], "quantity": ["10.00", "3.50"]}}],
    }}


def test_update_without_a_line_list_and_with_nothing_changed(tables, service, items):
    with tables.begin() as conn:
        record = service.create(conn, CTX, REQ, requisition(items))
        lines = [{"id": line["id"]} for line in record["lines"]]
        service.update(conn, CTX, REQ, record["id"], {"reason": "月度领用"}, version=1)
        service.update(conn, CTX, REQ, record["id"], {"lines": lines}, version=2)
    saves = _events(tables)[1:]
    assert [(e["kind"], e["changes"], e["detail"]) for e in saves] == [
        ("record.update", {}, {"version": 2}), ("record.update", {}, {"version": 3})]


CALC = {
    "package": {"code": "calc", "version": "1.0.0", "name": {"zh": "计算", "en": "Calc"}},
    "entity": {"sheet": {"code": "sheet", "name": {"zh": "表", "en": "Sheet"}, "fields": [
        {"code": "qty", "type": "decimal", "precision": 12, "scale": 3,
         "name": {"zh": "数量", "en": "Qty"}},
        {"code": "price", "type": "money", "scale": 4, "name": {"zh": "单价", "en": "Price"}},
        {"code": "total", "type": "computed", "formula": "qty * price", "result": "money",
         "name": {"zh": "合计", "en": "Total"}},
    ]}},
}


def test_computed_fields_are_recorded_when_they_change(db):
    registry = Registry.from_packages([package_from_documents(CALC)])
    with db.begin() as conn:
        registry.model.metadata.create_all(conn)
    service = RecordService(registry)
    with db.begin() as conn:
        record = service.create(conn, CTX, "calc.sheet", {"qty": "2", "price": "1.2500"})
        service.update(conn, CTX, "calc.sheet", record["id"], {"qty": "3"}, version=1)
    create, update = _events(db, "calc.sheet")
    assert create["changes"] == {"qty": [None, "2.000"], "price": [None, "1.2500"],
                                 "total": [None, "2.50"]}
    assert update["changes"] == {"qty": ["2.000", "3.000"], "total": ["2.50", "3.75"]}


# ---------------------------------------------------------------- delete

def test_delete_records_the_old_values_and_lines(tables, service, items):
    with tables.begin() as conn:
        record = service.create(conn, CTX, REQ, requisition(items))
        service.update(conn, CTX, REQ, record["id"], {"reason": None}, version=1)
        service.delete(conn, at(NOW, actor="wangwu"), REQ, record["id"], version=2)
    first, second = record["lines"]
    event = _events(tables)[-1]
    assert (event["kind"], event["actor"], event["record_id"], event["detail"]) == \
        ("record.delete", "wangwu", record["id"], {"version": 2})
    assert event["changes"] == {
        "number": ["LY202611-0001", None], "department": ["0301", None],
        "requester": ["zhangsan", None], "request_date": ["2026-11-25", None],
        "urgency": ["normal", None],
        "lines": {"removed": [
            {"id": first["id"], "line_no": 1, "values": {
                "item": items["WS-0001"], "quantity": "20.00", "unit_price": "32.5000",
                "amount": "650.00"}},
            {"id": second["id"], "line_no": 2, "values": {
                "item": items["WS-0002"], "quantity": "10.00"}}]},
    }


# ---------------------------------------------------------------- refused writes

def test_refused_writes_leave_no_event(tables, service, items):
    with tables.begin() as conn:
        record = service.create(conn, CTX, REQ, requisition(items))
    refused = [
        lambda conn: service.create(conn, CTX, REQ, requisition(items, urgency="never")),
        lambda conn: service.update(conn, CTX, REQ, record["id"], {"reason": "x"}, version=9),
        lambda conn: service.update(conn, CTX, REQ, record["id"], {"lines": [
            {"item": 999_999, "quantity": 1}]}, version=1),
        lambda conn: service.update(conn, CTX, REQ, 999, {"reason": "x"}, version=1),
        lambda conn: service.delete(conn, CTX, REQ, record["id"], version=9),
        lambda conn: service.delete(conn, CTX, REQ, 999),
        lambda conn: service.delete(conn, CTX, ITEM, items["WS-0001"]),   # referenced
    ]
    with tables.begin() as conn:                   # the caller carries on and commits
        for write in refused:
            with pytest.raises((ValidationFailed, StaleRecord, NotFound, Conflict)):
                write(conn)
    assert [e["kind"] for e in _events(tables)] == ["record.create"]
    assert [e["kind"] for e in _events(tables, ITEM)] == ["record.create"] * 3


# ---------------------------------------------------------------- no audit row, no change

def _break_the_audit_trail(db) -> None:
    with db.begin() as conn:
        conn.execute(text("DROP TABLE yy_audit_event"))


def test_a_failing_audit_insert_takes_the_create_back(tables, service, items):
    _break_the_audit_trail(tables)
    with tables.begin() as conn:                   # the caller carries on and commits
        with pytest.raises(DBAPIError):
            service.create(conn, CTX, REQ, requisition(items))
    assert _count(tables, "materials_requisition") == 0
    assert _count(tables, "materials_requisition__lines") == 0
    with tables.connect() as conn:                 # not even a document number was used
        assert conn.execute(select(number_sequence)).first() is None


def test_a_failing_audit_insert_takes_the_update_back(tables, service, items):
    with tables.begin() as conn:
        record = service.create(conn, CTX, REQ, requisition(items))
    _break_the_audit_trail(tables)
    with tables.begin() as conn:
        with pytest.raises(DBAPIError):
            service.update(conn, CTX, REQ, record["id"], {"reason": "changed", "lines": []},
                           version=1)
    with tables.connect() as conn:
        assert service.get(conn, CTX, REQ, record["id"]) == record


def test_a_failing_audit_insert_takes_the_delete_back(tables, service, items):
    with tables.begin() as conn:
        record = service.create(conn, CTX, REQ, requisition(items))
    _break_the_audit_trail(tables)
    with tables.begin() as conn:
        with pytest.raises(DBAPIError):
            service.delete(conn, CTX, REQ, record["id"])
    with tables.connect() as conn:
        assert service.get(conn, CTX, REQ, record["id"]) == record


# ---------------------------------------------------------------- hidden fields

def test_strip_changes_removes_hidden_fields_and_what_only_they_changed():
    changes = {
        "reason": ["a", "b"], "total_amount": ["1.00", "2.00"],
        "lines": {
            "added": [{"id": 3, "line_no": 2, "values": {"item": 1, "unit_price": "5.0000"}}],
            "changed": [{"id": 1, "line_no": 1, "changes": {"unit_price": ["1", "2"]}},
                        {"id": 2, "line_no": 2, "changes": {"quantity": ["1", "2"],
                                                            "unit_price": ["1", "2"]}}],
        },
        "other": {"changed": [{"id": 9, "line_no": 1, "changes": {"unit_price": ["1", "2"]}}]},
    }
    assert strip_changes(changes, {"total_amount", "lines.unit_price"}) == {
        "reason": ["a", "b"],
        "lines": {
            "added": [{"id": 3, "line_no": 2, "values": {"item": 1}}],
            "changed": [{"id": 2, "line_no": 2, "changes": {"quantity": ["1", "2"]}}],
        },
        "other": {"changed": [{"id": 9, "line_no": 1, "changes": {"unit_price": ["1", "2"]}}]},
    }
    assert strip_changes({"lines": {"changed": [
        {"id": 1, "line_no": 1, "changes": {"unit_price": ["1", "2"]}}]}},
        {"lines.unit_price"}) == {}
    assert strip_changes(None, {"x"}) is None
    assert strip_changes(changes, ()) == changes
