"""How values read on staff-UI pages: money, decimals, dates, datetimes,
booleans, and codes and ids as names looked up in bulk (one query per kind,
never per cell)."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from sqlalchemy import event

from yunying.app import services
from yunying.metadata.spec import FieldSpec
from yunying.platform import identity, org
from yunying.platform.context import Context
from yunying.platform.errors import ConfigurationError
from yunying.platform.i18n import Text
from yunying.runtime.ui.display import (
    Labels, display_zone, format_decimal, format_value, to_local, to_utc,
)
from web_helpers import INSTALLER, ITEM, REQUISITION

SHANGHAI = "Asia/Shanghai"


@pytest.fixture
def app(bundled_app):
    """The bundled packages in a database of this test's own (a copy)."""
    return bundled_app


def _field(kind: str, **extra) -> FieldSpec:
    return FieldSpec(code="f", type=kind, label=Text("字段", "Field"), **extra)


def _show(kind: str, value, lang: str = "zh-CN", labels: Labels | None = None, **extra) -> str:
    return format_value(_field(kind, **extra), value, lang=lang,
                        labels=labels or Labels.empty(None, lang))


@pytest.mark.parametrize("value, scale, shown", [
    (Decimal("12345.6"), None, "12,345.60"),
    (Decimal("1234567.891"), None, "1,234,567.89"),
    (Decimal("0.125"), None, "0.13"),         # half-up, not banker's rounding
    (Decimal("0.135"), None, "0.14"),
    (Decimal("-1234.005"), None, "-1,234.01"),
    (Decimal("999.995"), None, "1,000.00"),
    (Decimal("32.5"), 4, "32.5000"),
    (Decimal("1234.56785"), 4, "1,234.5679"),
    (5, None, "5.00"),
    ("12345.6", None, "12,345.60"),
    (Decimal("0"), 0, "0"),
])
def test_money_has_thousands_separators_at_the_fields_scale(value, scale, shown):
    assert _show("money", value, scale=scale) == shown


def test_decimals_and_integers_are_not_grouped():
    assert _show("decimal", Decimal("12345.5")) == "12345.50"
    assert _show("decimal", Decimal("2.345"), scale=2) == "2.35"
    assert _show("decimal", Decimal("1.5"), scale=3) == "1.500"
    assert _show("integer", 2024) == "2024"
    assert _show("integer", -7) == "-7"


def test_format_decimal():
    assert format_decimal(Decimal("1234.5"), 2, grouped=True) == "1,234.50"
    assert format_decimal(Decimal("1234.5"), None, grouped=False) == "1234.5"
    assert format_decimal("not a number", 2, grouped=True) == "not a number"
    assert format_decimal(Decimal("NaN"), 2, grouped=True) == "NaN"


def test_computed_values_read_like_their_result_type():
    assert _show("computed", Decimal("98765.4"), result="money") == "98,765.40"
    assert _show("computed", date(2024, 3, 5), result="date") == "2024-03-05"
    assert _show("computed", "text", result="string") == "text"


def test_none_is_empty_and_text_is_itself():
    assert _show("money", None) == "" and _show("string", None) == ""
    assert _show("string", "注射器 <5ml>") == "注射器 <5ml>"  # escaping is the template's job
    assert _show("text", "line 1\nline 2") == "line 1\nline 2"


def test_booleans_in_both_languages():
    assert (_show("boolean", True), _show("boolean", False)) == ("是", "否")
    assert (_show("boolean", True, "en"), _show("boolean", False, "en")) == ("Yes", "No")


def test_dates_and_datetimes():
    assert _show("date", date(2024, 3, 5)) == "2024-03-05"
    moment = datetime(2024, 3, 5, 17, 2, 59)  # stored naive UTC
    assert _show("datetime", moment) == "2024-03-05 17:02"
    assert _show("datetime", "2024-03-05T17:02:59") == "2024-03-05 17:02"
    local = Labels.empty(None, "zh-CN", zone=_zone(SHANGHAI))
    assert _show("datetime", moment, labels=local) == "2024-03-06 01:02"


def _zone(name: str):
    from zoneinfo import ZoneInfo
    return ZoneInfo(name)


def test_local_and_utc_conversions_are_inverse():
    zone = _zone(SHANGHAI)
    stored = datetime(2024, 12, 31, 20, 30)
    assert to_local(stored, zone) == datetime(2025, 1, 1, 4, 30)
    assert to_utc(datetime(2025, 1, 1, 4, 30), zone) == stored
    assert to_utc(stored, timezone.utc) == stored


def test_the_display_zone_comes_from_the_configuration(app):
    with app.test_request_context("/"):
        assert display_zone() == timezone.utc
        app.config["TIME_ZONE"] = SHANGHAI
        assert display_zone() == _zone(SHANGHAI)
        app.config["TIME_ZONE"] = "Mars/Olympus"
        with pytest.raises(ConfigurationError) as raised:
            display_zone()
        assert "TIME_ZONE" in raised.value.message.zh and "Mars/Olympus" in raised.value.message.en


# ---------------------------------------------------------------- labels

@pytest.fixture
def rows(app, item_ids):
    """Two stored requisitions (with lines) naming a unit, users and items."""
    svc = services(app)
    with svc.db.begin(write=True) as conn:
        org.add_unit(conn, org.OrgUnit("CARD", "心内科", "Cardiology", "department",
                                       date(2020, 1, 1)))
        identity.create_user(conn, INSTALLER, "li.na", Text("李娜", "Li Na"), None)
        records = svc.runtime(conn).records
        ctx = Context(actor="li.na")
        made = []
        for urgency, items in (("urgent", ["WS-0001", "WS-0005"]), ("normal", ["BG-0001"])):
            extra = {"urgent_reason": "库存告急"} if urgency == "urgent" else {}
            created = records.create(conn, ctx, REQUISITION, {
                "department": "CARD", "requester": "li.na", "urgency": urgency, **extra,
                "lines": [{"item": item_ids[code], "quantity": "2"} for code in items]})
            made.append(records.get(conn, ctx, REQUISITION, created["id"]))
    return made


def _count_queries(app):
    seen: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)
    return seen, count


def test_labels_are_looked_up_in_bulk_one_query_per_kind(app, rows):
    svc = services(app)
    seen, count = _count_queries(app)
    with svc.db.begin() as conn:
        registry = svc.runtime(conn).registry
        event.listen(svc.db.engine, "before_cursor_execute", count)
        try:
            labels = Labels.for_rows(conn, registry, registry.entity(REQUISITION), rows,
                                     "zh-CN")
        finally:
            event.remove(svc.db.engine, "before_cursor_execute", count)
    assert len(seen) == 3, seen  # users, org units, the item table
    spec = registry.entity(REQUISITION)
    line = spec.child("lines")
    first = rows[0]
    shown = {f: format_value(spec.field(f), first[f], lang="zh-CN", labels=labels)
             for f in ("department", "requester", "urgency", "request_date")}
    assert shown["department"] == "心内科" and shown["requester"] == "李娜"
    assert shown["urgency"] == "紧急"
    assert shown["request_date"] == first["request_date"].isoformat()
    items = [format_value(line.field("item"), ln["item"], lang="zh-CN", labels=labels)
             for ln in first["lines"]]
    assert items == ["一次性使用无菌注射器", "冠脉支架"]
    money = [(format_value(line.field("unit_price"), ln["unit_price"], lang="zh-CN",
                           labels=labels),
              format_value(line.field("amount"), ln["amount"], lang="zh-CN", labels=labels))
             for ln in first["lines"]]
    assert money == [("32.5000", "65.00"), ("590.0000", "1,180.00")]
    assert labels.user(first["created_by"]) == "李娜"
    english = {f: format_value(spec.field(f), first[f], lang="en", labels=labels)
               for f in ("department", "requester", "urgency")}
    assert english == {"department": "Cardiology", "requester": "Li Na", "urgency": "Urgent"}


def test_unknown_codes_and_ids_show_as_given(app, rows):
    svc = services(app)
    with svc.db.begin() as conn:
        registry = svc.runtime(conn).registry
        labels = Labels.load(conn, registry, "zh-CN", users=["ghost"], units=["NOWHERE"],
                             references={ITEM: [999999]}, attachments=[424242])
    assert labels.user("ghost") == "ghost" and labels.unit("NOWHERE") == "NOWHERE"
    assert labels.reference(ITEM, 999999) == "#999999"
    assert labels.attachment(424242) == "#424242"
    assert labels.enum("materials.requisition_urgency", "weird") == "weird"
    assert labels.enum("no.such_dictionary", "x") == "x"


def test_labels_without_lookups_show_codes(app):
    registry = services(app).runtime().registry
    labels = Labels.empty(registry, "en")
    urgency = registry.entity(REQUISITION).field("urgency")
    assert format_value(urgency, "normal", lang="en", labels=labels) == "Normal"
    department = registry.entity(REQUISITION).field("department")
    assert format_value(department, "CARD", lang="en", labels=labels) == "CARD"


def test_no_rows_need_no_query(app):
    svc = services(app)
    seen, count = _count_queries(app)
    with svc.db.begin() as conn:
        registry = svc.runtime(conn).registry
        event.listen(svc.db.engine, "before_cursor_execute", count)
        try:
            Labels.for_rows(conn, registry, registry.entity(REQUISITION), [], "zh-CN")
        finally:
            event.remove(svc.db.engine, "before_cursor_execute", count)
    assert seen == []
