"""The live form's state (``POST /records/<entity>/form-state``, runtime/ui/forms.py).

The browser posts the form's fields as they are; the answer is what the
record service would derive and enforce — computed amounts, line totals and
the visible / required / read-only state of conditional fields — in the
page's language, and nothing is written. Errors are JSON, never a page.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text

from yunying.app import services
from ui_form_helpers import (
    GADGET, REQUISITION, Browser, Page, count, item_ids, admin_browser, form_app,
)
from web_helpers import AuthActions, token_client

STATE = f"/records/{REQUISITION}/form-state"


#: one app for the module: every test makes its own records
app = pytest.fixture(form_app, scope="module", name="app")
admin = pytest.fixture(admin_browser, scope="module", name="admin")


def _lines(app, *quantities: str) -> list[tuple[str, str]]:
    ids = item_ids(app)
    pairs = [("lines", "")]
    for i, quantity in enumerate(quantities):
        pairs += [(f"lines-{i}-item", str(ids["WS-0001"])), (f"lines-{i}-quantity", quantity)]
    return pairs


def test_computed_amounts_and_totals_from_quantity_and_unit_price(app, admin):
    before = count(app, "materials_requisition")
    response = admin.state(REQUISITION, [("urgency", "normal"), *_lines(app, "3", "1,000"),
                                         ("lines-1-unit_price", "0.5")])
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    # the unit price defaults from the catalogue (32.50) unless typed
    assert body["lines"] == {"lines": [{"amount": "97.50"}, {"amount": "500.00"}]}
    assert body["totals"]["lines"]["amount"] == "597.50"
    assert body["totals"]["lines"]["quantity"] == "1003.00"
    assert count(app, "materials_requisition") == before   # nothing written


def test_conditions_follow_the_values(admin):
    normal = admin.state(REQUISITION, {"urgency": "normal"}).get_json()
    assert normal["fields"]["urgent_reason"] == {"visible": False, "required": False,
                                                 "readonly": False}
    urgent = admin.state(REQUISITION, {"urgency": "urgent"}).get_json()
    assert urgent["fields"]["urgent_reason"] == {"visible": True, "required": True,
                                                 "readonly": False}


def test_the_gadget_computes_and_locks(admin):
    body = admin.state(GADGET, [("price", "1,234.5"), ("active", "0"), ("count", "11"),
                                ("parts", ""), ("parts-0-part_name", "手柄"), ("parts-0-qty", "2"),
                                ("parts-0-cost", "3.25")]).get_json()
    assert body["values"] == {"doubled": "2,469.00"}
    assert body["fields"]["retire_reason"] == {"visible": True, "required": True,
                                               "readonly": False}
    assert body["fields"]["serial"]["readonly"] is True
    assert body["lines"] == {"parts": [{"line_total": "6.50"}]}
    assert body["totals"]["parts"] == {"line_total": "6.50"}  # the computed money fields
    calm = admin.state(GADGET, [("active", "0"), ("active", "1"), ("count", "3")]).get_json()
    assert calm["fields"]["retire_reason"]["visible"] is False
    assert calm["fields"]["serial"]["readonly"] is False


def test_values_being_typed_do_not_fail_the_answer(app, admin):
    response = admin.state(REQUISITION, [*_lines(app, "abc"), ("urgency", "urgent"),
                                         ("lines-99999999-x", "1"), ("total_amount", "12,3,4")])
    assert response.status_code == 200
    answer = response.get_json()
    assert answer["lines"] == {"lines": [{"amount": ""}]}
    assert answer["totals"]["lines"]["amount"] == "0.00"
    assert answer["fields"]["urgent_reason"]["visible"] is True


def test_errors_answer_in_the_page_language(admin):
    response = admin.client.post("/records/no.such/form-state?lang=en",
                                 headers={"X-CSRFToken": admin.csrf})
    assert response.get_json()["error"]["message"] == "unknown entity no.such"


def test_an_edit_previews_against_the_stored_record(app, admin):
    ids = item_ids(app)
    api = token_client(app)
    record = api.post(f"/api/v1/records/{REQUISITION}", json={
        "department": "CARD-W1", "request_date": "2026-01-05", "urgency": "urgent",
        "urgent_reason": "急", "lines": [{"item": ids["WS-0003"], "quantity": "2"}]}).get_json()
    line = record["lines"][0]
    body = admin.state(REQUISITION, [("lines", ""), ("lines-0-id", str(line["id"])),
                                     ("lines-0-quantity", "4")], record_id=record["id"]).get_json()
    # the stored line keeps its item and price: 4 × 26.80
    assert body["lines"] == {"lines": [{"amount": "107.20"}]}
    # the stored urgency decides the condition when the post leaves it out
    assert body["fields"]["urgent_reason"]["visible"] is True


def test_a_hidden_field_is_not_answered(app):
    api = token_client(app)
    gadget = api.post(f"/api/v1/records/{GADGET}", json={"code": "S-1", "name": "钻"}).get_json()
    with services(app).db.begin(write=True) as conn:
        from web_helpers import INSTALLER
        services(app).access.grant_role(conn, INSTALLER, "zhao.lei", "uiform.clerk", "*")
    clerk = Browser(app, "zhao.lei")
    body = clerk.state(GADGET, {"name": "钻头"}, record_id=gadget["id"]).get_json()
    assert "doubled" not in body["values"]


@pytest.mark.parametrize("query, status, code", [
    ("?record_id=abc", 400, "invalid_query"),
    ("?record_id=0", 400, "invalid_query"),
    ("?record_id=99999999999", 400, "invalid_query"),
    ("?record_id=" + "9" * 5000, 400, "invalid_query"),
    ("?record_id=999999", 404, "not_found"),
])
def test_bad_record_ids_are_json_errors(admin, query, status, code):
    response = admin.client.post(STATE + query, data={}, headers={"X-CSRFToken": admin.csrf})
    assert response.status_code == status
    assert response.is_json and response.get_json()["error"]["code"] == code


def test_unknown_entity_nobody_and_no_grant_are_json_errors(app, admin):
    unknown = admin.client.post("/records/no.such/form-state", headers={"X-CSRFToken": admin.csrf})
    assert unknown.status_code == 404 and unknown.get_json()["error"]["code"] == "unknown_entity"
    anonymous = AuthActions(app.test_client())   # a CSRF token, nobody signed in
    nobody = anonymous.client.post(STATE, data={"urgency": "urgent"}, headers=anonymous.headers())
    assert nobody.status_code == 401 and nobody.is_json
    assert set(nobody.get_json()["error"]["messages"]) == {"zh-CN", "en"}
    viewer = Browser(app, "liu.yang")   # reads urgent requisitions, creates none
    refused = viewer.state(REQUISITION, {"urgency": "urgent"})
    assert refused.status_code == 403 and refused.is_json


def test_the_csrf_token_is_required(admin):
    response = admin.client.post(STATE, data={"urgency": "urgent"})
    assert response.status_code == 403


def test_conditions_at_first_render_of_an_edit(app, admin):
    with services(app).db.connect() as conn:
        urgent = conn.execute(text("SELECT id FROM materials_requisition WHERE urgent_reason = "
                                   "'明日有两台择期介入手术，库存不足'")).scalar_one()
    page = Page(admin.get(f"/records/{REQUISITION}/{urgent}/edit").get_data(as_text=True))
    wrapper = page.wrapper("urgent_reason")
    assert "hidden" not in wrapper and "is-required" in wrapper["class"]
    assert page.testid("field-urgent_reason")["text"] == "明日有两台择期介入手术，库存不足"
