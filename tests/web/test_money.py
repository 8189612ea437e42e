"""Money and decimals cross HTTP exactly: never through float."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from web_helpers import ITEM, REQUISITION, error_of

REQS = f"/api/v1/records/{REQUISITION}"


def test_json_numbers_with_a_fraction_parse_as_decimal(app):
    parsed = app.json.loads(b'{"a": 0.1, "b": 1, "c": 1e2, "d": 123456789012345678.123456789}')
    assert parsed == {"a": Decimal("0.1"), "b": 1, "c": Decimal("1e2"),
                      "d": Decimal("123456789012345678.123456789")}
    assert type(parsed["a"]) is Decimal and type(parsed["b"]) is int


def test_decimals_and_dates_serialise_exactly(app):
    text = app.json.dumps({"m": Decimal("32.5000"), "z": Decimal("0E-10"), "e": Decimal("1E+2"),
                           "d": date(2026, 1, 31), "t": datetime(2026, 1, 31, 8, 5, 3)})
    assert text == ('{"m": "32.5000", "z": "0.0000000000", "e": "100", '
                    '"d": "2026-01-31", "t": "2026-01-31T08:05:03"}')


def test_money_round_trip_keeps_every_digit(client, item_ids):
    body = {"department": "0301", "total_amount": "0.30", "lines": [
        {"item": item_ids["WS-0001"], "quantity": "1", "unit_price": "0.10"},
        {"item": item_ids["WS-0002"], "quantity": "1", "unit_price": "0.20"}]}
    created = client.post(REQS, json=body)
    assert created.status_code == 201, created.get_json()
    record = client.get(created.headers["Location"]).get_json()
    amounts = [Decimal(line["amount"]) for line in record["lines"]]
    assert sum(amounts) == Decimal("0.30") == Decimal(record["total_amount"])
    assert [line["unit_price"] for line in record["lines"]] == ["0.1000", "0.2000"]


def test_json_number_point_one_is_stored_as_exact_decimal(client, item_ids):
    raw = ('{"department": "0301", "total_amount": 0.3, "lines": ['
           '{"item": %d, "quantity": 0.1, "unit_price": 0.1}]}'
           % item_ids["WS-0001"])
    created = client.post(REQS, data=raw, content_type="application/json")
    assert created.status_code == 201, created.get_json()
    line = created.get_json()["lines"][0]
    assert (line["quantity"], line["unit_price"], line["amount"]) == ("0.10", "0.1000", "0.01")
    assert created.get_json()["total_amount"] == "0.30"


def test_item_prices_keep_their_scale(client):
    page = client.get(f"/api/v1/records/{ITEM}?filter=code:eq:WS-0004").get_json()
    assert page["items"][0]["unit_price"] == "1.2500"
    body = {"code": "T-1", "name": "测试", "category": "02", "uom": "box",
            "unit_price": "9999999.9999"}
    created = client.post(f"/api/v1/records/{ITEM}", json=body)
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["unit_price"] == "9999999.9999"


def test_too_many_decimal_places_are_refused_not_rounded(client):
    body = {"code": "T-2", "name": "测试", "category": "02", "uom": "box",
            "unit_price": 0.12345}
    response = client.post(f"/api/v1/records/{ITEM}", json=body)
    assert response.status_code == 422
    assert error_of(response)["details"]["fields"]["unit_price"][0]["code"] == "scale"
