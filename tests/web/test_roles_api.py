"""The role administration endpoints under /api/v1/access (on SQLite and
PostgreSQL): listing package roles, a user's roles, grant and revoke, who may
call them, and bad input."""

from __future__ import annotations

from datetime import date

import pytest
from apispec import APISpec
from openapi_spec_validator import validate
from sqlalchemy import select

from yunying.app import services
from yunying.platform import org
from yunying.platform.tables import audit_event, casbin_rule
from yunying.runtime.api.roles import ROLES_PATHS, ROLES_SCHEMAS
from web_helpers import ADMIN_PASSWORD, ensure_user, error_of, token_client

BASE = "/api/v1/access"


@pytest.fixture
def bob(app) -> str:
    ensure_user(app, "bob", ADMIN_PASSWORD)
    with services(app).db.begin(write=True) as conn:
        org.add_unit(conn, org.OrgUnit("HOSP", "医院", "Hospital", "hospital",
                                       date(2020, 1, 1)))
    return "bob"


def _events(app, kind):
    """Audit events of ``kind`` about bob (the admin's own grant is one too)."""
    with services(app).db.connect() as conn:
        rows = conn.execute(select(audit_event).where(audit_event.c.kind == kind)
                            .order_by(audit_event.c.id)).all()
    return [row for row in rows if row.detail["user"] == "bob"]


def _user_links(app):
    c = casbin_rule.c
    with services(app).db.connect() as conn:
        return sorted(tuple(row) for row in conn.execute(
            select(c.v0, c.v1, c.v2).where(c.ptype == "g", c.v0.startswith("user:"))))


def test_roles_lists_the_package_roles_and_the_superuser(client):
    response = client.get(f"{BASE}/roles")
    assert response.status_code == 200
    roles = {role["code"]: role for role in response.get_json()["roles"]}
    assert response.get_json()["roles"][0]["code"] == "platform.admin"
    assert roles["platform.admin"]["builtin"] is True
    storekeeper = roles["materials.storekeeper"]
    assert storekeeper["builtin"] is False and storekeeper["package"] == "materials"
    assert storekeeper["inherits"] == ["materials.requester"]
    assert set(storekeeper["label"]) == {"zh-CN", "en"}
    assert {"entity": "materials.requisition", "actions": ["read", "approve", "export"],
            "scope": "all", "tree": "admin", "filter": None,
            "fields": {}} in storekeeper["grants"]
    assert {"entity": "materials.requisition", "actions": ["read", "create", "update", "submit"],
            "scope": "unit_tree", "tree": "admin", "filter": None,
            "fields": {"lines.unit_price": "read_only"}} in roles["materials.requester"]["grants"]
    assert roles["materials.manager"]["platform"] == ["design"]


def test_grant_list_and_revoke(app, client, bob):
    response = client.post(f"{BASE}/users/bob/roles", json={"role": "materials.storekeeper"},
                           headers={"X-Request-Id": "grant-1"})
    assert response.status_code == 201, response.get_json()
    assert response.get_json() == {"user": "bob", "role": "materials.storekeeper",
                                   "domain": "*"}
    response = client.post(f"{BASE}/users/bob/roles",
                           json={"role": "materials.auditor", "domain": "HOSP"})
    assert response.status_code == 201
    body = client.get(f"{BASE}/users/bob/roles").get_json()
    assert body == {"user": "bob",
                    "assignments": [{"role": "materials.auditor", "domain": "HOSP"},
                                    {"role": "materials.storekeeper", "domain": "*"}],
                    "roles": [{"role": "materials.auditor", "domain": "HOSP"},
                              {"role": "materials.requester", "domain": "*"},
                              {"role": "materials.storekeeper", "domain": "*"}]}
    [first, _] = _events(app, "role.grant")
    assert first.detail == {"user": "bob", "role": "materials.storekeeper", "domain": "*"}
    assert (first.actor, first.request_id) == ("admin", "grant-1")

    response = client.delete(f"{BASE}/users/bob/roles?role=materials.auditor&domain=HOSP")
    assert response.status_code == 204
    response = client.delete(f"{BASE}/users/bob/roles?role=materials.storekeeper")
    assert response.status_code == 204
    assert client.get(f"{BASE}/users/bob/roles").get_json()["assignments"] == []
    assert len(_events(app, "role.revoke")) == 2


def test_a_granted_role_is_enforced_on_the_next_request(app, client, bob):
    """The app's AccessControl sees a grant made through the API at once."""
    access, db = services(app).access, services(app).db
    with db.connect() as conn:
        assert not access.enforce(conn, "bob", "HOSP", "materials.item", "create")
    client.post(f"{BASE}/users/bob/roles", json={"role": "materials.storekeeper",
                                                 "domain": "HOSP"})
    with db.connect() as conn:
        assert access.enforce(conn, "bob", "HOSP", "materials.item", "create")
        assert not access.enforce(conn, "bob", "EAST", "materials.item", "create")


@pytest.mark.parametrize("body, status, code, field", [
    ({"role": "materials.nobody"}, 422, "validation_failed", "role"),
    ({"role": "materials.requester", "domain": "NOWHERE"}, 422, "validation_failed", "domain"),
    ({"role": "platform.admin", "domain": "HOSP"}, 422, "validation_failed", "domain"),
    ({"role": "x" * 10_000}, 422, "validation_failed", "role"),
    ({"role": "materials.requester\u0000"}, 422, "validation_failed", "role"),
    ({}, 400, "invalid_request", None),
    ({"role": 7}, 400, "invalid_request", None),
    ({"role": "materials.requester", "domain": None}, 400, "invalid_request", None),
    ({"role": "materials.requester", "user": "root"}, 400, "invalid_request", None),
])
def test_bad_grants_are_refused_with_nothing_written(app, client, bob, body, status, code,
                                                     field):
    response = client.post(f"{BASE}/users/bob/roles", json=body)
    assert response.status_code == status
    error = error_of(response)
    assert error["code"] == code
    if field is not None:
        assert list(error["details"]["fields"]) == [field]
    assert _user_links(app) == [("user:admin", "role:platform.admin", "*")]
    assert _events(app, "role.grant") == []


def test_a_body_that_is_not_an_object_is_a_400(client, bob):
    response = client.post(f"{BASE}/users/bob/roles", json=["materials.requester"])
    assert response.status_code == 400


def test_a_duplicate_grant_is_a_conflict(client, bob):
    body = {"role": "materials.requester", "domain": "HOSP"}
    assert client.post(f"{BASE}/users/bob/roles", json=body).status_code == 201
    response = client.post(f"{BASE}/users/bob/roles", json=body)
    assert response.status_code == 409
    assert error_of(response)["code"] == "conflict"


@pytest.mark.parametrize("path", ["nobody", "bad%00code", "x" * 300, "%ED%A0%80"])
def test_unknown_users_are_not_found(client, path):
    assert client.get(f"{BASE}/users/{path}/roles").status_code == 404
    response = client.post(f"{BASE}/users/{path}/roles", json={"role": "materials.requester"})
    assert response.status_code == 404
    error_of(response)


@pytest.mark.parametrize("query, status", [
    ("role=materials.requester", 404),             # not held
    ("role=materials.requester&domain=%00", 404),
    ("", 400),                                     # role missing
    ("role=a&role=b", 400),
    ("role=materials.requester&domain=*&domain=HOSP", 400),
])
def test_bad_revocations(client, bob, query, status):
    response = client.delete(f"{BASE}/users/bob/roles?{query}")
    assert response.status_code == status
    error_of(response)


def test_only_user_managers_may_call(app, client, bob):
    other = token_client(app, "bob")  # signed in, holding no role
    calls = [other.get(f"{BASE}/roles"), other.get(f"{BASE}/users/bob/roles"),
             other.post(f"{BASE}/users/bob/roles", json={"role": "platform.admin"}),
             other.delete(f"{BASE}/users/admin/roles?role=platform.admin")]
    for response in calls:
        assert response.status_code == 403
        assert error_of(response)["code"] == "permission_denied"
    assert _user_links(app) == [("user:admin", "role:platform.admin", "*")]


def test_signing_in_is_required(anon_client):
    assert anon_client.get(f"{BASE}/roles").status_code == 401


def test_the_openapi_description_is_valid():
    """ROLES_PATHS / ROLES_SCHEMAS form valid OpenAPI 3.1 once wired into a document."""
    spec = APISpec(title="roles", version="1", openapi_version="3.1.0")
    for status in ("400", "403", "404", "409", "422"):
        spec.components.response(f"Error{status}", {"description": status})
    for name, schema in ROLES_SCHEMAS.items():
        spec.components.schema(name, schema)
    for path, operations in ROLES_PATHS.items():
        spec.path(path, operations=dict(operations))
    document = spec.to_dict()
    validate(document)
    grant = document["paths"]["/api/v1/access/users/{code}/roles"]["post"]
    assert grant["responses"]["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/RoleAssignment"}
