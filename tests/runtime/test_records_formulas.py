"""Formulas in the record service: computed fields, default formulas and rules,
on create and update, for records and child lines, through references."""

from __future__ import annotations

import shutil
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Numeric, String, event, inspect, text

from yunying.metadata.builder import package_from_documents
from yunying.platform.context import Context
from yunying.platform.errors import ConfigurationError, InvalidPackage, ValidationFailed
from yunying.runtime.installer import bundled_package_paths, install_packages
from yunying.runtime.records import ListQuery, RecordService
from yunying.runtime.records import formulas as record_formulas
from yunying.runtime.registry import Registry

NOW = datetime(2026, 11, 25, 9, 30)
CTX = Context(actor="tester", clock=lambda: NOW)
ORDER, PRODUCT, SUPPLIER, CALC = "shop.order", "shop.product", "shop.supplier", "shop.calc"
MODULES = Path(__file__).resolve().parents[2] / "yunying" / "modules"


def _name(zh: str, en: str) -> dict:
    return {"zh": zh, "en": en}


def _field(code: str, type_: str, **keys) -> dict:
    return {"code": code, "type": type_, "name": _name(code, code.title()), **keys}


SHOP = {
    "package": {"code": "shop", "version": "1.0.0", "name": _name("商店", "Shop")},
    "dictionary": {"priority": {"code": "priority", "name": _name("优先级", "Priority"),
                                "items": [{"code": "low", "name": _name("低", "Low")},
                                          {"code": "high", "name": _name("高", "High")}]}},
    "entity": {
        "supplier": {"code": "supplier", "name": _name("供应商", "Supplier"), "fields": [
            _field("code", "string", length=10, unique=True),
            _field("discount", "decimal", precision=5, scale=2)]},
        "product": {"code": "product", "name": _name("产品", "Product"), "fields": [
            _field("code", "string", length=10, unique=True),
            _field("price", "money", scale=4),
            _field("active", "boolean", default=True),
            _field("supplier", "reference", entity="supplier"),
            _field("priority", "string", length=10)]},
        "order": {
            "code": "order", "name": _name("订单", "Order"), "fields": [
                _field("customer", "string", length=20),
                _field("order_date", "date", required=True, default="today"),
                _field("due_date", "computed", formula="DATEADD(order_date, 30, 'day')",
                       result="date"),
                _field("priority", "enum", dictionary="priority", required=True,
                       default_formula="IF(urgent, 'high', 'low')"),
                _field("urgent", "boolean"),
                _field("discount_pct", "integer"),
                _field("label", "computed", formula="customer & '/' & order_date",
                       result="string", length=20)],
            "rules": [
                {"code": "not_in_future", "formula": "order_date <= TODAY()",
                 "field": "order_date", "message": _name("日期不能晚于今天", "No future dates")},
                {"code": "small_discount", "formula": "discount_pct <= 50",
                 "field": "discount_pct", "message": _name("折扣过大", "Discount too big")},
                {"code": "urgent_customer", "formula": "NOT urgent OR NOT ISNULL(customer)",
                 "message": _name("紧急订单须有客户", "An urgent order needs a customer")}],
            "children": [{
                "code": "lines", "name": _name("明细", "Lines"), "fields": [
                    _field("product", "reference", entity="product", required=True),
                    _field("quantity", "decimal", precision=12, scale=3, required=True),
                    # declared before what it depends on: computed in dependency order
                    _field("net", "computed", formula="amount * (1 - COALESCE("
                           "product.supplier.discount, 0) / 100)", result="money"),
                    _field("unit_price", "money", scale=4, default_formula="product.price"),
                    _field("amount", "computed", formula="quantity * unit_price",
                           result="money"),
                    _field("count", "computed", formula="quantity * 2.5", result="integer"),
                    _field("tag", "computed", formula="product.code & '#' & quantity",
                           result="string", length=12)],
                "rules": [
                    {"code": "active", "formula": "product.active", "field": "product",
                     "message": _name("产品已停用", "The product is inactive")},
                    {"code": "not_too_many", "formula": "quantity <= 1000",
                     "message": _name("数量过大", "Too many")}]}]},
        "calc": {"code": "calc", "name": _name("计算", "Calc"), "fields": [
            _field("x", "decimal", precision=20, scale=2),
            _field("big", "computed", formula="x ^ 40", result="decimal", precision=38,
                   scale=2),
            _field("name", "string", length=20, required=True,
                   default_formula="IF(x > 0, 'positive', NULL)")]},
    },
}


@pytest.fixture
def registry() -> Registry:
    return Registry.from_packages([package_from_documents(SHOP)])


@pytest.fixture
def service(registry) -> RecordService:
    return RecordService(registry)


@pytest.fixture
def shop(db, registry):
    """The shop tables, two suppliers and three products; returns ids by code."""
    with db.begin() as conn:
        registry.model.metadata.create_all(conn)
    svc = RecordService(registry)
    ids = {}
    with db.begin(write=True) as conn:
        for code, discount in (("S1", "10"), ("S2", None)):
            ids[code] = svc.create(conn, CTX, SUPPLIER, {"code": code, "discount": discount})["id"]
        for code, price, supplier, active in (("P1", "0.3350", "S1", True),
                                              ("P2", "12.5000", "S2", True),
                                              ("P3", "7.0000", None, False)):
            ids[code] = svc.create(conn, CTX, PRODUCT, {
                "code": code, "price": price, "active": active,
                "supplier": ids.get(supplier)})["id"]
    return db, ids


def _errors(exc) -> dict[str, list[str]]:
    return {path: [e["code"] for e in errors] for path, errors in exc.details["fields"].items()}


def _create(db, service, data, ctx=CTX):
    with db.begin(write=True) as conn:
        return service.create(conn, ctx, ORDER, data)


def _refused(db, service, data, *, entity=ORDER, ctx=CTX) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as caught:
        with db.begin(write=True) as conn:
            service.create(conn, ctx, entity, data)
    return caught.value


def test_computed_columns_have_their_result_types(registry):
    order = registry.tables(ORDER)
    assert isinstance(order.table.c.label.type, String) and order.table.c.label.type.length == 20
    amount = order.children["lines"].c.amount.type
    assert isinstance(amount, Numeric) and (amount.precision, amount.scale) == (18, 2)
    assert order.table.c.due_date.nullable


def test_create_computes_defaults_and_computed_fields_rounded_half_up(shop, service):
    db, ids = shop
    record = _create(db, service, {"customer": "ACME", "lines": [
        {"product": ids["P1"], "quantity": "3"},                        # 3 × 0.335 = 1.005
        {"product": ids["P2"], "quantity": "0.5", "unit_price": "2"},
        {"product": ids["P1"], "quantity": "1", "unit_price": None}]})
    assert record["due_date"] == date(2026, 12, 25)                  # order_date defaults today
    assert record["priority"] == "low"                               # default formula
    assert record["label"] == "ACME/2026-11-25"
    first, second, third = record["lines"]
    assert first["unit_price"] == Decimal("0.3350")                  # product.price
    assert first["amount"] == Decimal("1.01")                        # half-up, not 1.00
    assert first["net"] == Decimal("0.91")                           # stored 1.01 × 0.9
    assert first["count"] == 8                                       # 7.5 → 8
    assert first["tag"] == "P1#3"                                    # 3.000 written plainly
    assert (second["count"], third["count"]) == (1, 3)               # 1.25 → 1, 2.5 → 3
    assert (second["unit_price"], second["amount"]) == (Decimal("2.0000"), Decimal("1.00"))
    assert second["net"] == Decimal("1.00")                          # no supplier discount
    assert (third["unit_price"], third["amount"], third["net"]) == (None, None, None)
    with db.connect() as conn:
        assert service.get(conn, CTX, ORDER, record["id"]) == record


def test_a_value_sent_for_a_computed_field_is_read_only(shop, service):
    db, ids = shop
    error = _refused(db, service, {"due_date": "2026-01-01", "lines": [
        {"product": ids["P2"], "quantity": "1", "amount": "5"}]})
    assert _errors(error) == {"due_date": ["read_only"], "lines.0.amount": ["read_only"]}
    assert error.details["fields"]["lines.0.amount"][0]["message"]["en"] == (
        "Lines, row 1: Amount is computed by a formula and cannot be written")
    with db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM shop_order")).scalar() == 0


def test_failing_rules_are_422_on_their_field_the_record_or_the_line(shop, service):
    db, ids = shop
    error = _refused(db, service, {"order_date": "2026-11-26", "discount_pct": 60,
                                   "urgent": True, "lines": [
                                       {"product": ids["P3"], "quantity": "2000"}]})
    assert _errors(error) == {"order_date": ["rule"], "discount_pct": ["rule"],
                              "_record": ["rule"], "lines.0.product": ["rule"],
                              "lines.0": ["rule"]}
    fields = error.details["fields"]
    assert fields["order_date"][0] == {
        "code": "rule", "message": {"zh-CN": "日期不能晚于今天", "en": "No future dates"},
        "params": {"rule": "not_in_future"}}
    assert fields["lines.0"][0]["message"]["en"] == "Lines, row 1: Too many"
    assert fields["lines.0.product"][0]["params"] == {"rule": "active"}
    with db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM shop_order")).scalar() == 0


def test_a_rule_passes_unless_false_null_passes(shop, service):
    db, ids = shop
    record = _create(db, service, {"discount_pct": None, "urgent": None,
                                   "lines": [{"product": ids["P2"], "quantity": "1"}]})
    assert record["discount_pct"] is None and record["urgent"] is None


def test_today_comes_from_the_request_clock(shop, service):
    db, ids = shop
    later = Context(actor="tester", clock=lambda: datetime(2026, 11, 27, 8, 0))
    record = _create(db, service, {"order_date": "2026-11-26"}, ctx=later)
    assert record["order_date"] == date(2026, 11, 26)
    assert _errors(_refused(db, service, {"order_date": "2026-11-26"})) == {
        "order_date": ["rule"]}


def test_a_rule_reading_an_invalid_value_is_skipped(shop, service):
    db, ids = shop
    error = _refused(db, service, {"discount_pct": "many", "lines": [
        {"product": ids["P2"], "quantity": "lots"}]})
    assert _errors(error) == {"discount_pct": ["type"], "lines.0.quantity": ["type"]}


def test_update_recomputes_from_the_stored_row_and_the_changes(shop, service):
    db, ids = shop
    created = _create(db, service, {"customer": "ACME", "lines": [
        {"product": ids["P2"], "quantity": "2"}, {"product": ids["P1"], "quantity": "1"}]})
    first = created["lines"][0]
    with db.begin(write=True) as conn:
        updated = service.update(conn, CTX, ORDER, created["id"], {
            "customer": "BETA", "order_date": "2026-11-01", "urgent": True,
            "lines": [{"id": first["id"], "quantity": "4"},
                      {"product": ids["P1"], "quantity": "2"}]}, version=1)
    assert updated["due_date"] == date(2026, 12, 1)
    assert updated["label"] == "BETA/2026-11-01"
    assert updated["priority"] == "low"              # default formulas only on create
    kept, new = updated["lines"]
    assert kept["id"] == first["id"] and kept["unit_price"] == Decimal("12.5000")
    assert kept["amount"] == Decimal("50.00")        # stored unit price × new quantity
    assert new["unit_price"] == Decimal("0.3350") and new["amount"] == Decimal("0.67")


def test_an_update_failing_a_rule_changes_nothing(shop, service):
    db, ids = shop
    created = _create(db, service, {"lines": [{"product": ids["P2"], "quantity": "1"}]})
    line = created["lines"][0]
    with pytest.raises(ValidationFailed) as caught:
        with db.begin(write=True) as conn:
            service.update(conn, CTX, ORDER, created["id"], {
                "order_date": "2027-01-01",
                "lines": [{"id": line["id"], "quantity": "5000"}]}, version=1)
    assert _errors(caught.value) == {"order_date": ["rule"], "lines.0": ["rule"]}
    with db.connect() as conn:
        assert service.get(conn, CTX, ORDER, created["id"]) == created


def test_an_update_with_a_value_for_a_computed_field_is_refused(shop, service):
    db, ids = shop
    created = _create(db, service, {})
    with pytest.raises(ValidationFailed) as caught:
        with db.begin(write=True) as conn:
            service.update(conn, CTX, ORDER, created["id"], {"label": "x"}, version=1)
    assert _errors(caught.value) == {"label": ["read_only"]}


def test_referenced_values_are_read_once_per_entity_not_per_line(shop, service):
    db, ids = shop
    seen: list[str] = []

    def record(conn, cursor, statement, *args):
        if "FROM shop_product" in statement:
            seen.append(statement)
    event.listen(db.engine, "before_cursor_execute", record)
    try:
        counts = []
        for lines in (1, 25):
            seen.clear()
            _create(db, service, {"lines": [
                {"product": ids["P1" if n % 2 else "P2"], "quantity": "1"}
                for n in range(lines)]})
            counts.append(len(seen))
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    # the formulas' read (price, code, active, supplier) and the existence check
    assert counts == [2, 2]


def test_computed_values_that_do_not_fit_their_column_are_refused(shop, service):
    db, ids = shop
    error = _refused(db, service, {"customer": "a very long customer"})
    assert _errors(error) == {"label": ["length_max"]}
    error = _refused(db, service, {"x": "10"}, entity=CALC)           # 10^40: 41 digits
    assert _errors(error) == {"big": ["precision"]}
    error = _refused(db, service, {"x": "1000"}, entity=CALC)         # 10^120: out of range
    assert _errors(error) == {"big": ["formula"]}
    assert "number out of range" in error.details["fields"]["big"][0]["message"]["en"]


def test_default_formula_values_are_validated_like_given_values(shop, service):
    db, ids = shop
    assert _errors(_refused(db, service, {"x": "-1"}, entity=CALC)) == {"name": ["required"]}
    with db.begin(write=True) as conn:
        record = service.create(conn, CTX, CALC, {"x": "2"})
        named = service.create(conn, CTX, CALC, {"x": "-1", "name": "given"})
    assert record["name"] == "positive" and record["big"] == Decimal(2) ** 40
    assert named["name"] == "given"


def test_list_queries_filter_and_sort_by_computed_fields(shop, service):
    db, ids = shop
    for day in ("2026-11-01", "2026-10-01", "2026-11-20"):
        _create(db, service, {"order_date": day})
    spec = service.spec(ORDER)
    with db.connect() as conn:
        page = service.list(conn, CTX, ORDER, ListQuery.from_args(
            spec, {"filter": ["due_date:ge:2026-12-01"], "sort": ["-due_date"]}))
    assert [r["due_date"] for r in page.items] == [date(2026, 12, 20), date(2026, 12, 1)]


def test_formulas_are_checked_once_per_registry_not_per_write(shop, registry, monkeypatch):
    db, ids = shop
    built = RecordService(registry)

    def refuse(*args, **kwargs):
        raise AssertionError("formulas must not be re-checked on a write")
    monkeypatch.setattr(record_formulas, "check", refuse)
    with db.begin(write=True) as conn:
        record = built.create(conn, CTX, ORDER, {"lines": [
            {"product": ids["P2"], "quantity": "2"}]})
    assert record["lines"][0]["amount"] == Decimal("25.00")


def test_installed_formulas_that_do_not_check_refuse_writes(db):
    broken = {**SHOP, "entity": {"calc": {**SHOP["entity"]["calc"], "fields": [
        _field("x", "decimal", precision=20, scale=2),
        _field("y", "computed", formula="x +", result="decimal", precision=20, scale=2)]}}}
    registry = Registry.from_packages([package_from_documents(broken)])
    with db.begin() as conn:
        registry.model.metadata.create_all(conn)
    service = RecordService(registry)
    with pytest.raises(ConfigurationError) as caught:
        with db.begin(write=True) as conn:
            service.create(conn, CTX, CALC, {"x": "1"})
    assert caught.value.code == "formula_configuration"
    with db.connect() as conn:                              # reading still works
        assert service.list(conn, CTX, CALC, ListQuery(entity=CALC)).total == 0


# -- the bundled materials package ---------------------------------------------

def test_requisition_lines_compute_their_amount_and_default_their_price(db):
    install_packages(db, bundled_package_paths(), CTX)
    with db.connect() as conn:
        runtime_items = dict(conn.execute(text("SELECT code, id FROM materials_item")).all())
    service = _materials_service(db)
    with db.begin(write=True) as conn:
        record = service.create(conn, CTX, "materials.requisition", {
            "department": "0301", "lines": [
                {"item": runtime_items["WS-0001"], "quantity": "3"},
                {"item": runtime_items["WS-0004"], "quantity": "3", "unit_price": "1.005"}]})
    first, second = record["lines"]
    assert (first["unit_price"], first["amount"]) == (Decimal("32.5000"), Decimal("97.50"))
    assert second["amount"] == Decimal("3.02")                # 3.015 half-up
    with pytest.raises(ValidationFailed) as caught:
        with db.begin(write=True) as conn:
            service.create(conn, CTX, "materials.requisition", {
                "department": "0301", "request_date": "2026-12-01",
                "lines": [{"item": runtime_items["WS-0001"], "quantity": "1",
                           "amount": "1"}]})
    assert _errors(caught.value) == {"request_date": ["rule"], "lines.0.amount": ["read_only"]}


def _materials_service(db) -> RecordService:
    from yunying.metadata.store import MetadataStore
    with db.connect() as conn:
        return RecordService(Registry.from_packages(MetadataStore().installed(conn)))


def _materials_1_0(tmp_path) -> Path:
    """The materials package as version 1.0.0 shipped it: amount a plain money field."""
    old = shutil.copytree(MODULES / "materials", tmp_path / "materials")
    manifest = old / "package.yaml"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace(
        "version: 1.4.0", "version: 1.0.0"), encoding="utf-8")
    entity = old / "entities" / "requisition.yaml"
    source = entity.read_text(encoding="utf-8")
    source = source[:source.index("list:\n")] + source[source.index("indexes:\n"):]
    start = source.index("rules:\n  - code: not_in_future")
    source = source[:start] + source[source.index("children:"):]
    source = source.replace("        default_formula: item.unit_price\n", "")
    source = source.replace(
        "        type: computed\n        formula: quantity * unit_price\n        result: money\n",
        "        type: money\n        min: 0\n")
    entity.write_text(source[:source.index("    rules:\n      - code: item_active")],
                      encoding="utf-8")
    demo = old / "demo" / "requisition.yaml"
    demo.write_text(demo.read_text(encoding="utf-8").replace(
        '{item: WS-0001, quantity: "20", unit_price: "32.5000"}',
        '{item: WS-0001, quantity: "20", unit_price: "32.5000", amount: "650.00"}'),
        encoding="utf-8")
    return old


def test_an_install_of_materials_1_0_upgrades_cleanly_to_1_1(db, tmp_path):
    old = _materials_1_0(tmp_path)
    install_packages(db, [MODULES / "base", MODULES / "finance", old], CTX, with_demo=True)
    with db.connect() as conn:
        before = conn.execute(text(
            "SELECT id, amount FROM materials_requisition__lines ORDER BY id")).all()
    assert before[0][1] == Decimal("650.00")
    report = install_packages(db, [MODULES / "base", MODULES / "finance", MODULES / "materials"],
                              CTX)
    assert report.actions == {"base": "reinstall", "finance": "reinstall", "materials": "upgrade"}
    assert report.plan.kinds() == []                      # the amount column stays as it is
    with db.connect() as conn:
        after = conn.execute(text(
            "SELECT id, amount FROM materials_requisition__lines ORDER BY id")).all()
    assert after == before
    service = _materials_service(db)
    with db.begin(write=True) as conn:
        record = service.get(conn, CTX, "materials.requisition", 1)
        line = record["lines"][0]
        updated = service.update(conn, CTX, "materials.requisition", 1, {
            "lines": [{"id": line["id"], "quantity": "2"}]}, version=record["version"])
    assert updated["lines"][0]["amount"] == Decimal("65.00")


def test_a_package_with_a_formula_error_is_not_installed(db, tmp_path):
    broken = shutil.copytree(MODULES / "materials", tmp_path / "materials")
    entity = broken / "entities" / "requisition.yaml"
    entity.write_text(entity.read_text(encoding="utf-8").replace(
        "formula: quantity * unit_price", "formula: quantity * unit_prise"), encoding="utf-8")
    with pytest.raises(InvalidPackage) as caught:
        install_packages(db, [MODULES / "base", MODULES / "finance", broken], CTX)
    assert [(i.code, i.file, i.path) for i in caught.value.issues] == [
        ("formula_unknown_name", "entities/requisition.yaml",
         "$.children[0].fields[3].formula")]
    assert "materials_item" not in inspect(db.engine).get_table_names()
