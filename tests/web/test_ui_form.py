"""The generated create / edit form (runtime/ui/forms.py, form.html, _field.html, _lines.html).

Over the materials requisition (lines, numbering, the urgent_reason
condition) and the ``uiform`` fixture gadget (a field of every type and
widget): every widget renders with its label, the saved record is exactly
what the API would have stored, a refused save re-renders the input with
every error next to its field (422), a stale save shows the banner (409),
uploads ride along in the save's transaction, and permissions refuse.
"""

from __future__ import annotations

import io

import pytest
from sqlalchemy import text

from yunying.app import services
from ui_form_helpers import (
    GADGET, REQUISITION, Browser, Page, admin_browser, count, form_app, item_ids,
)
from web_helpers import token_client

NEW = f"/records/{REQUISITION}/new"
NEW_GADGET = f"/records/{GADGET}/new"


#: one app for the module: every test makes its own records
app = pytest.fixture(form_app, scope="module", name="app")
admin = pytest.fixture(admin_browser, name="admin")


@pytest.fixture
def api(app):
    return token_client(app)


def _requisition(app, **extra) -> list[tuple[str, str]]:
    ids = item_ids(app)
    return [("department", "CARD-W1"), ("requester", "li.na"), ("request_date", "2026-01-05"),
            ("urgency", "normal"), ("reason", "病区备货"), ("total_amount", "1,097.50"),
            ("lines", ""),
            ("lines-0-item", str(ids["WS-0001"])), ("lines-0-quantity", "3"),
            ("lines-0-note", "先到先用"),
            ("lines-1-item", str(ids["WS-0003"])), ("lines-1-quantity", "1,000"),
            *extra.items()]


def _created_id(response) -> int:
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    location = response.headers["Location"]
    prefix = f"/records/{REQUISITION}/" if REQUISITION in location else f"/records/{GADGET}/"
    assert location.startswith(prefix), location
    return int(location[len(prefix):])


# -- rendering ------------------------------------------------------------------------

def _assert_labelled(page: Page) -> None:
    """Every control has an id and a <label for> naming it."""
    for control in page.controls():
        assert control.get("id"), control
        assert page.labels.get(control["id"]), (control, "has no label")


def test_new_requisition_renders_the_form_with_its_widgets(admin):
    response = admin.get(NEW)
    assert response.status_code == 200
    page = Page(response.get_data(as_text=True))
    _assert_labelled(page)
    assert page.labels["f-department"] == "申请科室"
    form = page.one(tag="form", **{"class": "record-form"})
    assert form["action"] == NEW and form["enctype"] == "multipart/form-data"
    assert form["data-form-state-url"] == f"/records/{REQUISITION}/form-state"
    assert page.find(tag="input", name="csrf_token")
    # the numbering field is assigned on save: shown read-only, never posted
    number = page.testid("field-number")
    assert "disabled" in number and number["placeholder"] == "保存后自动生成"
    assert page.testid("field-department")["data-lookup-url"] == "/lookup/units"
    assert page.testid("field-requester")["data-lookup-url"] == "/lookup/users"
    assert page.testid("field-department")["data-widget"] == "lookup"
    assert page.testid("field-request_date")["data-widget"] == "date"
    # the default date and enum item are filled in; the enum lists the dictionary's items
    assert page.testid("field-request_date")["value"] == services_today(admin)
    assert page.selected("f-urgency") == [("normal", "普通")]
    assert page.options("f-urgency") == ["", "normal", "urgent"]
    money = page.testid("field-total_amount")
    assert (money["data-widget"], money["inputmode"], money["type"]) == ("money", "decimal", "text")
    assert page.testid("field-attachment")["type"] == "file"
    assert page.testid("field-reason")["tag"] == "textarea"
    # urgent_reason shows only while urgency = 'urgent': hidden at first render
    assert "hidden" in page.wrapper("urgent_reason")
    assert "hidden" not in page.wrapper("reason")
    assert "is-required" in page.wrapper("department")["class"]


def services_today(browser: Browser) -> str:
    from datetime import datetime, timezone
    return datetime.now(timezone.utc).date().isoformat()


def test_the_line_editor_has_its_hooks(admin):
    page = Page(admin.get(NEW).get_data(as_text=True))
    table = page.one(tag="table", **{"data-lines": "lines"})
    assert "lines" in table["class"]
    assert page.testid("add-line-lines")["tag"] == "button"
    assert page.find(tag="input", type="hidden", name="lines")  # the list is on the form
    # the template row uses __i__ and carries every hook of a line
    template = page.testid("line-lines-__i__-item")
    assert template["name"] == "lines-__i__-item" and template["data-widget"] == "lookup"
    assert template["data-lookup-url"] == "/lookup/records/materials.item"
    assert page.testid("line-lines-__i__-quantity")["data-widget"] == "decimal"
    assert page.testid("line-lines-__i__-amount")["data-computed-line"] == "amount"
    assert page.testid("remove-line-lines-__i__")
    assert page.labels["f-lines-__i__-quantity"] == "数量"
    totals = {e["data-line-total"]: e["text"] for e in page.find(tag="td")
              if "data-line-total" in e}
    assert totals["amount"] == "0.00" and totals["quantity"] == "0.00"


def test_every_widget_type_of_the_fixture_gadget(admin):
    page = Page(admin.get(NEW_GADGET).get_data(as_text=True))
    _assert_labelled(page)
    expect = {
        "code": ("input", "text"), "summary": ("textarea", None), "notes": ("textarea", None),
        "count": ("input", "number"), "ratio": ("input", "decimal"),
        "price": ("input", "money"), "made_on": ("input", "date"),
        "checked_at": ("input", "datetime"), "owner": ("select", "lookup"),
        "unit": ("select", "lookup"), "spare_for": ("select", "lookup"),
        "manual": ("input", None),
    }
    for code, (tag, widget) in expect.items():
        control = page.testid(f"field-{code}")
        assert control["tag"] == tag, code
        assert control.get("data-widget") == widget or (widget == "text" and
                                                         control["type"] == "text"), code
    assert page.testid("field-spare_for")["data-lookup-url"] == f"/lookup/records/{GADGET}"
    assert page.testid("field-manual")["type"] == "file"
    # checkbox: a hidden 0 companion before the 1 box, checked by the default
    box = page.testid("field-active")
    assert (box["type"], box["value"], "checked" in box) == ("checkbox", "1", True)
    assert page.find(tag="input", type="hidden", name="active", value="0")
    # radio: the dictionary's active items, each with its own label
    radios = page.find(tag="input", type="radio", name="kind")
    assert [r["value"] for r in radios] == ["", "tool", "part"]   # 'old' is inactive
    assert all(page.labels[r["id"]] for r in radios)
    assert page.labels["f-kind-1"] == "零件"
    # computed: a read-only output the live form fills
    doubled = page.testid("field-doubled")
    assert doubled["tag"] == "output" and doubled["data-computed"] == "doubled"
    assert "is-readonly" in page.wrapper("doubled")["class"]
    # help text is tied to its input
    assert page.testid("field-notes")["aria-describedby"] == "f-notes-help"
    assert page.by_id["f-notes-help"]["text"] == "随便写"
    # conditions at first render: active by default → no retire reason
    assert "hidden" in page.wrapper("retire_reason")
    assert "hidden" not in page.wrapper("serial")
    # the child table's columns: a checkbox and a computed cell per line
    assert page.testid("line-parts-__i__-fragile")["type"] == "checkbox"
    assert page.testid("line-parts-__i__-line_total")["data-computed-line"] == "line_total"


def test_the_form_speaks_english_on_request(admin):
    response = admin.get(NEW + "?lang=en")
    page = Page(response.get_data(as_text=True))
    assert page.labels["f-department"] == "Requesting department"
    assert page.one(tag="h1")["text"].strip() == "New material requisition"
    assert page.testid("save")["text"].strip() == "Save"
    assert page.selected("f-urgency") == [("normal", "Normal")]


# -- creating -------------------------------------------------------------------------

def test_create_with_lines_saves_what_the_api_would(app, admin, api):
    response = admin.post(NEW, _requisition(app))
    record_id = _created_id(response)
    record = api.get(f"/api/v1/records/{REQUISITION}/{record_id}").get_json()
    assert record["number"].startswith("LY")
    assert record["total_amount"] == "1097.50" and record["requester"] == "li.na"
    assert [(ln["quantity"], ln["unit_price"], ln["amount"], ln["note"])
            for ln in record["lines"]] == [
        ("3.00", "32.5000", "97.50", "先到先用"), ("1000.00", "26.8000", "26800.00", None)]
    assert record["status"] == "draft"
    # the saved message waits for the next page
    with admin.client.session_transaction() as session:
        assert any("已保存" in str(m) for m in session.get("_flashes", []))


def test_refused_save_shows_every_error_next_to_its_field(app, admin):
    before = count(app, "materials_requisition")
    data = [(k, v) for k, v in _requisition(app) if k not in ("department", "lines-1-item")]
    data = [(k, "abc" if k == "lines-0-quantity" else v) for k, v in data]
    data = [(k, "urgent" if k == "urgency" else v) for k, v in data]
    response = admin.post(NEW, data + [("department", "")])
    assert response.status_code == 422
    assert count(app, "materials_requisition") == before   # nothing written
    page = Page(response.get_data(as_text=True))
    summary = page.testid("form-errors")
    assert "校验未通过" in summary["text"]
    # next to the fields, tied by aria-describedby
    assert "申请科室 为必填项" in page.by_id["f-department-error"]["text"]
    assert "f-department-error" in page.testid("field-department")["aria-describedby"]
    assert "has-error" in page.wrapper("department")["class"]
    # the conditional field is shown (urgency is urgent) and required now
    wrapper = page.wrapper("urgent_reason")
    assert "hidden" not in wrapper and "is-required" in wrapper["class"]
    assert "加急理由 为必填项" in page.by_id["f-urgent_reason-error"]["text"]
    # line errors in their cells, with the row named
    assert "第 1 行：数量 应为数字" in page.by_id["f-lines-0-quantity-error"]["text"]
    assert "第 2 行：物资 为必填项" in page.by_id["f-lines-1-item-error"]["text"]
    # the input is kept as typed
    assert page.testid("line-lines-0-quantity")["value"] == "abc"
    assert page.testid("field-reason")["text"] == "病区备货"
    assert page.selected("f-urgency") == [("urgent", "紧急")]
    assert page.selected("f-lines-0-item")[0][1].startswith("WS-0001")
    # the summary links to the fields
    links = {a["href"] for a in page.find(tag="a") if a.get("href", "").startswith("#f-")}
    assert {"#f-department", "#f-urgent_reason", "#f-lines-0-quantity",
            "#f-lines-1-item"} <= links


def test_fixed_then_saved(app, admin):
    bad = [(k, "abc" if k == "lines-0-quantity" else v) for k, v in _requisition(app)]
    assert admin.post(NEW, bad).status_code == 422
    fixed = [(k, "urgent" if k == "urgency" else v) for k, v in _requisition(app)]
    fixed.append(("urgent_reason", "明日手术"))
    record_id = _created_id(admin.post(NEW, fixed))
    with services(app).db.connect() as conn:
        row = conn.execute(text("SELECT urgency, urgent_reason FROM materials_requisition "
                                "WHERE id = :i"), {"i": record_id}).one()
    assert tuple(row) == ("urgent", "明日手术")


def test_the_forms_own_errors_come_with_the_services(app, admin):
    # a malformed line index is the form's own error, on the child table; the
    # service's findings (a missing department) are shown with it
    data = [(k, v) for k, v in _requisition(app) if k != "department"] + [("lines-x1-item", "1")]
    before = count(app, "materials_requisition")
    response = admin.post(NEW, data)
    assert response.status_code == 422
    assert count(app, "materials_requisition") == before
    page = Page(response.get_data(as_text=True))
    assert "行号 'x1' 无效" in page.by_id["lines-lines-error"]["text"]
    summary = page.testid("form-errors")["text"]
    assert "行号 'x1' 无效" in summary and "申请科室 为必填项" in summary
    assert "申请科室 为必填项" in page.by_id["f-department-error"]["text"]


def test_every_type_saves_from_the_gadget_form(app, admin, api):
    with services(app).db.connect() as conn:
        g1 = conn.execute(text("SELECT id FROM uiform_gadget WHERE code = 'G-1'")).scalar_one()
    data = [("code", "G-9"), ("name", "千斤顶"), ("summary", "短"), ("notes", "长说明"),
            ("count", "7"), ("ratio", "0.125"), ("price", "1,234.50"), ("active", "0"),
            ("active", "1"), ("made_on", "2025-03-01"), ("checked_at", "2025-03-02T08:30"),
            ("kind", "part"), ("owner", "li.na"), ("unit", "CARD"), ("spare_for", str(g1)),
            ("serial", "SN-1"), ("parts", ""), ("parts-0-part_name", "手柄"),
            ("parts-0-qty", "2"), ("parts-0-cost", "3.50"), ("parts-0-fragile", "0"),
            ("parts-0-fragile", "1"), ("parts-1-part_name", "底座"), ("parts-1-fragile", "0")]
    record_id = _created_id(admin.post(NEW_GADGET, data))
    record = api.get(f"/api/v1/records/{GADGET}/{record_id}").get_json()
    assert {k: record[k] for k in ("count", "ratio", "price", "active", "made_on", "kind",
                                   "owner", "unit", "spare_for", "doubled", "summary")} == {
        "count": 7, "ratio": "0.125", "price": "1234.50", "active": True,
        "made_on": "2025-03-01", "kind": "part", "owner": "li.na", "unit": "CARD",
        "spare_for": g1, "doubled": "2469.00", "summary": "短"}
    assert record["checked_at"].startswith("2025-03-02T08:30")
    assert [(p["part_name"], p["qty"], p["line_total"], p["fragile"]) for p in record["parts"]] \
        == [("手柄", 2, "7.00", True), ("底座", None, None, False)]


# -- editing --------------------------------------------------------------------------

def _stored(api, app) -> dict:
    ids = item_ids(app)
    body = {"department": "CARD-W1", "request_date": "2026-01-05", "urgency": "urgent",
            "urgent_reason": "急", "reason": "原因", "total_amount": "12345.6",
            "lines": [{"item": ids["WS-0001"], "quantity": "2"}]}
    response = api.post(f"/api/v1/records/{REQUISITION}", json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_edit_shows_the_stored_values(app, admin, api):
    record = _stored(api, app)
    response = admin.get(f"/records/{REQUISITION}/{record['id']}/edit")
    assert response.status_code == 200
    page = Page(response.get_data(as_text=True))
    _assert_labelled(page)
    assert page.one(tag="input", name="version")["value"] == "1"
    assert page.testid("field-number")["value"] == record["number"]
    assert page.testid("field-total_amount")["value"] == "12,345.60"
    assert page.selected("f-department") == [("CARD-W1", "心内一病区 (CARD-W1)")]
    # urgent: the conditional field is visible and required at first render
    wrapper = page.wrapper("urgent_reason")
    assert "hidden" not in wrapper and "is-required" in wrapper["class"]
    assert page.testid("field-urgent_reason")["text"] == "急"
    # the stored line: its id travels with it, its computed amount is shown
    line_id = record["lines"][0]["id"]
    assert page.one(tag="input", name="lines-0-id")["value"] == str(line_id)
    assert page.testid("line-lines-0-amount")["text"] == "65.00"
    assert page.testid("line-lines-0-unit_price")["value"] == "32.5000"
    assert page.one(tag="h1")["text"].strip() == f"编辑领用申请单 {record['number']}"


def test_edit_saves_and_keeps_line_ids(app, admin, api):
    record = _stored(api, app)
    line_id = record["lines"][0]["id"]
    url = f"/records/{REQUISITION}/{record['id']}/edit"
    page = Page(admin.get(url).get_data(as_text=True))
    version = page.one(tag="input", name="version")["value"]
    data = [("version", version), ("reason", "改过的原因"), ("urgency", "normal"),
            ("urgent_reason", ""), ("lines", ""), ("lines-0-id", str(line_id)),
            ("lines-0-item", str(record["lines"][0]["item"])), ("lines-0-quantity", "5")]
    response = admin.post(url, data)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/records/{REQUISITION}/{record['id']}"
    saved = api.get(f"/api/v1/records/{REQUISITION}/{record['id']}").get_json()
    assert (saved["reason"], saved["urgency"], saved["version"]) == ("改过的原因", "normal", 2)
    assert [(ln["id"], ln["quantity"], ln["amount"]) for ln in saved["lines"]] == [
        (line_id, "5.00", "162.50")]
    assert saved["department"] == "CARD-W1"   # left out of the post: kept


def test_a_stale_save_shows_the_banner_and_keeps_the_input(app, admin, api):
    record = _stored(api, app)
    url = f"/records/{REQUISITION}/{record['id']}/edit"
    assert Page(admin.get(url).get_data(as_text=True)).one(
        tag="input", name="version")["value"] == "1"
    changed = api.patch(f"/api/v1/records/{REQUISITION}/{record['id']}",
                        json={"version": 1, "reason": "别人改的"})
    assert changed.status_code == 200
    response = admin.post(url, [("version", "1"), ("reason", "我的修改")])
    assert response.status_code == 409
    page = Page(response.get_data(as_text=True))
    banner = page.testid("stale-banner")
    assert "第 2 版" in banner["text"]
    assert page.testid("reload")["href"] == url
    assert page.testid("field-reason")["text"] == "我的修改"
    # the form still carries the version the user started from
    assert page.one(tag="input", name="version")["value"] == "1"
    saved = api.get(f"/api/v1/records/{REQUISITION}/{record['id']}").get_json()
    assert (saved["reason"], saved["version"]) == ("别人改的", 2)
    english = admin.post(url + "?lang=en", [("version", "1"), ("reason", "x")])
    assert "now version 2" in Page(english.get_data(as_text=True)).testid("stale-banner")["text"]


def test_a_bad_version_is_a_located_422(app, admin, api):
    record = _stored(api, app)
    url = f"/records/{REQUISITION}/{record['id']}/edit"
    response = admin.post(url, [("version", "x"), ("reason", "r")])
    assert response.status_code == 422
    page = Page(response.get_data(as_text=True))
    assert "版本号 应为整数" in page.testid("form-errors")["text"]


# -- attachments ----------------------------------------------------------------------

def test_an_upload_rides_along_and_is_kept_on_edit(app, admin, api):
    data = {"csrf_token": admin.csrf, "code": "G-7", "name": "锯", "active": "1",
            "manual": (io.BytesIO(b"%PDF manual"), "manual.pdf")}
    response = admin.client.post(NEW_GADGET, data=data, content_type="multipart/form-data")
    record_id = _created_id(response)
    record = api.get(f"/api/v1/records/{GADGET}/{record_id}").get_json()
    file_id = record["manual"]
    download = api.get(f"/api/v1/attachments/{file_id}")
    assert download.status_code == 200 and download.data == b"%PDF manual"
    # the edit form keeps the stored file unless a new one is chosen
    url = f"/records/{GADGET}/{record_id}/edit"
    page = Page(admin.get(url).get_data(as_text=True))
    assert page.one(tag="input", type="hidden", name="manual")["value"] == str(file_id)
    assert page.find(tag="a", href=f"/api/v1/attachments/{file_id}")
    response = admin.client.post(url, data={
        "csrf_token": admin.csrf, "version": "1", "manual": str(file_id), "name": "新锯"},
        content_type="multipart/form-data")
    assert response.status_code == 302
    saved = api.get(f"/api/v1/records/{GADGET}/{record_id}").get_json()
    assert (saved["name"], saved["manual"]) == ("新锯", file_id)


def test_a_refused_save_leaves_no_attachment_row(app, admin):
    before = count(app, "yy_attachment")
    data = {"csrf_token": admin.csrf, "code": "G-8", "name": "x", "count": "many",
            "manual": (io.BytesIO(b"bytes"), "a.txt")}
    response = admin.client.post(NEW_GADGET, data=data, content_type="multipart/form-data")
    assert response.status_code == 422
    assert count(app, "yy_attachment") == before
    page = Page(response.get_data(as_text=True))
    assert "重新选择文件" in page.by_id["f-manual-error"]["text"]


# -- permissions and bad addresses ------------------------------------------------------

def test_nobody_signed_in_is_sent_to_the_login_page(app):
    response = app.test_client().get(NEW)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_a_user_without_create_grant_gets_403(app):
    viewer = Browser(app, "liu.yang")
    response = viewer.get(NEW)
    assert response.status_code == 403
    assert "text/html" in response.content_type
    assert viewer.post(NEW, [("reason", "x")]).status_code == 403


def test_a_record_out_of_scope_is_404(app, api):
    with services(app).db.connect() as conn:
        demo = conn.execute(text("SELECT id FROM materials_requisition WHERE "
                                 "reason = '心内科病区月度耗材领用'")).scalar_one()
    west = Browser(app, "zhou.min")   # requester for the west campus
    assert west.get(f"/records/{REQUISITION}/{demo}/edit").status_code == 404
    east = Browser(app, "li.na")
    assert east.get(f"/records/{REQUISITION}/{demo}/edit").status_code == 200


def test_a_save_outside_the_data_scope_is_refused_on_the_form(app):
    east = Browser(app, "li.na")
    response = east.post(NEW, _requisition(app, department="ORTH-W")[1:] +
                         [("department", "ORTH-W")])
    assert response.status_code == 403
    page = Page(response.get_data(as_text=True))
    assert "数据权限" in page.testid("form-errors")["text"]
    assert page.selected("f-department")[0][0] == "ORTH-W"


def test_a_read_only_field_change_is_refused_on_the_form(app):
    # requesters take unit prices from the catalogue (lines.unit_price read-only)
    east = Browser(app, "li.na")
    data = _requisition(app) + [("lines-0-unit_price", "1.00")]
    response = east.post(NEW, data)
    assert response.status_code == 403
    page = Page(response.get_data(as_text=True))
    assert "只读" in page.testid("form-errors")["text"]
    assert page.testid("line-lines-0-unit_price")["value"] == "1.00"


def test_hidden_fields_are_not_on_the_edit_form(app, api):
    record = _stored(api, app)
    with services(app).db.begin(write=True) as conn:
        services(app).access.grant_role(conn, _installer(), "zhao.lei", "uiform.clerk", "*")
    assert record  # the requisition is not the clerk's
    gadget = api.post(f"/api/v1/records/{GADGET}", json={"code": "G-5", "name": "钳"})
    clerk = Browser(app, "zhao.lei")
    page = Page(clerk.get(f"/records/{GADGET}/{gadget.get_json()['id']}/edit")
                .get_data(as_text=True))
    assert "f-price" not in page.by_id and not page.find(**{"data-field": "price"})
    assert page.testid("field-name")


def _installer():
    from web_helpers import INSTALLER
    return INSTALLER


@pytest.mark.parametrize("url, status", [
    ("/records/nope.nothing/new", 404),
    (f"/records/{REQUISITION}/999999/edit", 404),
])
def test_unknown_entities_and_records_are_404(admin, url, status):
    response = admin.get(url)
    assert response.status_code == status
    assert "text/html" in response.content_type


def test_a_post_without_csrf_token_is_refused(app, admin):
    before = count(app, "materials_requisition")
    response = admin.client.post(NEW, data=dict(_requisition(app)))
    assert response.status_code == 403
    assert count(app, "materials_requisition") == before


def test_values_are_escaped(app, admin, api):
    hostile = '<script>alert(1)</script>"'
    gadget = api.post(f"/api/v1/records/{GADGET}",
                      json={"code": "X-1", "name": hostile, "notes": hostile}).get_json()
    html = admin.get(f"/records/{GADGET}/{gadget['id']}/edit").get_data(as_text=True)
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&#34;" in html
    page = Page(html)
    assert page.testid("field-name")["value"] == hostile
    assert page.testid("field-notes")["text"] == hostile
