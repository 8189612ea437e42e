"""Lookups of the staff UI's reference, user and org-unit inputs (runtime/ui/lookups.py).

Records come through the record service's list, so the caller's data scope
applies (the demo hospital's requesters and viewer see different
requisitions); users and units by code or name. Every answer and every
error is JSON.
"""

from __future__ import annotations

import pytest

from ui_form_helpers import GADGET, REQUISITION, Browser, admin_browser, form_app
from web_helpers import AuthActions


#: one app for the module: every test makes its own records
app = pytest.fixture(form_app, scope="module", name="app")
admin = pytest.fixture(admin_browser, scope="module", name="admin")


def _items(browser: Browser, url: str) -> list[dict]:
    response = browser.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"items"}
    assert all(set(item) == {"value", "text"} for item in body["items"])
    return body["items"]


def test_records_by_search_fields_with_key_and_title(admin):
    items = _items(admin, "/lookup/records/materials.item?q=注射")
    assert [i["text"] for i in items] == ["WS-0001 一次性使用无菌注射器"]
    assert isinstance(items[0]["value"], int)
    by_code = _items(admin, "/lookup/records/materials.item?q=ws-000")
    assert len(by_code) == 5
    assert len(_items(admin, "/lookup/records/materials.item?limit=3")) == 3
    assert [i["text"] for i in _items(admin, f"/lookup/records/{GADGET}?q=扳")] == ["G-1 扳手"]


def test_search_text_is_taken_literally(admin):
    assert _items(admin, "/lookup/records/materials.item?q=%25") == []
    assert _items(admin, "/lookup/records/materials.item?q=_") == []


def test_records_follow_the_data_scope(app):
    numbers = {code: [i["text"] for i in _items(Browser(app, code),
                                                f"/lookup/records/{REQUISITION}")]
               for code in ("zhang.wei", "li.na", "zhou.min", "liu.yang")}
    assert len(numbers["zhang.wei"]) == 2       # cardiology and its ward: both demo ones
    assert len(numbers["li.na"]) == 1           # the ward's own
    assert numbers["zhou.min"] == []            # nothing of the west campus
    assert len(numbers["liu.yang"]) == 1        # the viewer: urgent ones only
    assert numbers["liu.yang"][0] in numbers["zhang.wei"]
    assert numbers["liu.yang"] != numbers["li.na"]


def test_a_user_without_read_grant_is_refused(app):
    nobody_special = Browser(app, "zhao.lei")
    response = nobody_special.get(f"/lookup/records/{REQUISITION}")
    assert response.status_code == 403 and response.is_json
    assert response.get_json()["error"]["code"] == "permission_denied"


def test_users_by_code_or_name_in_the_page_language(admin):
    assert _items(admin, "/lookup/users?q=li.na") == [{"value": "li.na", "text": "李娜 (li.na)"}]
    assert _items(admin, "/lookup/users?q=李娜&lang=en") == [
        {"value": "li.na", "text": "Li Na (li.na)"}]
    assert {i["value"] for i in _items(admin, "/lookup/users?q=zh")} >= {"zhang.wei", "zhou.min"}


def test_units_valid_today_by_code_or_name(admin):
    # CTSU (心胸外科, the performance package's demo) is "Cardiothoracic surgery"
    assert [i["value"] for i in _items(admin, "/lookup/units?q=card")] == [
        "CARD", "CARD-W1", "CTSU"]
    assert _items(admin, "/lookup/units?q=心内一") == [
        {"value": "CARD-W1", "text": "心内一病区 (CARD-W1)"}]
    assert len(_items(admin, "/lookup/units?limit=50")) >= 12


@pytest.mark.parametrize("url, parameter", [
    ("/lookup/users?q=" + "x" * 101, "q"),
    ("/lookup/units?q=" + "字" * 101, "q"),
    (f"/lookup/records/{REQUISITION}?q=" + "x" * 101, "q"),
    ("/lookup/users?q=a%00b", "q"),
    ("/lookup/users?q=a&q=b", "q"),
    ("/lookup/users?limit=0", "limit"),
    ("/lookup/units?limit=51", "limit"),
    ("/lookup/units?limit=x", "limit"),
    ("/lookup/units?limit=" + "9" * 5000, "limit"),
    ("/lookup/units?limit=٣", "limit"),
])
def test_bad_parameters_are_400(admin, url, parameter):
    response = admin.get(url)
    assert response.status_code == 400 and response.is_json
    error = response.get_json()["error"]
    assert error["code"] == "invalid_query" and error["details"]["parameter"] == parameter
    assert error["messages"]["zh-CN"] and error["messages"]["en"]


def test_exactly_one_hundred_characters_are_fine(admin):
    assert _items(admin, "/lookup/users?q=" + "x" * 100) == []


def test_unknown_entity_is_404_json(admin):
    response = admin.get("/lookup/records/no.such")
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "unknown_entity"


@pytest.mark.parametrize("url", ["/lookup/users?q=li", "/lookup/units",
                                 f"/lookup/records/{REQUISITION}"])
def test_nobody_signed_in_gets_401_json(app, url):
    response = AuthActions(app.test_client()).client.get(url)
    assert response.status_code == 401 and response.is_json
    assert response.get_json()["error"]["code"] == "authentication_required"
