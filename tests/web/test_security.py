"""Authentication and CSRF at the HTTP edge: every /api/v1 route needs a
user; cookie-authenticated writes need the CSRF token; tokens do not."""

from __future__ import annotations

import io

from sqlalchemy import func, select

from yunying.app import services
from yunying.platform.tables import web_session
from yunying.runtime.api.auth import PUBLIC_ENDPOINTS
from web_helpers import ADMIN, ITEM, REQUISITION, SESSION_URL, AuthActions, error_of

REQS = f"/api/v1/records/{REQUISITION}"
_IGNORED = {"HEAD", "OPTIONS"}


def _api_routes(app) -> list[tuple[str, str, str]]:
    """(endpoint, method, url) of every /api/v1 route, arguments filled in."""
    adapter = app.url_map.bind("localhost")
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1"):
            continue
        for method in sorted(rule.methods - _IGNORED):
            url = adapter.build(rule.endpoint, {name: 1 for name in rule.arguments},
                                method=method)
            found.append((rule.endpoint, method, url))
    return found


def _sessions(app) -> int:
    with services(app).db.connect() as conn:
        return conn.execute(select(func.count()).select_from(web_session)).scalar_one()


def _requisition(item_ids) -> dict:
    return {"department": "0301", "lines": [{"item": item_ids["WS-0001"], "quantity": "2"}]}


def test_every_api_route_but_the_public_ones_is_401_without_credentials(app, anon_client):
    routes = _api_routes(app)
    protected = [r for r in routes if r[0] not in PUBLIC_ENDPOINTS]
    assert {r[0].split(".")[0] for r in protected} >= {
        "records", "meta", "attachments", "formula", "tokens"}
    assert {r[0] for r in routes} >= PUBLIC_ENDPOINTS
    for endpoint, method, url in protected:
        response = anon_client.open(url, method=method, json={})
        assert response.status_code == 401, (endpoint, method, url, response.status_code)
        assert error_of(response)["code"] == "authentication_required"
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="yunying"'


def test_unknown_api_paths_are_401_before_404(anon_client, client):
    assert anon_client.get("/api/v1/nothing/here").status_code == 401
    assert client.get("/api/v1/nothing/here").status_code == 404


def test_public_endpoints_answer_anonymously(anon_client):
    assert anon_client.get(SESSION_URL).status_code == 200
    assert anon_client.get("/api/v1/openapi.json").status_code == 200
    assert anon_client.get("/login").status_code == 200
    # the staff UI's pages send nobody to the login page instead of a 401
    home = anon_client.get("/")
    assert home.status_code == 302 and home.headers["Location"].startswith("/login")


def test_an_invalid_token_is_401_everywhere_and_never_falls_back_to_the_cookie(app, auth):
    auth.login()
    client = auth.client
    for url in (f"/api/v1/records/{ITEM}", SESSION_URL, "/api/v1/openapi.json"):
        response = client.get(url, headers={"Authorization": "Bearer yyt_forged"})
        assert response.status_code == 401
        assert error_of(response)["code"] == "invalid_token"
        assert response.headers["WWW-Authenticate"] == \
            'Bearer realm="yunying", error="invalid_token"'
    assert client.get(f"/api/v1/records/{ITEM}").status_code == 200


def test_other_authorization_schemes_are_ignored(auth, anon_client):
    basic = {"Authorization": "Basic YWRtaW46YWRtaW4="}  # e.g. from a proxy in front
    assert anon_client.get(f"/api/v1/records/{ITEM}", headers=basic).status_code == 401
    auth.login()
    assert auth.client.get(f"/api/v1/records/{ITEM}", headers=basic).status_code == 200


# ---------------------------------------------------------------- CSRF

def test_a_cookie_write_without_the_csrf_token_is_refused_and_writes_nothing(
        auth, item_ids, count_rows):
    auth.login()
    before = count_rows("materials_requisition")
    for headers in ({}, {"X-CSRFToken": "garbage"}, {"X-CSRFToken": ""}):
        response = auth.client.post(REQS, json=_requisition(item_ids), headers=headers)
        assert response.status_code == 403
        error = error_of(response)
        assert error["code"] == "csrf_failed"
        assert "X-CSRFToken" in error["messages"]["en"]
    assert count_rows("materials_requisition") == before
    created = auth.client.post(REQS, json=_requisition(item_ids), headers=auth.headers())
    assert created.status_code == 201
    assert created.get_json()["created_by"] == ADMIN
    assert count_rows("materials_requisition") == before + 1


def test_update_and_delete_need_the_csrf_token_too(auth, item_ids):
    auth.login()
    record = auth.client.post(REQS, json=_requisition(item_ids),
                              headers=auth.headers()).get_json()
    url = f"{REQS}/{record['id']}"
    change = {"version": record["version"], "reason": "changed"}
    assert auth.client.patch(url, json=change).status_code == 403
    assert auth.client.delete(url).status_code == 403
    unchanged = auth.client.get(url).get_json()
    assert unchanged["version"] == record["version"] and unchanged["reason"] == record["reason"]
    assert auth.client.patch(url, json=change, headers=auth.headers()).status_code == 200
    assert auth.client.delete(url, headers=auth.headers()).status_code == 204


def test_a_csrf_token_of_another_session_or_from_before_login_is_refused(
        app, auth, item_ids):
    before_login = auth.csrf_token()
    auth.login()
    other = AuthActions(app.test_client())
    other.login()
    for token in (before_login, other.csrf):
        response = auth.client.post(REQS, json=_requisition(item_ids),
                                    headers={"X-CSRFToken": token})
        assert response.status_code == 403
        assert error_of(response)["code"] == "csrf_failed"


def test_the_csrf_token_may_come_as_a_form_field(auth):
    auth.login()
    upload = {"file": (io.BytesIO(b"scan"), "a.txt", "text/plain")}
    refused = auth.client.post("/api/v1/attachments", data=upload,
                               content_type="multipart/form-data")
    assert refused.status_code == 403
    upload = {"file": (io.BytesIO(b"scan"), "a.txt", "text/plain"), "csrf_token": auth.csrf}
    assert auth.client.post("/api/v1/attachments", data=upload,
                            content_type="multipart/form-data").status_code == 201


def test_token_requests_need_no_csrf_token_even_with_a_cookie(client, item_ids):
    client.get(SESSION_URL)  # an anonymous cookie with a CSRF secret
    response = client.post(REQS, json=_requisition(item_ids))
    assert response.status_code == 201


def test_login_itself_needs_the_csrf_token(app, auth):
    for headers in ({}, {"X-CSRFToken": "garbage"}):
        response = auth.client.post(SESSION_URL, json={"code": ADMIN, "password": "x"},
                                    headers=headers)
        assert response.status_code == 403
        assert error_of(response)["code"] == "csrf_failed"
    assert _sessions(app) == 0
    assert auth.login().status_code == 200 and _sessions(app) == 1


def test_logout_needs_the_csrf_token(auth):
    auth.login()
    assert auth.client.delete(SESSION_URL).status_code == 403
    assert auth.client.get(f"/api/v1/records/{ITEM}").status_code == 200
    assert auth.logout().status_code == 204
    assert auth.client.get(f"/api/v1/records/{ITEM}").status_code == 401


def test_over_https_a_cookie_write_also_needs_a_same_origin_referer(auth, item_ids):
    base = "https://localhost"
    assert auth.login(base_url=base, headers={"Referer": base + "/"}).status_code == 200
    response = auth.client.post(REQS, json=_requisition(item_ids), headers=auth.headers(),
                                base_url=base)
    assert response.status_code == 403
    assert error_of(response)["details"]["reason"] == "The referrer header is missing."
    foreign = {**auth.headers(), "Referer": "https://evil.example/"}
    assert auth.client.post(REQS, json=_requisition(item_ids), headers=foreign,
                            base_url=base).status_code == 403
    same = {**auth.headers(), "Referer": "https://localhost/app"}
    assert auth.client.post(REQS, json=_requisition(item_ids), headers=same,
                            base_url=base).status_code == 201
