"""The org endpoints: every route, as-of answers before and after changes,
who may write, and hostile input (always a located 4xx, never a 500, and
nothing written)."""

from __future__ import annotations

import json
from datetime import date

import pytest
from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from sqlalchemy import func, select

from yunying.app import services
from yunying.platform import identity, org
from yunying.platform.i18n import Text
from yunying.platform.org import OrgUnit
from yunying.platform.tables import location, org_assignment, org_edge, org_head, org_unit
from yunying.runtime.api.org_paths import ORG_PATHS, ORG_SCHEMAS
from web_helpers import INSTALLER, error_of, token_client

API = "/api/v1/org"
D0, D1 = date(2020, 1, 1), date(2026, 6, 1)


@pytest.fixture
def model(app):
    """HOSP → {MED → {CARD, RESP}, SURG} in admin; CARD at floor F3;
    nurse primary in CARD, dr_li heads CARD, dean heads HOSP."""
    with services(app).db.begin(write=True) as conn:
        org.add_location(conn, "E", "东院", "East", "campus")
        org.add_location(conn, "E-B1", "1号楼", "Building 1", "building", "E")
        org.add_location(conn, "E-B1-F3", "3楼", "Floor 3", "floor", "E-B1")
        for code, kind in (("HOSP", "hospital"), ("MED", "department"), ("SURG", "department"),
                           ("CARD", "ward"), ("RESP", "ward")):
            org.add_unit(conn, OrgUnit(code, f"{code}中文", code.title(), kind, D0))
        for parent, child in (("HOSP", "MED"), ("HOSP", "SURG"), ("MED", "CARD"),
                              ("MED", "RESP")):
            org.add_edge(conn, "admin", parent, child, D0)
        org.move_location(conn, "CARD", "E-B1-F3", D0)
        for user in ("nurse", "dr_li", "dean"):
            identity.create_user(conn, INSTALLER, user, Text(user, user), "password-123")
        org.set_head(conn, "CARD", "dr_li", D0)
        org.set_head(conn, "HOSP", "dean", D0)
        org.assign(conn, "nurse", "CARD", D0, primary=True)
    return app


@pytest.fixture
def clerk(app):
    """A signed-in user without the platform action manage_users."""
    return token_client(app, "clerk")


def _count(app, table) -> int:
    with services(app).db.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar()


def _ok(response, status=200):
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    return response.get_json()


def _refused(response, status, code=None):
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    error = error_of(response)
    if code is not None:
        assert error["code"] == code, error
    return error


# -- reading ------------------------------------------------------------------------------

def test_reading_needs_a_signed_in_user_but_no_role(model, anon_client, clerk):
    _refused(anon_client.get(f"{API}/units"), 401)
    assert _ok(clerk.get(f"{API}/units"))["total"] == 5


def test_units_list_filters_by_type_and_date_and_pages(model, client):
    page = _ok(client.get(f"{API}/units?page_size=2&page=2"))
    assert [u["code"] for u in page["items"]] == ["MED", "RESP"]
    assert (page["total"], page["page"], page["page_size"]) == (5, 2, 2)
    assert page["items"][0] == {"code": "MED", "name": {"zh": "MED中文", "en": "Med"},
                                "type": "department", "valid_from": "2020-01-01",
                                "valid_to": None}
    wards = _ok(client.get(f"{API}/units?type=ward"))
    assert [u["code"] for u in wards["items"]] == ["CARD", "RESP"]
    assert _ok(client.get(f"{API}/units?as_of=2019-12-31"))["total"] == 0


_BAD_QUERIES = [
    ("type=lab", "type"), ("as_of=2026-02-30", "as_of"), ("as_of=yesterday", "as_of"),
    ("page=0", "page"), ("page_size=201", "page_size"), ("page=-1", "page"),
    ("page=１", "page"), ("sort=code", "sort"), ("page=1&page=2", "page"),
]


def test_bad_query_parameters_are_400_naming_them(model, client):
    for query, parameter in _BAD_QUERIES:
        error = _refused(client.get(f"{API}/units?{query}"), 400, "invalid_query")
        assert error["details"]["parameter"] == parameter, query


def test_unit_card_as_of_a_date(model, client):
    card = _ok(client.get(f"{API}/units/CARD?as_of=2021-01-01"))
    assert card["as_of"] == "2021-01-01"
    assert card["location"] == "E-B1-F3"
    assert card["location_path"] == ["E-B1-F3", "E-B1", "E"]
    assert card["parents"] == {"admin": "MED"}
    assert card["heads"] == [{"user": "dr_li", "valid_from": "2020-01-01", "valid_to": None}]
    assert card["members"] == [{"user": "nurse", "primary": True,
                                "valid_from": "2020-01-01", "valid_to": None}]
    assert _ok(client.get(f"{API}/units/MED"))["children"] == {"admin": ["CARD", "RESP"]}
    before = _ok(client.get(f"{API}/units/CARD?as_of=2019-01-01"))
    assert before["parents"] == {} and before["location"] is None


def test_unknown_or_impossible_unit_codes_are_404(model, client):
    for code in ("NOPE", "%00", "a%20b", "x" * 300, "%E4%B8%AD", "%ED%A0%80"):
        _refused(client.get(f"{API}/units/{code}"), 404, "org_not_found")


def test_trees_and_walks_as_of(model, client):
    trees = _ok(client.get(f"{API}/trees"))["items"]
    assert {"admin", "discipline", "cost"} <= {t["code"] for t in trees}
    walk = _ok(client.get(f"{API}/trees/admin/descendants/HOSP?as_of=2021-01-01"))
    assert walk == {"tree": "admin", "unit": "HOSP", "as_of": "2021-01-01",
                    "units": ["MED", "SURG", "CARD", "RESP"]}
    up = _ok(client.get(f"{API}/trees/admin/ancestors/CARD?as_of=2021-01-01"))
    assert up["units"] == ["MED", "HOSP"]
    _refused(client.get(f"{API}/trees/nope/descendants/HOSP"), 404, "org_not_found")
    _refused(client.get(f"{API}/trees/admin/ancestors/NOPE"), 404, "org_not_found")
    _refused(client.get(f"{API}/trees/admin/ancestors/CARD?as_of=0"), 400, "invalid_query")


def test_locations_list_and_create(model, client):
    created = _ok(client.post(f"{API}/locations", json={
        "code": "E-B1-F3-A", "name": {"zh": "A区", "en": "Area A"}, "kind": "area",
        "parent": "E-B1-F3"}), 201)
    assert created["parent"] == "E-B1-F3"
    codes = [loc["code"] for loc in _ok(client.get(f"{API}/locations"))["items"]]
    assert codes == ["E", "E-B1", "E-B1-F3", "E-B1-F3-A"]
    _refused(client.post(f"{API}/locations", json={
        "code": "X", "name": {"zh": "X", "en": "X"}, "kind": "area", "parent": "nowhere"}),
        404, "org_not_found")
    _refused(client.post(f"{API}/locations", json={
        "code": "E", "name": {"zh": "X", "en": "X"}, "kind": "campus"}), 409, "conflict")
    _refused(client.post(f"{API}/locations", json={
        "code": "Y", "name": {"zh": "Y", "en": "Y"}, "kind": "room"}), 422)
    assert _count(model, location) == 4


def test_heads_above(model, client):
    chain = _ok(client.get(f"{API}/users/nurse/heads-above?tree=admin&as_of=2021-01-01"))
    assert chain == {"user": "nurse", "tree": "admin", "as_of": "2021-01-01",
                     "heads": [{"unit": "CARD", "user": "dr_li"},
                               {"unit": "HOSP", "user": "dean"}]}
    _refused(client.get(f"{API}/users/nurse/heads-above"), 400, "invalid_query")
    _refused(client.get(f"{API}/users/dean/heads-above?tree=admin"), 404, "org_not_found")
    _refused(client.get(f"{API}/users/nurse/heads-above?tree=nope"), 404, "org_not_found")


# -- writing ------------------------------------------------------------------------------

def test_create_a_unit_with_location_and_parents(model, client):
    response = client.post(f"{API}/units", json={
        "code": "ICU", "name": {"zh": "重症监护", "en": "ICU"}, "type": "ward",
        "valid_from": "2024-01-01", "location": "E-B1", "parents": {"admin": "MED"}})
    card = _ok(response, 201)
    assert response.headers["Location"].endswith(f"{API}/units/ICU")
    assert (card["as_of"], card["location"], card["parents"]) == (
        "2024-01-01", "E-B1", {"admin": "MED"})
    walk = _ok(client.get(f"{API}/trees/admin/descendants/MED?as_of=2024-01-01"))
    assert walk["units"] == ["CARD", "ICU", "RESP"]


_BAD_UNITS = [
    ({"code": "HOSP", "name": {"zh": "x", "en": "x"}, "type": "ward",
      "valid_from": "2024-01-01"}, 409, None),
    ({"code": "N1", "name": {"zh": "x", "en": "x"}, "type": "ward",
      "valid_from": "2024-01-01", "parents": {"admin": "GHOST"}}, 404, None),
    ({"code": "N1", "name": {"zh": "x", "en": "x"}, "type": "ward",
      "valid_from": "2024-01-01", "location": "nowhere"}, 404, None),
    ({"code": "N1", "name": {"zh": "x", "en": "x"}, "type": "ward",
      "valid_from": "2024-01-01", "valid_to": "2023-01-01"}, 422, None),
    ({"code": "N1", "name": {"zh": "x", "en": "x"}, "type": "ward",
      "valid_from": "2019-01-01", "parents": {"admin": "MED"}}, 404, None),
    ({"code": "bad code", "name": {"zh": "x", "en": "x"}, "type": "ward",
      "valid_from": "2024-01-01"}, 422, "code"),
    ({"code": "N1\n", "name": {"zh": "x", "en": "x"}, "type": "ward",
      "valid_from": "2024-01-01"}, 422, "code"),
    ({"code": "N1", "name": {"zh": "x"}, "type": "ward", "valid_from": "2024-01-01"},
     422, "name.en"),
    ({"code": "N1", "name": {"zh": "x\u0000", "en": "x"}, "type": "ward",
      "valid_from": "2024-01-01"}, 422, "name_zh"),
    ({"code": "N1", "name": {"zh": "\ud800", "en": "x"}, "type": "ward",
      "valid_from": "2024-01-01"}, 422, "name_zh"),
    ({"code": "N1", "name": {"zh": "x" * 201, "en": "x"}, "type": "ward",
      "valid_from": "2024-01-01"}, 422, "name.zh"),
    ({"code": "N1", "name": "x", "type": "ward", "valid_from": "2024-01-01"}, 422, "name"),
    ({"code": "N1", "name": {"zh": "x", "en": "x"}, "type": "lab",
      "valid_from": "2024-01-01"}, 422, "type"),
    ({"code": "N1", "name": {"zh": "x", "en": "x"}, "type": "ward",
      "valid_from": "2024-02-30"}, 422, "valid_from"),
    ({"code": "N1", "name": {"zh": "x", "en": "x"}, "type": "ward",
      "valid_from": 20240101}, 422, "valid_from"),
    ({"code": "N1", "name": {"zh": "x", "en": "x"}, "type": "ward",
      "valid_from": "2024-01-01", "parents": ["admin"]}, 422, "parents"),
    ({"code": "N1", "name": {"zh": "x", "en": "x"}, "type": "ward",
      "valid_from": "2024-01-01", "parents": {"admin": 7}}, 422, "parents.admin"),
    ({"code": 5, "name": {"zh": "x", "en": "x"}, "type": "ward",
      "valid_from": "2024-01-01"}, 422, "code"),
    ({"code": "N1", "name": {"zh": "x", "en": "x"}, "type": "ward",
      "valid_from": "2024-01-01", "parent": "MED"}, 422, "parent"),
]


def test_bad_units_are_refused_with_located_errors(model, client):
    for body, status, path in _BAD_UNITS:
        # json.dumps escapes a lone surrogate as \ud800, as a hostile client would
        response = client.post(f"{API}/units", data=json.dumps(body),
                               content_type="application/json")
        error = _refused(response, status)
        if path is not None:
            assert path in error["details"]["fields"], (body, error)
    assert _count(model, org_unit) == 5 and _count(model, org_edge) == 4


def test_bodies_that_are_not_json_objects_are_400(model, client):
    for data, content_type in (("[1, 2]", "application/json"), ("{", "application/json"),
                               ("code=x", "application/x-www-form-urlencoded"),
                               ("null", "application/json"), ("", "application/json")):
        _refused(client.post(f"{API}/merge", data=data, content_type=content_type), 400)


def test_rename_a_unit_but_never_its_code(model, client):
    unit = _ok(client.patch(f"{API}/units/MED", json={"name": {"en": "Internal medicine"},
                                                     "type": "group"}))
    assert unit == {"code": "MED", "name": {"zh": "MED中文", "en": "Internal medicine"},
                    "type": "group", "valid_from": "2020-01-01", "valid_to": None}
    assert _ok(client.patch(f"{API}/units/MED", json={}))["type"] == "group"
    _refused(client.patch(f"{API}/units/MED", json={"code": "MED2"}), 422)
    _refused(client.patch(f"{API}/units/MED", json={"name": {"en": ""}}), 422)
    _refused(client.patch(f"{API}/units/NOPE", json={"type": "ward"}), 404)


def test_create_a_temporary_tree(model, client):
    tree = _ok(client.post(f"{API}/trees", json={
        "code": "covid", "name": {"zh": "应急指挥", "en": "Emergency command"},
        "kind": "temporary", "valid_from": "2026-01-01", "valid_to": "2026-07-01"}), 201)
    assert tree["valid_to"] == "2026-07-01"
    _refused(client.post(f"{API}/trees", json={
        "code": "covid", "name": {"zh": "x", "en": "x"}, "kind": "temporary",
        "valid_from": "2026-01-01"}), 409, "conflict")
    _refused(client.post(f"{API}/trees", json={
        "code": "t2", "name": {"zh": "x", "en": "x"}, "kind": "forest",
        "valid_from": "2026-01-01"}), 422)
    _refused(client.post(f"{API}/trees", json={
        "code": "t2", "name": {"zh": "x", "en": "x"}, "kind": "temporary",
        "valid_from": "2026-01-01", "valid_to": "2025-01-01"}), 422)


def test_reparent_from_a_date(model, client):
    change = _ok(client.post(f"{API}/trees/admin/reparent", json={
        "unit": "CARD", "parent": "SURG", "on": "2026-06-01"}))
    assert change == {"on": "2026-06-01", "units": ["CARD"], "closed": []}
    before = _ok(client.get(f"{API}/trees/admin/ancestors/CARD?as_of=2026-05-31"))
    after = _ok(client.get(f"{API}/trees/admin/ancestors/CARD?as_of=2026-06-01"))
    assert (before["units"], after["units"]) == (["MED", "HOSP"], ["SURG", "HOSP"])
    _refused(client.post(f"{API}/trees/admin/reparent", json={
        "unit": "MED", "parent": "RESP", "on": "2026-06-01"}), 409, "org_cycle")
    _refused(client.post(f"{API}/trees/admin/reparent", json={
        "unit": "MED", "parent": "MED", "on": "2026-06-01"}), 409, "org_cycle")
    _refused(client.post(f"{API}/trees/nope/reparent", json={
        "unit": "MED", "parent": "SURG", "on": "2026-06-01"}), 404)
    _refused(client.post(f"{API}/trees/admin/reparent", json={
        "unit": "MED", "parent": "SURG"}), 422)


def test_org_changes_are_audited_and_refusals_are_not(model, client):
    _ok(client.post(f"{API}/trees/admin/reparent", json={
        "unit": "CARD", "parent": "SURG", "on": "2026-06-01"}))
    _refused(client.post(f"{API}/trees/admin/reparent", json={
        "unit": "MED", "parent": "MED", "on": "2026-06-01"}), 409, "org_cycle")
    events = client.get("/api/v1/audit?kind=org.change").get_json()["items"]
    assert len(events) == 1
    assert events[0]["detail"]["path"] == "/api/v1/org/trees/admin/reparent"
    assert '"parent": "SURG"' in events[0]["detail"]["body"]
    assert events[0]["actor"] == "admin"


def test_split_and_its_refusals(model, client):
    body = {"into": [{"code": "CARD-A", "name": {"zh": "心一", "en": "Card A"}, "type": "ward"},
                     {"code": "CARD-B", "name": {"zh": "心二", "en": "Card B"}, "type": "ward"}],
            "on": "2026-06-01", "reassign": {}}
    error = _refused(client.post(f"{API}/units/CARD/split", json=body), 422)
    assert error["details"]["missing"] == ["nurse"]
    _refused(client.post(f"{API}/units/CARD/split", json={**body, "into": []}), 422)
    _refused(client.post(f"{API}/units/CARD/split", json={
        **body, "reassign": {"nurse": "ELSEWHERE"}}), 422)
    _refused(client.post(f"{API}/units/CARD/split", json={
        **body, "into": [{**body["into"][0], "code": "MED"}], "reassign": {"nurse": "MED"}}),
        409)
    assert _count(model, org_unit) == 5
    change = _ok(client.post(f"{API}/units/CARD/split", json={
        **body, "reassign": {"nurse": "CARD-B"}}))
    assert change == {"on": "2026-06-01", "units": ["CARD-A", "CARD-B"], "closed": ["CARD"]}
    card = _ok(client.get(f"{API}/units/CARD-B?as_of=2026-06-01"))
    assert card["parents"] == {"admin": "MED"} and card["location"] == "E-B1-F3"
    assert [m["user"] for m in card["members"]] == ["nurse"]
    assert _ok(client.get(f"{API}/units/CARD?as_of=2026-06-01"))["members"] == []


def test_merge_into_an_existing_or_a_new_unit(model, client):
    _refused(client.post(f"{API}/merge", json={"units": ["CARD"], "on": "2026-06-01"}), 422)
    error = _refused(client.post(f"{API}/merge", json={
        "units": ["CARD"] * 101, "into": "RESP", "on": "2026-06-01"}), 422)
    assert error["details"]["fields"]["units"][0]["message"]["en"] == "needs 1 to 100 item(s)"
    _refused(client.post(f"{API}/merge", json={
        "units": ["CARD"], "into": "RESP", "into_new": {"code": "X", "name": {
            "zh": "x", "en": "x"}, "type": "ward"}, "on": "2026-06-01"}), 422)
    _refused(client.post(f"{API}/merge", json={
        "units": ["MED"], "into": "CARD", "on": "2026-06-01"}), 409, "org_cycle")
    change = _ok(client.post(f"{API}/merge", json={
        "units": ["CARD", "RESP"], "into": "RESP", "on": "2026-06-01"}))
    assert change == {"on": "2026-06-01", "units": ["RESP"], "closed": ["CARD"]}
    assert _ok(client.get(f"{API}/units/RESP?as_of=2026-06-01"))["members"][0]["user"] == \
        "nurse"
    change = _ok(client.post(f"{API}/merge", json={
        "units": ["RESP", "SURG"], "on": "2026-07-01", "into_new": {
            "code": "GEN", "name": {"zh": "综合", "en": "General"}, "type": "department"}}))
    assert change["closed"] == ["RESP", "SURG"]
    # a new unit takes the parents of the first unit merged (RESP, under MED)
    walk = _ok(client.get(f"{API}/trees/admin/descendants/HOSP?as_of=2026-07-01"))
    assert walk["units"] == ["MED", "GEN"]


def test_move_head_and_assign(model, client):
    _ok(client.post(f"{API}/units/CARD/location", json={"location": "E", "on": "2026-06-01"}))
    assert _ok(client.get(f"{API}/units/CARD?as_of=2026-06-01"))["location"] == "E"
    assert _ok(client.get(f"{API}/units/CARD?as_of=2026-05-01"))["location"] == "E-B1-F3"
    _refused(client.post(f"{API}/units/CARD/location", json={
        "location": "nowhere", "on": "2026-06-01"}), 404)
    _ok(client.post(f"{API}/units/MED/head", json={"user": "dr_li", "on": "2026-06-01"}))
    _refused(client.post(f"{API}/units/MED/head", json={"user": "ghost", "on": "2026-06-01"}),
             404, "not_found")
    _refused(client.post(f"{API}/units/MED/head", json={"user": "a b", "on": "2026-06-01"}),
             422)
    response = client.post(f"{API}/assignments", json={
        "user": "dr_li", "unit": "CARD", "on": "2026-06-01"})
    assert _ok(response, 201)["units"] == ["CARD"]
    chain = _ok(client.get(f"{API}/users/dr_li/heads-above?tree=admin&as_of=2026-06-01"))
    assert chain["heads"] == [{"unit": "HOSP", "user": "dean"}]  # never the user himself
    _refused(client.post(f"{API}/assignments", json={
        "user": "dr_li", "unit": "SURG", "on": "2026-07-01"}), 409, "org_overlap")
    _refused(client.post(f"{API}/assignments", json={
        "user": "dr_li", "unit": "SURG", "primary": "yes", "on": "2026-07-01"}), 422)
    _refused(client.post(f"{API}/assignments", json={
        "user": "ghost", "unit": "SURG", "on": "2026-07-01"}), 404)
    ok = client.post(f"{API}/assignments", json={
        "user": "dr_li", "unit": "SURG", "primary": False, "on": "2026-07-01"})
    assert ok.status_code == 201
    assert _count(model, org_assignment) == 3 and _count(model, org_head) == 3


_WRITES = [
    ("post", "/units", {"code": "N1", "name": {"zh": "x", "en": "x"}, "type": "ward",
                        "valid_from": "2024-01-01"}),
    ("patch", "/units/MED", {"type": "group"}),
    ("post", "/trees", {"code": "t", "name": {"zh": "x", "en": "x"}, "kind": "temporary",
                        "valid_from": "2026-01-01"}),
    ("post", "/trees/admin/reparent", {"unit": "CARD", "parent": "SURG", "on": "2026-06-01"}),
    ("post", "/units/CARD/location", {"location": "E", "on": "2026-06-01"}),
    ("post", "/units/CARD/head", {"user": "nurse", "on": "2026-06-01"}),
    ("post", "/assignments", {"user": "dean", "unit": "CARD", "on": "2026-06-01"}),
    ("post", "/merge", {"units": ["CARD"], "into": "RESP", "on": "2026-06-01"}),
    ("post", "/units/RESP/split", {"into": [{"code": "R2", "name": {"zh": "x", "en": "x"},
                                             "type": "ward"}], "on": "2026-06-01"}),
    ("post", "/locations", {"code": "L", "name": {"zh": "x", "en": "x"}, "kind": "campus"}),
]


def test_writing_needs_manage_users(model, clerk):
    before = {t.name: _count(model, t) for t in (org_unit, org_edge, org_head, location)}
    for method, path, body in _WRITES:
        error = _refused(getattr(clerk, method)(f"{API}{path}", json=body), 403,
                         "permission_denied")
        assert error["details"]["action"] == "manage_users"
    # a bad body from a user who may not write is still only a 403
    _refused(clerk.post(f"{API}/units", json={"junk": 1}), 403)
    assert {t.name: _count(model, t) for t in (org_unit, org_edge, org_head, location)} == \
        before


# -- the OpenAPI description ------------------------------------------------------------

def _document() -> dict:
    """The org paths rendered the way the API's document renders formula paths."""
    spec = APISpec(title="org", version="1", openapi_version="3.1.0",
                   plugins=[MarshmallowPlugin()])
    for status in ("400", "403", "404", "409", "413", "422"):
        spec.components.response(f"Error{status}", {"description": status})
    for name, schema in ORG_SCHEMAS.items():
        spec.components.schema(name, schema=schema)
    for path, operations in ORG_PATHS.items():
        spec.path(path, operations=operations)
    return {**spec.to_dict(), "$id": "urn:org"}


def _validator(document: dict, path: str, method: str, status: str):
    content = document["paths"][path][method]["responses"][status]["content"]
    schema = content["application/json"]["schema"]
    registry = Registry().with_resource("urn:org", Resource.from_contents(
        document, default_specification=DRAFT202012))
    ref = {"$ref": "urn:org" + schema["$ref"]} if "$ref" in schema else schema
    return Draft202012Validator(ref, registry=registry, format_checker=FormatChecker())


def test_responses_match_the_openapi_description(model, client):
    document = _document()
    assert all(name.startswith(("Org", "Location", "Reparent", "Split", "Merge", "Move",
                                "Head", "Assignment", "NewOrg"))
               for name in document["components"]["schemas"]), document["components"]
    calls = [
        ("get", "/units", f"{API}/units?type=ward", None, "200"),
        ("get", "/units/{code}", f"{API}/units/CARD", None, "200"),
        ("post", "/units", f"{API}/units", {
            "code": "ICU", "name": {"zh": "重症", "en": "ICU"}, "type": "ward",
            "valid_from": "2024-01-01", "parents": {"admin": "MED"}}, "201"),
        ("patch", "/units/{code}", f"{API}/units/ICU", {"type": "team"}, "200"),
        ("get", "/trees", f"{API}/trees", None, "200"),
        ("post", "/trees", f"{API}/trees", {
            "code": "t", "name": {"zh": "临时", "en": "Temporary"}, "kind": "temporary",
            "valid_from": "2026-01-01"}, "201"),
        ("get", "/trees/{tree}/descendants/{unit}", f"{API}/trees/admin/descendants/HOSP",
         None, "200"),
        ("get", "/trees/{tree}/ancestors/{unit}", f"{API}/trees/admin/ancestors/CARD", None,
         "200"),
        ("post", "/trees/{tree}/reparent", f"{API}/trees/admin/reparent", {
            "unit": "ICU", "parent": "SURG", "on": "2026-02-01"}, "200"),
        ("get", "/locations", f"{API}/locations", None, "200"),
        ("post", "/locations", f"{API}/locations", {
            "code": "W", "name": {"zh": "西院", "en": "West"}, "kind": "campus"}, "201"),
        ("post", "/units/{code}/location", f"{API}/units/ICU/location", {
            "location": "W", "on": "2026-02-01"}, "200"),
        ("post", "/units/{code}/head", f"{API}/units/ICU/head", {
            "user": "dean", "on": "2026-02-01"}, "200"),
        ("post", "/assignments", f"{API}/assignments", {
            "user": "dean", "unit": "HOSP", "on": "2026-02-01"}, "201"),
        ("get", "/users/{user}/heads-above", f"{API}/users/nurse/heads-above?tree=admin",
         None, "200"),
        ("post", "/units/{code}/split", f"{API}/units/ICU/split", {
            "into": [{"code": "ICU-A", "name": {"zh": "甲", "en": "A"}, "type": "ward"}],
            "on": "2026-03-01"}, "200"),
        ("post", "/merge", f"{API}/merge", {
            "units": ["ICU-A"], "into": "RESP", "on": "2026-04-01"}, "200"),
    ]
    assert {(m, p) for m, p, *_ in calls} == {
        (m, p[len(API):]) for p, ops in ORG_PATHS.items() for m in ops}
    for method, path, url, body, status in calls:
        response = getattr(client, method)(url, json=body) if body is not None else \
            getattr(client, method)(url)
        assert str(response.status_code) == status, (url, response.get_json())
        errors = list(_validator(document, API + path, method, status).iter_errors(
            response.get_json()))
        assert errors == [], (url, [e.message for e in errors])
