"""The audit endpoints through HTTP: a record's history (scope and hidden
fields of the caller respected), the admin query with paging and filters,
and hostile query parameters answered with a located 400."""

from __future__ import annotations

import json
from datetime import date

import pytest
from openapi_spec_validator import validate

from yunying.app import services
from yunying.platform.access import ANY_DOMAIN, AccessControl
from yunying.platform.errors import NotFound, PermissionDenied
from yunying.runtime.access.resolve import build_grants
from yunying.runtime.api import audit as audit_api
from yunying.runtime.api.context import sign_in
from yunying.runtime.api.openapi import build_document
from web_helpers import ADMIN, INSTALLER, REQUISITION, ensure_user, error_of, token_client

BASE = f"/api/v1/records/{REQUISITION}"


def _requisition(item_ids, **extra):
    return {"department": "0301", "urgency": "urgent", "reason": "月度领用",
            "urgent_reason": "导管室急用",
            "total_amount": "65.00",
            "lines": [{"item": item_ids["WS-0001"], "quantity": "2", "unit_price": "32.5000"}],
            **extra}


@pytest.fixture
def viewer(app):
    """Calls an endpoint as ``viewer1``, who holds ``materials.viewer``: urgent
    requisitions only, without amounts and line prices.

    The grants are resolved from the stored policy (``build_grants``) and put
    on the request's context with ``sign_in``, as the HTTP edge does for a
    signed-in user; the view runs inside that request.
    """
    ensure_user(app, "viewer1", "viewer-secret-1")
    db = services(app).db
    access = AccessControl(db)
    with db.begin(write=True) as conn:
        access.grant_role(conn, INSTALLER, "viewer1", "materials.viewer", ANY_DOMAIN)

    def call(view, path: str, **kwargs):
        with app.test_request_context(path):
            with db.connect() as conn:
                grants = build_grants(conn, access, "viewer1", date.today())
            sign_in("viewer1", grants)
            return view(**kwargs)
    return call


@pytest.fixture
def edited(client, item_ids) -> dict:
    """An urgent requisition created, then updated (reason and a line price)."""
    record = client.post(BASE, json=_requisition(item_ids)).get_json()
    line = record["lines"][0]
    response = client.patch(f"{BASE}/{record['id']}", json={
        "version": 1, "reason": "补充", "total_amount": "70.00",
        "lines": [{"id": line["id"], "unit_price": "35.0000"}]})
    assert response.status_code == 200, response.get_json()
    return record


# ---------------------------------------------------------------- history

def test_history_lists_the_record_events_oldest_first(client, edited, item_ids):
    response = client.get(f"{BASE}/{edited['id']}/history")
    assert response.status_code == 200, response.get_json()
    create, update = response.get_json()["items"]
    assert (create["kind"], create["actor"], create["entity"], create["record_id"]) == \
        ("record.create", ADMIN, REQUISITION, edited["id"])
    assert create["changes"]["total_amount"] == [None, "65.00"]
    assert create["changes"]["lines"]["added"][0]["values"]["unit_price"] == "32.5000"
    line = edited["lines"][0]
    assert update["changes"] == {
        "reason": ["月度领用", "补充"], "total_amount": ["65.00", "70.00"],
        "lines": {"changed": [{"id": line["id"], "line_no": 1, "changes": {
            "unit_price": ["32.5000", "35.0000"], "amount": ["65.00", "70.00"]}}]}}
    assert update["detail"] == {"version": 2}
    assert update["request_id"] and update["at"] >= create["at"]


def test_history_strips_the_fields_hidden_from_the_caller(viewer, edited):
    body = viewer(audit_api.record_history, f"{BASE}/{edited['id']}/history",
                  entity=REQUISITION, record_id=edited["id"])
    create, update = body["items"]
    assert "total_amount" not in create["changes"]
    assert create["changes"]["lines"]["added"][0]["values"] == {
        "item": edited["lines"][0]["item"], "quantity": "2.00"}     # no price, no amount
    # the only line change was to hidden prices: the line is not listed at all
    assert update["changes"] == {"reason": ["月度领用", "补充"]}
    shown = json.dumps(body["items"], default=str)
    assert "35.0000" not in shown and "70.00" not in shown and "65.00" not in shown


def test_history_out_of_scope_is_the_same_404_as_missing(viewer, client, item_ids):
    normal = client.post(BASE, json=_requisition(item_ids, urgency="normal")).get_json()
    with pytest.raises(NotFound) as hidden:
        viewer(audit_api.record_history, "/", entity=REQUISITION, record_id=normal["id"])
    with pytest.raises(NotFound) as missing:
        viewer(audit_api.record_history, "/", entity=REQUISITION, record_id=999999)
    assert hidden.value.code == missing.value.code
    assert hidden.value.message.en.replace(str(normal["id"]), "N") == \
        missing.value.message.en.replace("999999", "N")
    assert client.get(f"{BASE}/{normal['id']}/history").status_code == 200   # admin: in scope
    assert client.get(f"{BASE}/999999/history").status_code == 404


def test_the_viewer_may_not_query_the_trail(viewer):
    with pytest.raises(PermissionDenied):
        viewer(audit_api.audit_events, "/api/v1/audit")


def test_history_of_a_deleted_record_is_404_but_the_admin_query_keeps_it(client, edited):
    assert client.delete(f"{BASE}/{edited['id']}").status_code == 204
    assert client.get(f"{BASE}/{edited['id']}/history").status_code == 404
    found = client.get(f"/api/v1/audit?entity={REQUISITION}&record_id={edited['id']}")
    assert [e["kind"] for e in found.get_json()["items"]] == \
        ["record.delete", "record.update", "record.create"]


@pytest.mark.parametrize("path", [
    "/api/v1/records/materials.nothing/1/history",
    f"{BASE}/0/history",
    f"{BASE}/99999999999/history",
])
def test_history_of_unknown_things_is_404(client, path):
    assert client.get(path).status_code == 404


def test_history_needs_authentication(anon_client, edited):
    assert anon_client.get(f"{BASE}/{edited['id']}/history").status_code == 401


# ---------------------------------------------------------------- admin query

def test_admin_query_filters_and_pages(client, edited):
    url = f"/api/v1/audit?entity={REQUISITION}&record_id={edited['id']}&limit=1"
    first = client.get(url).get_json()
    assert [e["kind"] for e in first["items"]] == ["record.update"]
    second = client.get(f"{url}&before_id={first['next_before_id']}").get_json()
    assert [e["kind"] for e in second["items"]] == ["record.create"]
    third = client.get(f"{url}&before_id={second['next_before_id']}").get_json()
    assert third == {"items": [], "next_before_id": None}
    creates = client.get("/api/v1/audit?kind=record.create&actor=admin&limit=500").get_json()
    assert creates["next_before_id"] is None
    assert {e["kind"] for e in creates["items"]} == {"record.create"}
    assert {e["actor"] for e in creates["items"]} == {ADMIN}


def test_admin_query_by_time(client, edited):
    events = client.get(f"/api/v1/audit?entity={REQUISITION}").get_json()["items"]
    newest = events[0]["at"]
    since = client.get(f"/api/v1/audit?entity={REQUISITION}&since={newest}").get_json()
    assert since["items"][0]["id"] == events[0]["id"]
    until = client.get(f"/api/v1/audit?entity={REQUISITION}&until=2000-01-01").get_json()
    assert until["items"] == []
    zoned = client.get(f"/api/v1/audit?entity={REQUISITION}&since=2000-01-01T08:00:00%2B08:00")
    assert len(zoned.get_json()["items"]) == len(events)


def test_token_use_is_in_the_trail(client, edited):
    uses = client.get("/api/v1/audit?kind=token.use&actor=admin").get_json()["items"]
    assert uses and uses[0]["detail"]["prefix"].startswith("yyt_")


def test_package_installs_are_in_the_trail(client):
    events = client.get("/api/v1/audit?kind=package.install").get_json()["items"]
    by_package = {e["detail"]["package"]: e["detail"] for e in events}
    assert by_package["materials"]["action"] == "install"
    assert by_package["materials"]["from"] is None and by_package["materials"]["to"]
    assert {e["actor"] for e in events} == {"tester"}          # the installer's context


def test_admin_query_needs_manage_users(app):
    nobody = token_client(app, "nobody")              # signed in, no role
    response = nobody.get("/api/v1/audit")
    assert response.status_code == 403
    assert error_of(response)["code"] == "permission_denied"


@pytest.mark.parametrize("query, parameter", [
    ("kind=record.peek", "kind"),
    ("actor=" + "x" * 65, "actor"),
    ("actor=a%00b", "actor"),
    ("entity=", "entity"),
    ("record_id=abc", "record_id"),
    ("record_id=-1", "record_id"),
    ("record_id=0", "record_id"),
    ("record_id=99999999999", "record_id"),
    ("limit=0", "limit"),
    ("limit=501", "limit"),
    ("limit=1e3", "limit"),
    ("limit=%EF%BC%95", "limit"),                  # a full-width digit
    ("before_id=99999999999999999999", "before_id"),
    ("since=yesterday", "since"),
    ("since=2026-13-01", "since"),
    ("until=9999-12-31T23:00:00-01:00", "until"),
    ("until=" + "2" * 500, "until"),
    ("limit=1&limit=2", "limit"),
    ("color=red", "color"),
    ("%00=1", "\\x00"),
])
def test_hostile_parameters_are_a_located_400(client, query, parameter):
    response = client.get(f"/api/v1/audit?{query}")
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    error = error_of(response)
    assert error["code"] == "invalid_query"
    assert error["details"]["parameter"] == parameter
    assert parameter in error["messages"]["en"]


# ---------------------------------------------------------------- OpenAPI

def _resolved(operations: dict) -> dict:
    """An operation with apispec's by-name references written out."""
    out = {}
    for method, operation in operations.items():
        parameters = [{"$ref": f"#/components/parameters/{p}"} if isinstance(p, str) else p
                      for p in operation["parameters"]]
        responses = {status: {"$ref": f"#/components/responses/{r}"} if isinstance(r, str)
                     else r for status, r in operation["responses"].items()}
        out[method] = {**operation, "parameters": parameters, "responses": responses}
    return out


def test_audit_paths_make_a_valid_openapi_document(app):
    document = build_document(services(app).runtime().registry)
    document["components"]["schemas"].update(audit_api.AUDIT_SCHEMAS)
    for path, operations in audit_api.AUDIT_PATHS.items():
        document["paths"][path] = _resolved(operations)
    validate(document)
    names = {p["name"] for p in audit_api.AUDIT_PATHS["/api/v1/audit"]["get"]["parameters"]
             if isinstance(p, dict)}
    assert names == {"kind", "actor", "entity", "record_id", "since", "until", "limit",
                     "before_id"}
