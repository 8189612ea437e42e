"""The formula endpoints (/api/v1/formula/check and /eval), formulas in record
writes over HTTP, and how metadata and OpenAPI describe them. Hostile input is
a 4xx, never a 500."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from web_helpers import ITEM, REQUISITION, error_of

CHECK = "/api/v1/formula/check"
EVAL = "/api/v1/formula/eval"
REQS = f"/api/v1/records/{REQUISITION}"


def _check(client, **body):
    response = client.post(CHECK, json=body)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.get_json()


# -- check -----------------------------------------------------------------------

def test_a_valid_row_formula_gives_its_type_and_dependencies(client):
    body = _check(client, formula="quantity * item.unit_price", entity=REQUISITION,
                  child="lines")
    assert body["valid"] is True and body["type"] == "number"
    assert body["dependencies"]["fields"] == ["item.unit_price", "quantity"]
    assert body["dependencies"]["entities"] == ["materials.item"]
    assert _check(client, formula="request_date <= TODAY()", entity=REQUISITION,
                  expect="boolean") == {
        "valid": True, "type": "boolean", "dependencies": {
            "fields": ["request_date"], "entities": [],
            "entity_fields": ["materials.requisition.request_date"], "indicators": [],
            "functions": ["TODAY"]}}


def test_names_resolve_by_label_too(client):
    body = _check(client, formula="[数量] * 单价", entity=REQUISITION, child="lines")
    assert body["valid"] is True and body["dependencies"]["fields"] == ["quantity",
                                                                        "unit_price"]


def test_an_invalid_formula_lists_every_error_with_spans_and_suggestions(client):
    body = _check(client, formula="quantty * item.unit_prise", entity=REQUISITION,
                  child="lines")
    assert body["valid"] is False
    first, second = body["errors"]
    assert set(first) == {"code", "message", "line", "column", "end_line", "end_column",
                          "start", "end", "suggestions"}
    assert (first["code"], first["line"], first["column"], first["end_column"]) == (
        "unknown_name", 1, 1, 8)
    assert first["suggestions"][0] == "quantity"
    assert set(first["message"]) == {"zh-CN", "en"}
    assert (second["code"], second["start"], second["end"]) == ("unknown_name", 15, 25)
    assert "unit_price" in second["suggestions"]


def test_expect_adds_a_type_error(client):
    body = _check(client, formula="quantity * 2", entity=REQUISITION, child="lines",
                  expect="boolean")
    assert [e["code"] for e in body["errors"]] == ["type"]


def test_aggregate_mode_names_every_installed_entity(client):
    body = _check(client, formula="SUM(materials.item.unit_price, high_value) / "
                                  "COUNT(materials.requisition)", mode="aggregate")
    assert body["valid"] is True and body["type"] == "number"
    assert body["dependencies"]["entities"] == ["materials.item", "materials.requisition"]
    row = _check(client, formula="SUM(materials.item.unit_price)")
    assert [e["code"] for e in row["errors"]] == ["context"]


def test_without_an_entity_only_literals_and_functions_check(client):
    assert _check(client, formula="ROUND(2.5) & '元'")["type"] == "string"
    assert _check(client, formula="amount")["errors"][0]["code"] == "unknown_name"


@pytest.mark.parametrize("body, status, parameter", [
    ({}, 400, "formula"),
    ({"formula": 5}, 400, "formula"),
    ({"formula": None}, 400, "formula"),
    ({"formula": ["1"]}, 400, "formula"),
    ({"formula": "1", "entity": 7}, 400, "entity"),
    ({"formula": "1", "entity": REQUISITION, "child": ["lines"]}, 400, "child"),
    ({"formula": "1", "child": "lines"}, 400, "child"),
    ({"formula": "1", "mode": "indicator"}, 400, "mode"),
    ({"formula": "1", "mode": "aggregate", "entity": REQUISITION}, 400, "entity"),
    ({"formula": "1", "expect": "money"}, 400, "expect"),
    ({"formula": "1", "expect": True}, 400, "expect"),
    ({"formula": "1", "fomula": "2"}, 400, "fomula"),
    ('{"formula": "\\ud800"}', 400, "formula"),                  # a lone surrogate
])
def test_malformed_check_requests_are_400_naming_the_parameter(client, body, status,
                                                                parameter):
    if isinstance(body, str):
        response = client.post(CHECK, data=body, content_type="application/json")
    else:
        response = client.post(CHECK, json=body)
    assert response.status_code == status
    error = error_of(response)
    assert error["code"] == "invalid_request" and error["details"]["parameter"] == parameter


@pytest.mark.parametrize("body, code", [
    ({"formula": "1", "entity": "materials.nothing"}, "unknown_entity"),
    ({"formula": "1", "entity": REQUISITION, "child": "nothing"}, "unknown_child"),
])
def test_unknown_entities_and_children_are_404(client, body, code):
    response = client.post(CHECK, json=body)
    assert response.status_code == 404 and error_of(response)["code"] == code


@pytest.mark.parametrize("formula, code", [
    ("(" * 5000 + "1" + ")" * 5000, "too_complex"),
    ("1 + " * 3000 + "1", "too_complex"),
    ("9" * 200_000, "too_complex"),
    ("'unterminated", "syntax"),
    ("\x00\x01\x02", "syntax"),
    ("@[门诊人次]", "context"),
])
def test_hostile_formulas_are_answered_with_their_errors(client, formula, code):
    body = _check(client, formula=formula, entity=REQUISITION)
    assert body["valid"] is False and body["errors"][0]["code"] == code


@pytest.mark.parametrize("data, content_type, code", [
    (b"\xff\xfe\x00garbage", "application/json", "invalid_json"),
    (b'{"formula": ' + b"[" * 50_000 + b"]" * 50_000 + b"}", "application/json",
     "invalid_json"),
    (b'["formula"]', "application/json", "invalid_body"),
    (b'{"formula": "1"}', "text/plain", "unsupported_content_type"),
    (bytes(range(256)), "application/json", "invalid_json"),
])
def test_bodies_that_are_not_json_objects_are_400(client, data, content_type, code):
    for url in (CHECK, EVAL):
        response = client.post(url, data=data, headers={"Content-Type": content_type})
        assert response.status_code == 400
        assert error_of(response)["code"] == code


_JSON_LEAVES = (st.none() | st.booleans() | st.integers(-(10 ** 20), 10 ** 20)
                | st.decimals(allow_nan=False, allow_infinity=False, places=4)
                | st.text(max_size=30))
_JSON = st.recursive(_JSON_LEAVES, lambda inner: st.lists(inner, max_size=3)
                     | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=6)
_KEYS = st.sampled_from(["formula", "entity", "child", "mode", "expect", "record_id",
                         "values", "x"])


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.dictionaries(_KEYS, _JSON | st.sampled_from(
    [REQUISITION, ITEM, "lines", "row", "aggregate", "boolean", "quantity * unit_price"]),
    max_size=5))
def test_any_request_body_is_answered_without_a_server_error(client, body):
    for url in (CHECK, EVAL):
        response = client.post(url, json=body)
        assert response.status_code in (200, 400, 404, 422), (url, body, response.status_code)
        assert response.is_json


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(formula=st.text(max_size=80))
def test_any_formula_text_checks_to_200(client, formula):
    response = client.post(CHECK, json={"formula": formula, "entity": REQUISITION,
                                        "child": "lines"})
    assert response.status_code == 200 or (response.status_code == 400 and error_of(
        response)["details"]["parameter"] == "formula"), (formula, response.status_code)


# -- eval ------------------------------------------------------------------------

def _eval(client, status=200, **body):
    response = client.post(EVAL, json=body)
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    return response.get_json()


def test_eval_converts_sample_values_by_their_field_types(client, item_ids):
    body = _eval(client, formula="quantity * item.unit_price", entity=REQUISITION,
                 child="lines", values={"quantity": "3", "item": item_ids["WS-0001"]})
    assert body == {"value": "97.5000", "type": "number"}
    assert _eval(client, formula="DATEADD(request_date, 1, 'month')", entity=REQUISITION,
                 values={"request_date": "2024-01-31"}) == {"value": "2024-02-29",
                                                            "type": "date"}
    assert _eval(client, formula="urgency = 'urgent' AND ISNULL(reason)",
                 entity=REQUISITION, values={"urgency": "urgent", "reason": None}) == {
        "value": True, "type": "boolean"}


def test_eval_without_an_entity_types_values_by_their_json_type(client):
    assert _eval(client, formula="ROUND(a * 1.5, 1) & b", values={"a": 0.1, "b": "元"}) == {
        "value": "0.2元", "type": "string"}
    assert _eval(client, formula="IF(flag, n, NULL)", values={"flag": False, "n": 1}) == {
        "value": None, "type": "number"}
    assert _eval(client, formula="1 / 3") == {"value": "0.3333333333333333",
                                              "type": "number"}


def test_eval_against_a_stored_record_and_a_stored_line(client, item_ids):
    created = client.post(REQS, json={"department": "0301", "reason": "月度", "lines": [
        {"item": item_ids["WS-0002"], "quantity": "4"}]}).get_json()
    assert _eval(client, formula="department & ':' & reason", entity=REQUISITION,
                 record_id=created["id"]) == {"value": "0301:月度", "type": "string"}
    line = created["lines"][0]
    assert _eval(client, formula="amount / quantity", entity=REQUISITION, child="lines",
                 record_id=line["id"]) == {"value": "18.0000000000000000", "type": "number"}


def test_eval_of_an_invalid_formula_is_422_with_its_errors(client):
    error = error_of(client.post(EVAL, json={"formula": "quantty + 1",
                                             "entity": REQUISITION, "child": "lines"}))
    assert error["code"] == "formula_error"
    assert [e["code"] for e in error["details"]["errors"]] == ["unknown_name"]
    response = client.post(EVAL, json={"formula": "10 ^ 200"})
    assert response.status_code == 422
    assert error_of(response)["details"]["errors"][0]["code"] == "evaluation"


@pytest.mark.parametrize("body, status, detail", [
    ({"formula": "1", "record_id": 1, "values": {}}, 400, "record_id"),
    ({"formula": "1", "record_id": 1}, 400, "record_id"),
    ({"formula": "1", "entity": REQUISITION, "record_id": "1"}, 400, "record_id"),
    ({"formula": "1", "entity": REQUISITION, "record_id": True}, 400, "record_id"),
    ({"formula": "1", "entity": REQUISITION, "record_id": 10 ** 12}, 400, "record_id"),
    ({"formula": "1", "entity": REQUISITION, "values": []}, 400, "values"),
    ({"formula": "1", "entity": REQUISITION, "values": {"nothing": 1}}, 400,
     "values.nothing"),
    ({"formula": "1", "entity": REQUISITION, "values": {"request_date": "soon"}}, 400,
     "values.request_date"),
    ({"formula": "1", "entity": REQUISITION, "child": "lines",
      "values": {"quantity": "1e999999"}}, 400, "values.quantity"),
    ({"formula": "1", "entity": REQUISITION, "child": "lines", "values": {"item": 1.5}},
     400, "values.item"),
    ({"formula": "1", "entity": REQUISITION, "values": {"reason": 5}}, 400, "values.reason"),
    ({"formula": "1", "values": {"a": [1]}}, 400, "values.a"),
    ({"formula": "1", "values": {str(n): n for n in range(1001)}}, 400, "values"),
])
def test_malformed_eval_requests_are_400(client, body, status, detail):
    response = client.post(EVAL, json=body)
    assert response.status_code == status
    assert error_of(response)["details"]["parameter"] == detail


def test_eval_of_a_missing_record_is_404(client):
    for body in ({"entity": REQUISITION, "record_id": 999},
                 {"entity": REQUISITION, "child": "lines", "record_id": 999}):
        response = client.post(EVAL, json={"formula": "1", **body})
        assert response.status_code == 404 and error_of(response)["code"] == "not_found"


# -- records, metadata, OpenAPI --------------------------------------------------

def test_record_writes_compute_amounts_and_check_rules(client, item_ids):
    created = client.post(REQS, json={"department": "0301", "lines": [
        {"item": item_ids["WS-0004"], "quantity": "3"}]})
    assert created.status_code == 201, created.get_json()
    line = created.get_json()["lines"][0]
    assert (line["unit_price"], line["amount"]) == ("1.2500", "3.75")
    refused = client.post(REQS, json={"department": "0301", "request_date": "2999-01-01",
                                      "lines": [{"item": item_ids["WS-0004"],
                                                 "quantity": "3", "amount": "3.75"}]})
    assert refused.status_code == 422
    fields = error_of(refused)["details"]["fields"]
    assert {path: [e["code"] for e in errors] for path, errors in fields.items()} == {
        "request_date": ["rule"], "lines.0.amount": ["read_only"]}
    assert fields["request_date"][0]["message"]["en"] == (
        "The request date cannot be in the future")


def test_metadata_describes_computed_fields_and_rules(client):
    body = client.get(f"/api/v1/meta/entities/{REQUISITION}").get_json()
    assert body["rules"] == [{"code": "not_in_future", "formula": "request_date <= TODAY()",
                              "field": "request_date", "message": {
                                  "zh-CN": "申请日期不能晚于今天",
                                  "en": "The request date cannot be in the future"}}]
    lines = body["children"][0]
    fields = {f["code"]: f for f in lines["fields"]}
    amount = fields["amount"]
    assert (amount["type"], amount["read_only"], amount["formula"], amount["result"]) == (
        "computed", True, "quantity * unit_price", "money")
    assert (amount["precision"], amount["scale"]) == (18, 2)
    assert fields["unit_price"]["default_formula"] == "item.unit_price"
    assert fields["unit_price"]["read_only"] is False
    assert [r["code"] for r in lines["rules"]] == ["item_active"]


def test_openapi_describes_the_formula_endpoints_and_read_only_fields(client):
    document = client.get("/api/v1/openapi.json").get_json()
    assert {"/api/v1/formula/check", "/api/v1/formula/eval"} <= set(document["paths"])
    check = document["paths"]["/api/v1/formula/check"]["post"]
    assert check["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/FormulaCheckRequest"}
    schemas = document["components"]["schemas"]
    amount = schemas[f"{REQUISITION}.lines"]["properties"]["amount"]
    assert amount["readOnly"] is True and amount["x-formula"] == "quantity * unit_price"
    assert "amount" not in schemas[f"{REQUISITION}.lines.Input"]["properties"]
    price = schemas[f"{REQUISITION}.lines.Input"]["properties"]["unit_price"]
    assert price["x-default-formula"] == "item.unit_price"
    assert schemas[REQUISITION]["x-rules"][0]["code"] == "not_in_future"
    assert schemas[f"{REQUISITION}.lines"]["x-rules"][0]["code"] == "item_active"
