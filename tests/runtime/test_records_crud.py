"""Record service CRUD: create/get/update/delete, child lines, numbering,
optimistic locking, referenced deletes, and nothing half-written."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select, text

from yunying.platform.errors import Conflict, NotFound, StaleRecord, ValidationFailed
from yunying.platform.tables import number_sequence
from yunying.runtime.records import RecordService

from record_helpers import (  # noqa: F401 - fixtures
    CTX, ITEM, NOW, REQ, SAMPLE, add_attachment, at, field_errors, items, registry,
    requisition, service, tables,
)

SYSTEM = {"id", "version", "created_at", "created_by", "updated_at", "updated_by"}


def _count(db, table: str) -> int:
    with db.connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()


def _counter(db) -> list[tuple]:
    with db.connect() as conn:
        return [tuple(r) for r in conn.execute(select(number_sequence))]


def test_create_returns_the_full_stored_record(tables, service, items):
    with tables.begin() as conn:
        record = service.create(conn, CTX, REQ, requisition(items))
    assert SYSTEM <= set(record)
    assert record["version"] == 1
    assert record["created_at"] == record["updated_at"] == NOW
    assert record["created_by"] == record["updated_by"] == "tester"
    assert record["number"] == "LY202611-0001"
    assert record["request_date"] == date(2026, 11, 25)       # default: today
    assert record["urgency"] == "normal"                      # literal default
    assert record["attachment"] is None and record["total_amount"] is None
    lines = record["lines"]
    assert [line["line_no"] for line in lines] == [1, 2]
    assert set(lines[0]) == {"id", "line_no", "item", "quantity", "unit_price", "amount", "note"}
    assert lines[0]["quantity"] == Decimal("20.00") and isinstance(lines[0]["quantity"], Decimal)
    assert lines[0]["unit_price"] == Decimal("32.5000")
    assert lines[1]["quantity"] == Decimal("10.00")
    with tables.connect() as conn:
        assert service.get(conn, CTX, REQ, record["id"]) == record


def test_get_returns_python_values_and_lines_in_order(tables, service, items):
    with tables.begin() as conn:
        created = service.create(conn, CTX, REQ, requisition(
            items, total_amount=918, request_date="2026-11-02", urgency="urgent"))
        record = service.get(conn, CTX, REQ, created["id"])
    assert record["total_amount"] == Decimal("918.00")
    assert record["request_date"] == date(2026, 11, 2)
    assert isinstance(record["created_at"], datetime)
    assert record["urgency"] == "urgent"
    assert [line["item"] for line in record["lines"]] == [items["WS-0001"], items["WS-0002"]]


def test_item_defaults_and_booleans(tables, service, items):
    with tables.connect() as conn:
        record = service.get(conn, CTX, ITEM, items["WS-0001"])
    assert record["high_value"] is False and record["active"] is True
    assert record["unit_price"] == Decimal("32.5000")


def test_unknown_entity_and_unknown_record(tables, service):
    with tables.begin() as conn:
        for call in (lambda: service.get(conn, CTX, "materials.nothing", 1),
                     lambda: service.create(conn, CTX, "nope", {}),
                     lambda: service.delete(conn, CTX, "x.y", 1)):
            with pytest.raises(NotFound) as info:
                call()
            assert info.value.code == "unknown_entity"
        for bad_id in (999, 0, -1, 2 ** 40, "1", True):
            with pytest.raises(NotFound) as info:
                service.get(conn, CTX, REQ, bad_id)
            assert info.value.code == "not_found"
            assert info.value.message.zh and info.value.message.en
        with pytest.raises(NotFound):
            service.update(conn, CTX, REQ, 999, {"reason": "x"}, version=1)
        with pytest.raises(NotFound):
            service.update(conn, CTX, REQ, 999, {"reason": 5}, version=1)
        with pytest.raises(NotFound):
            service.delete(conn, CTX, REQ, 999)


def test_update_changes_given_fields_and_bumps_the_version(tables, service, items):
    with tables.begin() as conn:
        record = service.create(conn, CTX, REQ, requisition(items))
    later = at(datetime(2026, 11, 26, 8, 0), actor="lisi")
    with tables.begin() as conn:
        updated = service.update(conn, later, REQ, record["id"],
                                 {"reason": "补充领用", "total_amount": "10.5"},
                                 version=1)
    assert updated["version"] == 2
    assert updated["reason"] == "补充领用"
    assert updated["total_amount"] == Decimal("10.50")
    assert updated["department"] == "0301"                     # untouched
    assert updated["created_at"] == NOW and updated["created_by"] == "tester"
    assert updated["updated_at"] == datetime(2026, 11, 26, 8, 0)
    assert updated["updated_by"] == "lisi"
    assert updated["lines"] == record["lines"]                 # child key absent
    with tables.connect() as conn:
        assert service.get(conn, CTX, REQ, record["id"]) == updated


def test_update_may_clear_optional_fields(tables, service, items):
    with tables.begin() as conn:
        record = service.create(conn, CTX, REQ, requisition(items, total_amount="5"))
        updated = service.update(conn, CTX, REQ, record["id"],
                                 {"total_amount": None, "requester": None}, version=1)
    assert updated["total_amount"] is None and updated["requester"] is None


def test_stale_update_and_delete_are_refused(tables, service, items):
    with tables.begin() as conn:
        record = service.create(conn, CTX, REQ, requisition(items))
        service.update(conn, CTX, REQ, record["id"], {"reason": "first"}, version=1)
    with tables.begin() as conn:
        with pytest.raises(StaleRecord) as info:
            service.update(conn, CTX, REQ, record["id"],
                           {"reason": "second", "lines": []}, version=1)
    assert info.value.details == {"current_version": 2}
    assert "他人修改" in info.value.message.zh
    assert "changed by someone else" in info.value.message.en
    with tables.begin() as conn:
        with pytest.raises(StaleRecord) as info:
            service.delete(conn, CTX, REQ, record["id"], version=1)
        assert info.value.details == {"current_version": 2}
    with tables.connect() as conn:
        current = service.get(conn, CTX, REQ, record["id"])
    assert current["reason"] == "first" and len(current["lines"]) == 2   # untouched


def test_child_lines_added_updated_removed_and_reordered(tables, service, items):
    with tables.begin() as conn:
        record = service.create(conn, CTX, REQ, requisition(items))
    first, second = record["lines"]
    with tables.begin() as conn:
        updated = service.update(conn, CTX, REQ, record["id"], {"lines": [
            {"id": second["id"], "quantity": "3"},                          # kept, moved up
            {"item": items["BG-0001"], "quantity": "1.5", "note": "新增"},   # added
        ]}, version=1)
    lines = updated["lines"]
    assert [line["line_no"] for line in lines] == [1, 2]
    assert lines[0]["id"] == second["id"]
    assert lines[0]["quantity"] == Decimal("3.00")
    assert lines[0]["item"] == second["item"]                             # untouched field
    assert lines[1]["item"] == items["BG-0001"] and lines[1]["note"] == "新增"
    assert first["id"] not in {line["id"] for line in lines}             # removed
    assert _count(tables, "materials_requisition__lines") == 2
    # reorder only
    with tables.begin() as conn:
        reordered = service.update(conn, CTX, REQ, record["id"], {"lines": [
            {"id": lines[1]["id"]}, {"id": lines[0]["id"]}]}, version=2)
    assert [line["id"] for line in reordered["lines"]] == [lines[1]["id"], lines[0]["id"]]
    assert [line["line_no"] for line in reordered["lines"]] == [1, 2]
    # empty list removes every line
    with tables.begin() as conn:
        emptied = service.update(conn, CTX, REQ, record["id"], {"lines": []}, version=3)
    assert emptied["lines"] == [] and _count(tables, "materials_requisition__lines") == 0


def test_a_line_of_another_record_cannot_be_taken_over(tables, service, items):
    with tables.begin() as conn:
        one = service.create(conn, CTX, REQ, requisition(items))
        other = service.create(conn, CTX, REQ, requisition(items))
    foreign = other["lines"][0]["id"]
    with tables.begin() as conn:
        with pytest.raises(ValidationFailed) as info:
            service.update(conn, CTX, REQ, one["id"], {"reason": "x", "lines": [
                {"id": one["lines"][0]["id"]}, {"id": foreign, "quantity": "1"},
                {"id": one["lines"][0]["id"]}]}, version=1)
    assert field_errors(info.value) == {"lines.1.id": ["reference"], "lines.2.id": ["reference"]}
    message = info.value.details["fields"]["lines.1.id"][0]["message"]
    assert "第 2 行" in message["zh-CN"] and "row 2" in message["en"]
    with tables.connect() as conn:
        assert service.get(conn, CTX, REQ, one["id"]) == one          # nothing written
        assert service.get(conn, CTX, REQ, other["id"]) == other


def test_foreign_line_ids_are_reported_with_other_problems(tables, service, items):
    with tables.begin() as conn:
        one = service.create(conn, CTX, REQ, requisition(items))
        other = service.create(conn, CTX, REQ, requisition(items))
        with pytest.raises(ValidationFailed) as info:
            service.update(conn, CTX, REQ, one["id"], {"urgency": "never", "lines": [
                {"id": other["lines"][1]["id"]}]}, version=1)
    assert field_errors(info.value) == {"urgency": ["enum"], "lines.0.id": ["reference"]}


def test_update_line_partial_required_null_is_refused(tables, service, items):
    with tables.begin() as conn:
        record = service.create(conn, CTX, REQ, requisition(items))
        with pytest.raises(ValidationFailed) as info:
            service.update(conn, CTX, REQ, record["id"], {
                "department": None, "lines": [
                    {"id": record["lines"][0]["id"], "quantity": None},
                    {"quantity": "2"}]}, version=1)
    assert field_errors(info.value) == {"department": ["null"],
                                        "lines.0.quantity": ["null"],
                                        "lines.1.item": ["required"]}


def test_delete_removes_record_and_lines(tables, service, items):
    with tables.begin() as conn:
        record = service.create(conn, CTX, REQ, requisition(items))
        keep = service.create(conn, CTX, REQ, requisition(items))
    with tables.begin() as conn:
        assert service.delete(conn, CTX, REQ, record["id"], version=1) is None
    with tables.begin() as conn:
        with pytest.raises(NotFound):
            service.get(conn, CTX, REQ, record["id"])
        service.get(conn, CTX, REQ, keep["id"])
    assert _count(tables, "materials_requisition__lines") == 2          # keep's lines
    with tables.begin() as conn:
        service.delete(conn, CTX, REQ, keep["id"])                       # no version: unconditional
    assert _count(tables, "materials_requisition") == 0
    assert _count(tables, "materials_requisition__lines") == 0


def test_the_id_of_a_deleted_newest_record_is_never_reused(tables, service, items):
    # rows keyed by (entity, record id) — workflow instances, journal entries,
    # audit events — must never attach to a later record (SQLite AUTOINCREMENT)
    with tables.begin() as conn:
        first = service.create(conn, CTX, REQ, requisition(items))
    with tables.begin() as conn:
        service.delete(conn, CTX, REQ, first["id"])
    with tables.begin() as conn:
        second = service.create(conn, CTX, REQ, requisition(items))
    assert second["id"] > first["id"]


def test_delete_refused_while_referenced(tables, service, items):
    with tables.begin() as conn:
        record = service.create(conn, CTX, REQ, requisition(items))
    with tables.begin() as conn:
        with pytest.raises(Conflict) as info:
            service.delete(conn, CTX, ITEM, items["WS-0001"])
    assert info.value.details["referenced_by"] == [REQ]
    assert "被 领用申请单 引用，不能删除" in info.value.message.zh
    assert "referenced by Material requisition" in info.value.message.en
    with tables.begin() as conn:                                         # still there
        assert service.get(conn, CTX, ITEM, items["WS-0001"])["code"] == "WS-0001"
        service.delete(conn, CTX, REQ, record["id"])
        service.delete(conn, CTX, ITEM, items["WS-0001"], version=1)     # now free
        with pytest.raises(NotFound):
            service.get(conn, CTX, ITEM, items["WS-0001"])


def test_delete_refused_while_referenced_with_foreign_keys_off(tables, service, items):
    """Package installs run with SQLite foreign keys off: the service still refuses."""
    with tables.begin() as conn:
        service.create(conn, CTX, SAMPLE, {"code": "S-1", "item": items["WS-0002"]})
    with tables.schema_transaction() as conn:
        with pytest.raises(Conflict) as info:
            service.delete(conn, CTX, ITEM, items["WS-0002"])
    assert info.value.details["referenced_by"] == [SAMPLE]
    assert _count(tables, "materials_item") == 3


def test_failed_create_with_lines_leaves_nothing_and_uses_no_number(tables, service, items):
    with tables.begin() as conn:
        service.create(conn, CTX, REQ, requisition(items))
    before = _counter(tables)
    bad = requisition(items)
    bad["lines"].append({"item": 987654, "quantity": "1"})               # only the DB can tell
    with tables.begin() as conn:
        with pytest.raises(ValidationFailed) as info:
            service.create(conn, CTX, REQ, bad)
        # the caller carries on in the same transaction and commits
        assert conn.execute(text("SELECT count(*) FROM materials_requisition")).scalar() == 1
    assert field_errors(info.value) == {"lines.2.item": ["reference"]}
    assert _count(tables, "materials_requisition") == 1
    assert _count(tables, "materials_requisition__lines") == 2
    assert _counter(tables) == before
    with tables.begin() as conn:
        assert service.create(conn, CTX, REQ, requisition(items))["number"] == "LY202611-0002"


def test_failed_create_rolls_back_with_the_caller(tables, service, items):
    with pytest.raises(RuntimeError):
        with tables.begin() as conn:
            service.create(conn, CTX, REQ, requisition(items))
            raise RuntimeError("the caller fails later")
    assert _count(tables, "materials_requisition") == 0
    with tables.begin() as conn:
        assert service.create(conn, CTX, REQ, requisition(items))["number"] == "LY202611-0001"


def test_numbering_resets_monthly_and_keeps_a_given_number(tables, service, items):
    with tables.begin() as conn:
        numbers = [service.create(conn, at(moment), REQ, requisition(items))["number"]
                   for moment in (datetime(2026, 11, 30, 23, 0), datetime(2026, 11, 30, 23, 1),
                                  datetime(2026, 12, 1, 0, 5), datetime(2027, 1, 2, 9, 0))]
        given = service.create(conn, CTX, REQ, requisition(items, number="MANUAL-1"))
        blank = service.create(conn, CTX, REQ, requisition(items, number=""))
    assert numbers == ["LY202611-0001", "LY202611-0002", "LY202612-0001", "LY202701-0001"]
    assert given["number"] == "MANUAL-1"
    assert blank["number"] == "LY202611-0003"


def test_attachment_must_exist(tables, service, items):
    file_id = add_attachment(tables)
    with tables.begin() as conn:
        record = service.create(conn, CTX, REQ, requisition(items, attachment=file_id))
        assert record["attachment"] == file_id
        with pytest.raises(ValidationFailed) as info:
            service.update(conn, CTX, REQ, record["id"], {"attachment": file_id + 100},
                           version=1)
    assert field_errors(info.value) == {"attachment": ["attachment"]}
    assert info.value.details["fields"]["attachment"][0]["params"] == {"value": file_id + 100}


def test_reference_checks_batch_ids_per_entity(tables, service, items):
    statements: list[str] = []
    from sqlalchemy import event

    def seen(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(tables.engine, "before_cursor_execute", seen)
    try:
        with tables.begin() as conn:
            service.create(conn, CTX, REQ, requisition(items, lines=[
                {"item": items[code], "quantity": "1"} for code in items] * 3))
    finally:
        event.remove(tables.engine, "before_cursor_execute", seen)
    lookups = [s for s in statements if "FROM materials_item" in s]
    assert len(lookups) == 1


def test_get_uses_one_query_per_table(tables, service, items):
    with tables.begin() as conn:
        record = service.create(conn, CTX, REQ, requisition(items))
    statements: list[str] = []
    from sqlalchemy import event

    def seen(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(tables.engine, "before_cursor_execute", seen)
    try:
        with tables.connect() as conn:
            service.get(conn, CTX, REQ, record["id"])
    finally:
        event.remove(tables.engine, "before_cursor_execute", seen)
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 2


def test_find_id_by_key(tables, service, items):
    with tables.connect() as conn:
        assert service.find_id_by_key(conn, ITEM, "code", "WS-0002") == items["WS-0002"]
        assert service.find_id_by_key(conn, ITEM, "code", "NOPE") is None
        assert service.find_id_by_key(conn, ITEM, "code", 12) is None        # wrong type
        with pytest.raises(NotFound) as info:
            service.find_id_by_key(conn, ITEM, "colour", "red")
        assert info.value.code == "unknown_field"


def test_services_share_no_state(registry, tables, items):
    one, two = RecordService(registry), RecordService(registry)
    with tables.connect() as conn:
        assert one.get(conn, CTX, ITEM, items["WS-0001"]) == two.get(conn, CTX, ITEM,
                                                                    items["WS-0001"])
    assert one.spec(ITEM) is two.spec(ITEM) is registry.entity(ITEM)
