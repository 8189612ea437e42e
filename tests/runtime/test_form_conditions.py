"""Form conditions enforced by the record service (visible_when,
required_when, readonly_when) and the write preview the live form shows."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from yunying.metadata.builder import package_from_documents
from yunying.platform.context import Context
from yunying.platform.errors import ValidationFailed
from yunying.runtime.records import RecordService
from yunying.runtime.registry import Registry

NOW = datetime(2026, 11, 25, 9, 30)
CTX = Context(actor="tester", clock=lambda: NOW)
CLAIM = "desk.claim"


def _name(zh: str, en: str) -> dict:
    return {"zh": zh, "en": en}


def _field(code: str, type_: str, **keys) -> dict:
    return {"code": code, "type": type_, "name": _name(code, code.title()), **keys}


DESK = {
    "package": {"code": "desk", "version": "1.0.0", "name": _name("报销", "Desk")},
    "entity": {"claim": {
        "code": "claim", "name": _name("报销单", "Claim"),
        "fields": [
            _field("kind", "string", length=10, required=True),
            _field("amount", "money"),
            _field("reason", "text"),
            _field("approved_by", "string", length=20),
            _field("locked", "boolean", default=False)],
        "form": {"sections": [{"code": "main", "name": _name("主", "Main"), "fields": [
            "kind", "amount", "locked",
            {"field": "reason", "visible_when": "amount > 1000",
             "required_when": "amount > 1000"},
            {"field": "approved_by", "readonly_when": "locked"}]}]},
        "children": [{"code": "lines", "name": _name("明细", "Lines"), "fields": [
            _field("qty", "decimal", precision=12, scale=2, required=True),
            _field("price", "money"),
            _field("total", "computed", formula="qty * price", result="money")]}]}},
}


@pytest.fixture
def desk(db):
    registry = Registry.from_packages([package_from_documents(DESK)])
    with db.begin() as conn:
        registry.model.metadata.create_all(conn)
    return db, RecordService(registry)


def _codes(exc: ValidationFailed) -> dict[str, list[str]]:
    return {path: [e["code"] for e in errs] for path, errs in exc.details["fields"].items()}


def _create(db, service, data):
    with db.begin(write=True) as conn:
        return service.create(conn, CTX, CLAIM, data)


def test_required_when_holds_only_when_true(desk):
    db, service = desk
    with pytest.raises(ValidationFailed) as caught:
        _create(db, service, {"kind": "trip", "amount": "1500"})
    assert _codes(caught.value) == {"reason": ["required"]}
    # below the threshold the field is neither visible nor required
    assert _create(db, service, {"kind": "trip", "amount": "200"})["reason"] is None
    # NULL amount: the condition is NULL, which does not hold
    assert _create(db, service, {"kind": "trip"})["amount"] is None
    saved = _create(db, service, {"kind": "trip", "amount": "1500", "reason": "conference"})
    assert saved["reason"] == "conference"


def test_required_when_on_update_sees_stored_values(desk):
    db, service = desk
    record = _create(db, service, {"kind": "trip", "amount": "10"})
    with pytest.raises(ValidationFailed) as caught:
        with db.begin(write=True) as conn:
            service.update(conn, CTX, CLAIM, record["id"], {"amount": "5000"},
                           version=record["version"])
    assert _codes(caught.value) == {"reason": ["required"]}
    with db.begin() as conn:  # nothing was written
        assert service.get(conn, CTX, CLAIM, record["id"])["amount"] == Decimal("10.00")


def test_readonly_when_refuses_a_changed_value_only(desk):
    db, service = desk
    with pytest.raises(ValidationFailed) as caught:
        _create(db, service, {"kind": "a", "locked": True, "approved_by": "x"})
    assert _codes(caught.value) == {"approved_by": ["read_only_now"]}
    record = _create(db, service, {"kind": "a", "approved_by": "wang"})
    with db.begin(write=True) as conn:
        record = service.update(conn, CTX, CLAIM, record["id"], {"locked": True},
                                version=record["version"])
    with pytest.raises(ValidationFailed) as caught:
        with db.begin(write=True) as conn:
            service.update(conn, CTX, CLAIM, record["id"], {"approved_by": "li"},
                           version=record["version"])
    message = caught.value.details["fields"]["approved_by"][0]["message"]
    assert "只读" in message["zh-CN"] and "read-only" in message["en"]
    with db.begin(write=True) as conn:  # the same value again is no change
        service.update(conn, CTX, CLAIM, record["id"], {"approved_by": "wang"},
                       version=record["version"])


def test_preview_reports_values_conditions_and_errors_without_writing(desk):
    db, service = desk
    with db.begin(write=True) as conn:
        shown = service.preview(conn, CTX, CLAIM, {
            "kind": "trip", "amount": "2000",
            "lines": [{"qty": "1.5", "price": "3.33"}, {"qty": "x"}]})
    assert shown["values"]["amount"] == Decimal("2000.00")
    assert shown["conditions"] == {
        "reason": {"visible": True, "required": True, "readonly": False},
        "approved_by": {"visible": True, "required": False, "readonly": False}}
    assert shown["lines"]["lines"][0]["total"] == Decimal("5.00")  # 4.995 rounded half-up
    assert set(shown["errors"]) == {"reason", "lines.1.qty"}
    with db.begin() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM desk_claim").scalar() == 0


def test_preview_of_an_update_uses_the_stored_row(desk):
    db, service = desk
    record = _create(db, service, {"kind": "a", "locked": True})
    with db.begin() as conn:
        shown = service.preview(conn, CTX, CLAIM, {"amount": "5"}, record_id=record["id"])
    assert shown["conditions"]["approved_by"]["readonly"] is True
    assert shown["conditions"]["reason"]["visible"] is False
    assert shown["errors"] == {}
