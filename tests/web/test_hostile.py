"""Hostile input never produces a 500: bad filters, bad bodies, bad routes.
Every refusal is a located 400-class JSON error and the tables are intact."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import example, HealthCheck, given, settings, strategies as st

from web_helpers import ITEM, REQUISITION, error_of

ITEMS = f"/api/v1/records/{ITEM}"
REQS = f"/api/v1/records/{REQUISITION}"

HOSTILE_QUERIES = [
    "filter=nothing:eq:1",                          # unknown field
    "filter=code:like:%25",                         # unknown operator
    "filter=code",                                  # not field:op:value
    "filter=high_value:contains:t",                 # operator not for the type
    "filter=unit_price:gt:abc",                     # not a number
    "filter=unit_price:gt:NaN",
    "filter=unit_price:gt:1e999999",
    "filter=id:eq:99999999999999999999999",
    "filter=created_at:gt:yesterday",
    "filter=unit_price:between:1",
    "filter=code" + quote("'; DROP TABLE materials_item; --") + ":eq:1",
    "sort=" + quote("code; DROP TABLE materials_item"),
    "sort=nothing", "sort=-", "sort=,",
    "page=0", "page=-1", "page=abc", "page=1.5", "page=99999999999999",
    "page_size=0", "page_size=201", "page_size=-5", "page_size=1e3", "page_size=",
    "page=1&page=2", "search=a&search=b",
    "search=" + "x" * 5000,
    "filter=code:eq:" + "x" * 5000,
    "filter=code:eq:a%00b", "search=a%00b", "sort=code%00",
    "filter=code:in:" + ",".join(["x"] * 2000),
    "unknown=1", "filter[]=code:eq:1", "%00=1",
    "filter=" + quote("名称:eq:注射器"),
]


@pytest.mark.parametrize("query", HOSTILE_QUERIES)
def test_hostile_list_queries_are_400_json(client, count_rows, query):
    response = client.get(f"{ITEMS}?{query}")
    assert response.status_code == 400, (query, response.get_data(as_text=True)[:300])
    error = error_of(response)
    assert error["code"] == "invalid_query"
    assert "parameter" in error["details"]
    assert count_rows("materials_item") == 9


@pytest.mark.parametrize("query", [
    "filter=code:eq:" + quote("x' OR '1'='1"),
    "search=" + quote("%' OR 1=1 --"),
    "search=" + quote("注射器\U0001F600"),
    "filter=name:contains:" + quote("_%\\"),
    "filter=code:in:" + quote("WS-0001,' OR 1=1"),
    "filter=category:eq:%FF%FE",                    # not UTF-8: replaced, matches nothing
])
def test_sql_in_values_is_data_not_code(client, count_rows, query):
    response = client.get(f"{ITEMS}?{query}")
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    codes = [r["code"] for r in response.get_json()["items"]]
    assert codes in ([], ["WS-0001"])
    assert count_rows("materials_item") == 9


def test_unicode_filter_values_match_exactly(client):
    response = client.get(f"{ITEMS}?filter=name:eq:" + quote("医用外科口罩"))
    assert [r["code"] for r in response.get_json()["items"]] == ["WS-0002"]


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(["filter", "sort", "page", "page_size", "search", "x"]),
       value=st.text(max_size=60))
@example(name="page", value="0\x1f")          # stripped by str.strip(), refused by int()
@example(name="page_size", value="\u20072")
def test_any_query_value_is_200_or_400(client, name, value):
    response = client.get(ITEMS, query_string={name: value})
    assert response.status_code in (200, 400), (name, value, response.get_data()[:300])
    assert response.is_json


@pytest.mark.parametrize("data, content_type, code", [
    (b'{"department": "0301",', "application/json", "invalid_json"),
    (b"", "application/json", "invalid_json"),
    (b"\xff\xfe\x00garbage", "application/json", "invalid_json"),
    (b'{"a": NaN}', "application/json", "invalid_json"),
    (b'{"a": Infinity}', "application/json", "invalid_json"),
    (b"[" * 100_000 + b"]" * 100_000, "application/json", "invalid_json"),
    (b'{"a": 1' + b"0" * 5000 + b"}", "application/json", "invalid_json"),
    (b'[{"department": "0301"}]', "application/json", "invalid_body"),
    (b'"just a string"', "application/json", "invalid_body"),
    (b"null", "application/json", "invalid_body"),
    (b"42", "application/json", "invalid_body"),
    (b'{"department": "0301"}', "text/plain", "unsupported_content_type"),
    (b"department=0301", "application/x-www-form-urlencoded", "unsupported_content_type"),
    (b'{"department": "0301"}', "", "unsupported_content_type"),
])
def test_bad_bodies_are_400(client, count_rows, data, content_type, code):
    headers = {"Content-Type": content_type} if content_type else {}
    for method, url in (("post", REQS), ("patch", f"{REQS}/1")):
        response = getattr(client, method)(url, data=data, headers=headers)
        assert response.status_code == 400, (method, response.get_data(as_text=True)[:300])
        assert error_of(response)["code"] == code
    assert count_rows("materials_requisition") == 0


def test_json_with_charset_and_vendor_type_is_accepted(client, item_ids):
    body = ('{"department": "0301", "lines": [{"item": %d, "quantity": 1}]}'
            % item_ids["WS-0001"]).encode()
    for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        response = client.post(REQS, data=body, headers={"Content-Type": content_type})
        assert response.status_code == 201, response.get_data(as_text=True)[:300]


@pytest.mark.parametrize("body", [
    {"department": "03\x0001"},
    {"department": "0301", "reason": "\x00"},
    {"department": "x" * 100_000},
    {"department": "0301", "lines": "not a list"},
    {"department": "0301", "lines": [["nested"]]},
    {"department": "0301", "lines": [{"item": "1; DROP TABLE x", "quantity": "1"}]},
    {"department": "0301", "lines": [{"item": 10 ** 30, "quantity": "1"}]},
    {"department": "0301", "id": 5, "version": 9},
    {"department": "0301", "no_such_field": 1},
    {"department": {"nested": "object"}},
    {"department": "0301", "request_date": "2026-02-30"},
    {"department": "0301", "total_amount": "1e400"},
    {"department": "0301", "total_amount": 12345678901234567890.12},
    {"department": "0301", "urgency": ["normal"]},
])
def test_hostile_record_bodies_are_422(client, count_rows, body):
    response = client.post(REQS, json=body)
    assert response.status_code == 422, response.get_data(as_text=True)[:500]
    assert error_of(response)["details"]["fields"]
    assert count_rows("materials_requisition") == 0
    assert count_rows("materials_requisition__lines") == 0


def test_unknown_routes_and_methods_are_json(client):
    missing = client.get("/api/v1/nothing/here")
    assert missing.status_code == 404 and error_of(missing)["code"] == "not_found"
    wrong = client.put(ITEMS, json={})
    assert wrong.status_code == 405
    assert error_of(wrong)["code"] == "method_not_allowed"
    assert "GET" in wrong.headers["Allow"]
    not_int = client.get(f"{ITEMS}/abc")
    assert not_int.status_code == 404 and not_int.is_json


def test_oversized_body_is_413_json(app, client):
    app.config["MAX_CONTENT_LENGTH"] = 1000
    response = client.post(REQS, json={"department": "0301", "reason": "x" * 5000})
    assert response.status_code == 413
    error = error_of(response)
    assert error["code"] == "payload_too_large"
    assert error["details"]["max_content_length"] == 1000


_JSON_LEAVES = (st.none() | st.booleans() | st.integers(-(10 ** 20), 10 ** 20)
                | st.decimals(allow_nan=False, allow_infinity=False, places=6)
                | st.text(max_size=40))
_JSON = st.recursive(_JSON_LEAVES, lambda inner: st.lists(inner, max_size=3)
                     | st.dictionaries(st.text(max_size=10), inner, max_size=3), max_leaves=8)
_REQUISITION_KEYS = st.sampled_from([
    "department", "requester", "request_date", "urgency", "reason", "attachment",
    "total_amount", "number", "lines", "version", "id", "x"])
_LINE_KEYS = st.sampled_from(["item", "quantity", "unit_price", "amount", "note", "id", "y"])


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.dictionaries(_REQUISITION_KEYS, _JSON, max_size=6),
       lines=st.lists(st.dictionaries(_LINE_KEYS, _JSON, max_size=5), max_size=3))
def test_any_record_body_is_201_or_a_located_422(client, body, lines):
    if lines:
        body = {**body, "lines": lines}
    response = client.post(REQS, json=body)
    assert response.status_code in (201, 422), (body, response.get_data(as_text=True)[:300])
    if response.status_code == 422:
        assert error_of(response)["details"]["fields"]


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.dictionaries(_REQUISITION_KEYS, _JSON, max_size=6),
       lines=st.none() | st.lists(st.dictionaries(_LINE_KEYS, _JSON, max_size=5), max_size=3))
def test_any_update_body_is_200_409_or_422(client, item_ids, body, lines):
    created = client.post(REQS, json={"department": "0301", "lines": [
        {"item": item_ids["WS-0001"], "quantity": "1"}]}).get_json()
    if lines is not None:
        body = {**body, "lines": lines}
    body.setdefault("version", 1)
    response = client.patch(f"{REQS}/{created['id']}", json=body)
    assert response.status_code in (200, 409, 422), (body, response.get_data(as_text=True)[:300])
    if response.status_code != 200:
        error_of(response)
