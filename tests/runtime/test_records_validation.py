"""Record validation: every error code, located, in zh-CN and en, all at once."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import text

from yunying.platform.errors import ValidationFailed

from record_helpers import (  # noqa: F401 - fixtures
    CTX, ITEM, REQ, SAMPLE, at, field_errors, items, registry,
    requisition, service, tables,
)


def _fail(service, db, entity, data, ctx=CTX):
    with db.begin() as conn:
        with pytest.raises(ValidationFailed) as info:
            service.create(conn, ctx, entity, data)
    return info.value


def _entry(exc, path, index=0):
    return exc.details["fields"][path][index]


def _sample(**values):
    return {"code": "S-1", **values}


def _assert_bilingual(exc):
    assert exc.code == "validation_failed"
    assert exc.message.zh and exc.message.en
    for path, entries in exc.details["fields"].items():
        for entry in entries:
            assert set(entry) == {"code", "message", "params"}
            assert set(entry["message"]) == {"zh-CN", "en"}
            assert entry["message"]["zh-CN"] != entry["message"]["en"]


@pytest.mark.parametrize("field, value, code, zh, en", [
    ("code", "S-1234567890123", "length_max", "编号 最多 12 个字符",
     "Code must be at most 12 characters long"),
    ("code", "S-", "length_min", "编号 至少 3 个字符", "Code must be at least 3 characters long"),
    ("code", "X-12", "pattern", "编号 格式不正确，应符合 ^S-[0-9]+$",
     "Code does not match the required format ^S-[0-9]+$"),
    ("notes", "x", "length_min", "备注 至少 2 个字符", "Notes must be at least 2 characters long"),
    ("title", 42, "type", "标题 应为文本", "Title must be text"),
    ("title", "a\x00b", "type", "标题 不能包含 NUL 字符", "Title may not contain a NUL character"),
    ("rack", "x\ud800", "type", "架号 含有无效的字符", "Rack contains an invalid character"),
    ("count", 0, "min", "数量 不能小于 1", "Count must be at least 1"),
    ("count", "101", "max", "数量 不能大于 100", "Count must be at most 100"),
    ("count", 2.5, "type", "数量 应为整数", "Count must be a whole number"),
    ("count", True, "type", "数量 应为整数", "Count must be a whole number"),
    ("slot", 2 ** 31, "max", "槽位 不能大于 2147483647", "Slot must be at most 2147483647"),
    ("ratio", "1.2345", "scale", "比例 最多 3 位小数", "Ratio may have at most 3 decimal places"),
    ("ratio", "-10.001", "min", "比例 不能小于 -10", "Ratio must be at least -10"),
    ("ratio", "99.5", "max", "比例 不能大于 99", "Ratio must be at most 99"),
    ("ratio", "abc", "type", "比例 应为数字", "Ratio must be a number"),
    ("ratio", "NaN", "type", "比例 应为数字", "Ratio must be a number"),
    ("price", "12345678901234567.00", "precision", "价格 的整数部分最多 16 位",
     "Price may have at most 16 digits before the decimal point"),
    ("price", 0.125, "scale", "价格 最多 2 位小数", "Price may have at most 2 decimal places"),
    ("flag", "maybe", "type", "标志 应为是或否（true / false）", "Flag must be true or false"),
    ("day", "2026-13-01", "type", "日期 应为日期（YYYY-MM-DD）", "Day must be a date (YYYY-MM-DD)"),
    ("day", datetime(2026, 1, 1, 8), "type", "日期 应为日期（YYYY-MM-DD）",
     "Day must be a date (YYYY-MM-DD)"),
    ("moment", "0001-01-01T00:00:00+05:00", "type", "时间 应为日期时间", "Moment must be a date and time"),
    ("moment", "yesterday", "type", "时间 应为日期时间（ISO 8601）",
     "Moment must be a date and time (ISO 8601)"),
    ("uom", "litre", "enum", "单位 的值 litre 不是“计量单位”中的有效选项",
     "Unit: litre is not a valid option of Units of measure"),
    ("uom", "dozen", "enum", "单位 的值 dozen", "Unit: dozen is not a valid option"),   # inactive
    ("uom", "jin", "enum", "单位 的值 jin", "Unit: jin is not a valid option"),         # expired
    ("uom", "kit", "enum", "单位 的值 kit", "Unit: kit is not a valid option"),         # not yet valid
    ("item", 424242, "reference", "物资 引用的物资记录（id 424242）不存在",
     "Item: there is no Material item record with id 424242"),
    ("item", -3, "reference", "物资 引用的物资记录（id -3）不存在",
     "Item: there is no Material item record with id -3"),
    ("item", "WS-0001", "type", "物资 应为记录 id（正整数）",
     "Item must be a record id (a positive whole number)"),
    ("file", 777, "attachment", "附件 引用的附件（id 777）不存在", "File: there is no attachment with id 777"),
    ("owner", "u" * 65, "length_max", "负责人 最多 64 个字符", "Owner must be at most 64 characters long"),
])
def test_each_problem_is_located_and_bilingual(tables, service, field, value, code, zh, en):
    exc = _fail(service, tables, SAMPLE, _sample(**{field: value}))
    assert field_errors(exc)[field][0] == code and set(field_errors(exc)) == {field}
    entry = _entry(exc, field)
    assert entry["message"]["zh-CN"].startswith(zh)
    assert entry["message"]["en"].startswith(en)
    _assert_bilingual(exc)


def test_every_failing_constraint_of_a_value_is_reported(tables, service):
    exc = _fail(service, tables, SAMPLE, _sample(code="S-"))
    assert field_errors(exc) == {"code": ["length_min", "pattern"]}


def test_quantity_message_names_the_label_and_line(tables, service, items):
    data = requisition(items, lines=[{"item": items["WS-0001"], "quantity": "0"}])
    exc = _fail(service, tables, REQ, data)
    assert field_errors(exc) == {"lines.0.quantity": ["min"]}
    entry = _entry(exc, "lines.0.quantity")
    assert entry["params"] == {"min": "0.01"}
    assert entry["message"] == {"zh-CN": "领用明细第 1 行：数量 不能小于 0.01",
                                "en": "Lines, row 1: Quantity must be at least 0.01"}


def test_required_unknown_and_read_only(tables, service):
    exc = _fail(service, tables, REQ, {
        "department": "  ", "urgency": None, "colour": "red", "id": 5, "version": 2,
        "created_by": "me", "lines": [{"quantity": "1", "line_no": 1, "parent_id": 3, "id": 9}]})
    assert field_errors(exc) == {
        "department": ["required"], "urgency": ["required"],
        "colour": ["unknown_field"], "id": ["read_only"], "version": ["read_only"],
        "created_by": ["read_only"], "lines.0.item": ["required"],
        "lines.0.line_no": ["read_only"], "lines.0.parent_id": ["read_only"],
        "lines.0.id": ["read_only"],
    }
    assert _entry(exc, "colour")["message"] == {
        "zh-CN": "领用申请单 没有字段 colour", "en": "Material requisition has no field colour"}
    assert _entry(exc, "version")["message"] == {
        "zh-CN": "version 是系统字段，不能写入",
        "en": "version is a system column and cannot be written"}
    assert _entry(exc, "department")["message"] == {
        "zh-CN": "申请科室 为必填项", "en": "Requesting department is required"}
    _assert_bilingual(exc)


def test_missing_required_fields_on_create(tables, service):
    exc = _fail(service, tables, ITEM, {"spec": "x"})
    assert field_errors(exc) == {name: ["required"] for name in
                                 ("code", "name", "category", "uom", "unit_price")}


def test_update_rejects_null_for_required_and_reads_only(tables, service, items):
    with tables.begin() as conn:
        with pytest.raises(ValidationFailed) as info:
            service.update(conn, CTX, ITEM, items["WS-0001"],
                           {"name": None, "unit_price": "-1", "version": 3, "updated_at": "x"},
                           version=1)
    assert field_errors(info.value) == {"name": ["null"], "unit_price": ["min"],
                                        "version": ["read_only"], "updated_at": ["read_only"]}
    assert _entry(info.value, "name")["message"] == {"zh-CN": "物资名称 不能为空",
                                                     "en": "Item name may not be empty"}


def test_all_problems_are_reported_together(tables, service, items):
    data = {"department": "0301", "urgency": "soon", "attachment": 999, "total_amount": "1.999",
            "lines": [{"item": 31337, "quantity": "0.001"},
                      {"item": items["WS-0001"], "quantity": "1", "note": "n" * 201},
                      "not a line"]}
    exc = _fail(service, tables, REQ, data)
    assert field_errors(exc) == {
        "urgency": ["enum"], "attachment": ["attachment"], "total_amount": ["scale"],
        "lines.0.item": ["reference"], "lines.0.quantity": ["scale"],
        "lines.1.note": ["length_max"], "lines.2": ["type"],
    }
    assert _entry(exc, "lines.1.note")["message"]["zh-CN"] == "领用明细第 2 行：备注 最多 200 个字符"
    _assert_bilingual(exc)


def test_child_list_must_be_a_list(tables, service):
    exc = _fail(service, tables, REQ, {"department": "0301", "lines": "oops"})
    assert field_errors(exc) == {"lines": ["type"]}
    assert _entry(exc, "lines")["message"] == {"zh-CN": "领用明细 应为明细行列表",
                                               "en": "Lines must be a list of lines"}
    exc = _fail(service, tables, REQ, {"department": "0301", "lines": None})
    assert field_errors(exc) == {"lines": ["type"]}


def test_payload_must_be_an_object(tables, service):
    exc = _fail(service, tables, REQ, ["department", "0301"])
    assert field_errors(exc) == {"_record": ["type"]}


def test_decimal_and_money_inputs(tables, service):
    values = {"ratio": Decimal("1.5"), "price": 0.1}
    with tables.begin() as conn:
        record = service.create(conn, CTX, SAMPLE, _sample(**values))
        assert record["ratio"] == Decimal("1.500") and record["price"] == Decimal("0.10")
        record = service.create(conn, CTX, SAMPLE, {"code": "S-2", "ratio": 7, "price": " 12.3 "})
        assert record["ratio"] == Decimal("7.000") and record["price"] == Decimal("12.30")
        record = service.create(conn, CTX, SAMPLE, {"code": "S-3", "ratio": "-10",
                                                    "price": "9999999999999.99"})
        assert record["ratio"] == Decimal("-10.000")
        assert record["price"] == Decimal("9999999999999.99")   # SQLite keeps 15 digits
        # trailing zeros beyond the scale are not extra places
        record = service.create(conn, CTX, SAMPLE, {"code": "S-4", "price": "3.1000"})
        assert record["price"] == Decimal("3.10")


def test_dates_booleans_and_timestamps(tables, service):
    with tables.begin() as conn:
        record = service.create(conn, CTX, SAMPLE, _sample(
            day="2026-02-28", flag="true", count="7",
            moment="2026-11-25T17:30:00+08:00"))
        assert record["day"] == date(2026, 2, 28)
        assert record["flag"] is True and record["count"] == 7
        assert record["moment"] == datetime(2026, 11, 25, 9, 30)          # stored as UTC
        other = service.create(conn, CTX, SAMPLE, {
            "code": "S-2", "day": date(2026, 3, 1), "flag": False,
            "moment": datetime(2026, 1, 1, 12, tzinfo=timezone(timedelta(hours=-5)))})
        assert other["moment"] == datetime(2026, 1, 1, 17) and other["flag"] is False


def test_enum_validity_follows_the_context_date(tables, service):
    with tables.begin() as conn:
        record = service.create(conn, at(datetime(2027, 3, 1)), SAMPLE, _sample(uom="kit"))
        assert record["uom"] == "kit"
        service.create(conn, at(datetime(2019, 5, 1)), SAMPLE, {"code": "S-2", "uom": "jin"})


def test_unique_field_and_unique_index(tables, service, items):
    with tables.begin() as conn:
        service.create(conn, CTX, SAMPLE, {"code": "S-1", "rack": "A", "slot": 1})
    exc = _fail(service, tables, SAMPLE, {"code": "S-1", "rack": "A", "slot": 1})
    assert field_errors(exc) == {"code": ["unique"], "rack": ["unique"], "slot": ["unique"]}
    assert _entry(exc, "code")["message"] == {"zh-CN": "编号 的值 S-1 已存在",
                                              "en": "Code S-1 already exists"}
    assert _entry(exc, "rack")["params"] == {"value": "A", "fields": ["rack", "slot"]}
    exc = _fail(service, tables, ITEM, {"code": "WS-0001", "name": "重复", "category": "02",
                                        "uom": "box", "unit_price": "1"})
    assert field_errors(exc) == {"code": ["unique"]}
    with tables.begin() as conn:                   # NULLs never clash
        service.create(conn, CTX, SAMPLE, {"code": "S-2", "rack": "A"})
        service.create(conn, CTX, SAMPLE, {"code": "S-3", "rack": "A"})


def test_unique_on_update_excludes_the_record_itself(tables, service, items):
    with tables.begin() as conn:
        one = service.create(conn, CTX, SAMPLE, {"code": "S-1", "rack": "A", "slot": 1})
        two = service.create(conn, CTX, SAMPLE, {"code": "S-2", "rack": "A", "slot": 2})
        same = service.update(conn, CTX, SAMPLE, one["id"], {"code": "S-1", "slot": 1}, version=1)
        assert same["version"] == 2
        with pytest.raises(ValidationFailed) as info:
            service.update(conn, CTX, SAMPLE, two["id"], {"code": "S-1"}, version=1)
        assert field_errors(info.value) == {"code": ["unique"]}
        with pytest.raises(ValidationFailed) as info:     # composite: rack from the stored row
            service.update(conn, CTX, SAMPLE, two["id"], {"slot": 1}, version=1)
        assert field_errors(info.value) == {"slot": ["unique"]}
        assert service.get(conn, CTX, SAMPLE, two["id"])["version"] == 1


def test_unique_child_values(tables, service):
    with tables.begin() as conn:
        first = service.create(conn, CTX, SAMPLE, {"code": "S-1", "entries": [
            {"tag": "t1", "value": 1}, {"tag": "t2"}]})
    exc = _fail(service, tables, SAMPLE, {"code": "S-2", "entries": [
        {"tag": "t3"}, {"tag": "t3"}, {"tag": "t1"}]})
    assert field_errors(exc) == {"entries.1.tag": ["unique"], "entries.2.tag": ["unique"]}
    with tables.begin() as conn:   # a record may resend its own values in a new order
        updated = service.update(conn, CTX, SAMPLE, first["id"], {"entries": [
            {"id": first["entries"][1]["id"]}, {"tag": "t1", "value": 5}]}, version=1)
    assert [(e["tag"], e["value"]) for e in updated["entries"]] == [("t2", None), ("t1", 5)]


def test_numbering_field_is_validated_when_given(tables, service, items):
    with tables.begin() as conn:
        record = service.create(conn, CTX, REQ, requisition(items))
    exc = _fail(service, tables, REQ, requisition(items, number=record["number"]))
    assert field_errors(exc) == {"number": ["unique"]}
    exc = _fail(service, tables, REQ, requisition(items, number="N" * 33))
    assert field_errors(exc) == {"number": ["length_max"]}


def test_create_checks_references_with_foreign_keys_off(tables, service, items):
    with tables.schema_transaction() as conn:
        with pytest.raises(ValidationFailed) as info:
            service.create(conn, CTX, REQ, requisition(items, lines=[
                {"item": 55555, "quantity": "1"}]))
        assert conn.execute(text("SELECT count(*) FROM materials_requisition")).scalar() == 0
    assert field_errors(info.value) == {"lines.0.item": ["reference"]}


def test_version_argument_must_be_a_whole_number(tables, service, items):
    with tables.begin() as conn:
        with pytest.raises(ValidationFailed) as info:
            service.update(conn, CTX, ITEM, items["WS-0001"], {"name": "x"}, version="1")
    assert field_errors(info.value) == {"version": ["type"]}
