"""Record endpoints through HTTP: create with lines, read, list, update under
a version, stale updates, delete, validation errors and 404s."""

from __future__ import annotations

from web_helpers import ADMIN, ITEM, REQUISITION, error_of

BASE = f"/api/v1/records/{REQUISITION}"


def _requisition(item_ids, **extra):
    return {"department": "0301", "urgency": "urgent", "reason": "月度领用",
            "urgent_reason": "导管室急用",
            "lines": [{"item": item_ids["WS-0001"], "quantity": "2", "unit_price": "32.5000"},
                      {"item": item_ids["WS-0002"], "quantity": 3.5}],
            **extra}


def test_create_requisition_with_lines_then_read_it_back(client, item_ids):
    response = client.post(BASE, json=_requisition(item_ids))
    assert response.status_code == 201
    record = response.get_json()
    assert response.headers["Location"] == f"{BASE}/{record['id']}"
    assert record["version"] == 1
    assert record["number"].startswith("LY") and len(record["number"]) == len("LY202601-0001")
    assert record["created_by"] == ADMIN  # the signed-in user
    assert [line["line_no"] for line in record["lines"]] == [1, 2]
    assert record["lines"][0]["quantity"] == "2.00"
    assert record["lines"][0]["unit_price"] == "32.5000"
    assert record["lines"][1]["quantity"] == "3.50"

    again = client.get(response.headers["Location"])
    assert again.status_code == 200
    assert again.get_json() == record


def test_list_filters_sorts_and_pages(client, item_ids):
    ids = [client.post(BASE, json=_requisition(item_ids, urgency=u)).get_json()["id"]
           for u in ("urgent", "normal", "urgent")]
    response = client.get(f"{BASE}?filter=urgency:eq:urgent&sort=-id&page_size=1")
    assert response.status_code == 200
    page = response.get_json()
    assert page["total"] == 2 and page["page"] == 1 and page["page_size"] == 1
    assert [r["id"] for r in page["items"]] == [ids[2]]
    second = client.get(f"{BASE}?filter=urgency:eq:urgent&sort=-id&page_size=1&page=2")
    assert [r["id"] for r in second.get_json()["items"]] == [ids[0]]
    found = client.get(f"/api/v1/records/{ITEM}?search=注射器").get_json()
    assert [r["code"] for r in found["items"]] == ["WS-0001"]


def test_update_with_version_then_stale_update_is_409(client, item_ids):
    record = client.post(BASE, json=_requisition(item_ids)).get_json()
    url = f"{BASE}/{record['id']}"
    lines = [{"id": record["lines"][1]["id"], "quantity": "4"}]
    updated = client.patch(url, json={"version": 1, "reason": "改", "lines": lines})
    assert updated.status_code == 200, updated.get_json()
    body = updated.get_json()
    assert body["version"] == 2 and body["reason"] == "改"
    assert [(line["line_no"], line["quantity"]) for line in body["lines"]] == [(1, "4.00")]

    stale = client.patch(url, json={"version": 1, "reason": "旧"})
    assert stale.status_code == 409
    error = error_of(stale)
    assert error["code"] == "stale_record"
    assert error["details"]["current_version"] == 2
    assert client.get(url).get_json()["reason"] == "改"


def test_patch_version_is_required_and_must_be_an_integer(client, item_ids):
    record = client.post(BASE, json=_requisition(item_ids)).get_json()
    url = f"{BASE}/{record['id']}"
    missing = client.patch(url, json={"reason": "x"})
    assert missing.status_code == 422
    assert error_of(missing)["details"]["fields"]["version"][0]["code"] == "required"
    for bad in ("1", 1.5, True, None, 0, [1]):
        response = client.patch(url, json={"version": bad, "reason": "x"})
        assert response.status_code == 422, (bad, response.get_json())
        assert "version" in error_of(response)["details"]["fields"]
    assert client.get(url).get_json()["version"] == 1


def test_delete_with_and_without_version(client, item_ids, count_rows):
    first = client.post(BASE, json=_requisition(item_ids)).get_json()
    second = client.post(BASE, json=_requisition(item_ids)).get_json()
    stale = client.delete(f"{BASE}/{first['id']}?version=7")
    assert stale.status_code == 409 and error_of(stale)["details"]["current_version"] == 1
    response = client.delete(f"{BASE}/{first['id']}?version=1")
    assert response.status_code == 204 and response.get_data() == b""
    assert client.get(f"{BASE}/{first['id']}").status_code == 404
    assert client.delete(f"{BASE}/{second['id']}").status_code == 204
    assert count_rows("materials_requisition") == 0
    assert count_rows("materials_requisition__lines") == 0


def test_delete_version_parameter_must_be_one_positive_integer(client, item_ids):
    record = client.post(BASE, json=_requisition(item_ids)).get_json()
    for query in ("version=abc", "version=-1", "version=0", "version=1&version=1",
                  "version=1.0", "version=99999999999", "version=%EF%BC%91"):
        response = client.delete(f"{BASE}/{record['id']}?{query}")
        assert response.status_code == 400, query
        assert error_of(response)["details"]["parameter"] == "version"
    assert client.get(f"{BASE}/{record['id']}").status_code == 200


def test_deleting_a_referenced_item_is_a_conflict(client, item_ids):
    client.post(BASE, json=_requisition(item_ids))
    response = client.delete(f"/api/v1/records/{ITEM}/{item_ids['WS-0001']}")
    assert response.status_code == 409
    assert REQUISITION in error_of(response)["details"]["referenced_by"]


def test_validation_errors_are_422_with_paths_in_both_languages(client, item_ids):
    body = {"urgency": "whenever", "lines": [
        {"item": item_ids["WS-0001"], "quantity": "-1"},
        {"item": 999999, "quantity": "1.234"}]}
    response = client.post(BASE, json=body, headers={"Accept-Language": "en-US,en;q=0.9"})
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "validation_failed"
    assert error["message"] == error["messages"]["en"]
    fields = error["details"]["fields"]
    assert {"department", "urgency", "lines.0.quantity", "lines.1.quantity",
            "lines.1.item"} <= set(fields)
    for problems in fields.values():
        for problem in problems:
            assert problem["message"]["zh-CN"] and problem["message"]["en"]
    assert fields["urgency"][0]["code"] == "enum"
    assert fields["lines.1.item"][0]["code"] == "reference"


def test_unique_violation_is_reported_not_raised(client):
    body = {"code": "WS-0001", "name": "重复", "category": "0101", "uom": "box",
            "unit_price": "1"}
    response = client.post(f"/api/v1/records/{ITEM}", json=body)
    assert response.status_code == 422
    assert error_of(response)["details"]["fields"]["code"][0]["code"] == "unique"


def test_unknown_entity_and_unknown_id_are_404(client, item_ids):
    for url in ("/api/v1/records/materials.nothing", "/api/v1/records/nothing",
                "/api/v1/records/materials.nothing/1", f"{BASE}/424242",
                f"{BASE}/99999999999999999999", f"{BASE}/0"):
        response = client.get(url)
        assert response.status_code == 404, url
        assert error_of(response)["code"] in ("not_found", "unknown_entity")
    assert client.patch(f"{BASE}/424242", json={"version": 1}).status_code == 404
    assert client.delete(f"{BASE}/424242").status_code == 404
    assert client.post("/api/v1/records/materials.nothing", json={}).status_code == 404


def test_request_id_is_echoed_or_generated(client):
    given = client.get(f"{BASE}", headers={"X-Request-Id": "abc-123"})
    assert given.headers["X-Request-Id"] == "abc-123"
    fresh = client.get(f"{BASE}")
    assert len(fresh.headers["X-Request-Id"]) == 32
    hostile = client.get(f"{BASE}", headers={"X-Request-Id": "x" * 500})
    assert hostile.headers["X-Request-Id"] != "x" * 500
    failing = client.get("/api/v1/records/nothing", headers={"X-Request-Id": "req-9"})
    assert failing.status_code == 404 and failing.headers["X-Request-Id"] == "req-9"
