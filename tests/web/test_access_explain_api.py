"""GET /api/v1/access/explain and record access through the HTTP edge (SQLite
and PostgreSQL): the bundled ``materials.viewer`` role sees urgent
requisitions without prices; an administrator asks why."""

from __future__ import annotations

import pytest
from apispec import APISpec
from openapi_spec_validator import validate

from yunying.app import services
from yunying.runtime.api.explain import EXPLAIN_PATHS, EXPLAIN_SCHEMAS
from web_helpers import INSTALLER, REQUISITION, error_of, ensure_user, token_client

URL = "/api/v1/access/explain"


@pytest.fixture
def viewer(app):
    """A client signed in as ``vic``, who holds materials.viewer everywhere."""
    ensure_user(app, "vic", "vic-secret-123")
    with services(app).db.begin(write=True) as conn:
        services(app).access.grant_role(conn, INSTALLER, "vic", "materials.viewer", "*")
    return token_client(app, "vic")


@pytest.fixture
def requisitions(client, item_ids) -> dict[str, int]:
    ids = {}
    for urgency in ("urgent", "normal"):
        response = client.post(f"/api/v1/records/{REQUISITION}", json={
            "department": "0301", "urgency": urgency, "reason": "x", "urgent_reason": "急",
            "lines": [{"item": item_ids["WS-0001"], "quantity": "2", "unit_price": "32.5"}]})
        assert response.status_code == 201, response.get_json()
        ids[urgency] = response.get_json()["id"]
    return ids


def test_the_viewer_sees_urgent_requisitions_without_prices(viewer, client, requisitions):
    page = viewer.get(f"/api/v1/records/{REQUISITION}").get_json()
    assert page["total"] == 1 and [r["id"] for r in page["items"]] == [requisitions["urgent"]]
    assert "total_amount" not in page["items"][0]
    record = viewer.get(f"/api/v1/records/{REQUISITION}/{requisitions['urgent']}").get_json()
    assert "total_amount" not in record and "unit_price" not in record["lines"][0]
    assert record["lines"][0]["quantity"] == "2.00"


def test_out_of_scope_over_http_is_the_missing_records_404(viewer, client, requisitions):
    normal = requisitions["normal"]
    hidden = viewer.get(f"/api/v1/records/{REQUISITION}/{normal}")
    missing = viewer.get(f"/api/v1/records/{REQUISITION}/999999")
    assert hidden.status_code == missing.status_code == 404
    one, other = error_of(hidden), error_of(missing)
    assert one["code"] == other["code"]
    assert one["messages"]["en"].replace(str(normal), "#") == \
        other["messages"]["en"].replace("999999", "#")
    probe = viewer.get(f"/api/v1/records/{REQUISITION}?filter=total_amount:gt:0")
    unknown = viewer.get(f"/api/v1/records/{REQUISITION}?filter=no_such:gt:0")
    assert probe.status_code == unknown.status_code == 400
    assert error_of(probe)["messages"]["en"].replace("total_amount", "#") == \
        error_of(unknown)["messages"]["en"].replace("no_such", "#")


def test_an_administrator_asks_why(client, viewer, requisitions):
    response = client.get(URL, query_string={"user": "vic", "entity": REQUISITION,
                                              "id": requisitions["urgent"]})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["can_read"] is True and body["user"] == "vic"
    assert body["hidden"] == ["lines.amount", "lines.unit_price", "total_amount"]
    (grant,) = body["grants"]
    assert grant["role"] == "materials.viewer" and grant["scope"] == "formula"
    assert grant["in_scope"] is True and "urgency = 'urgent'" in grant["reason"]["en"]
    body = client.get(URL, query_string={"user": "vic", "entity": REQUISITION,
                                         "id": requisitions["normal"]}).get_json()
    assert body["can_read"] is False and "vic" in body["answer"]["zh-CN"]


def test_explaining_needs_manage_users(viewer, requisitions):
    response = viewer.get(URL, query_string={"user": "vic", "entity": REQUISITION,
                                             "id": requisitions["urgent"]})
    assert response.status_code == 403 and error_of(response)["code"] == "permission_denied"


@pytest.mark.parametrize("query, status, parameter", [
    ({"entity": REQUISITION, "id": "1"}, 400, "user"),
    ({"user": "vic", "entity": REQUISITION, "id": "x"}, 400, "id"),
    ({"user": "vic", "entity": REQUISITION, "id": "0"}, 400, "id"),
    ({"user": "vic", "entity": REQUISITION, "id": "1", "more": "1"}, 400, "more"),
    ({"user": "nobody", "entity": REQUISITION, "id": "1"}, 404, None),
    ({"user": "vic", "entity": "x.nope", "id": "1"}, 404, None),
    ({"user": "vic", "entity": REQUISITION, "id": "999999"}, 404, None),
])
def test_bad_questions(client, viewer, query, status, parameter):
    response = client.get(URL, query_string=query)
    assert response.status_code == status
    error = error_of(response)
    if parameter is not None:
        assert error["details"]["parameter"] == parameter


def test_the_openapi_description_is_valid():
    spec = APISpec(title="t", version="1", openapi_version="3.1.0")
    for name, schema in EXPLAIN_SCHEMAS.items():
        spec.components.schema(name, schema)
    for status in ("400", "403", "404"):
        spec.components.response(f"Error{status}", {"description": status})
    for path, operations in EXPLAIN_PATHS.items():
        spec.path(path, operations=operations)
    validate(spec.to_dict())
