"""API tokens over HTTP: issued from a session and shown once, listed
without secrets, revocable, expiring; a token never falls back or mints."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from yunying.app import services
from yunying.platform import identity
from yunying.platform.context import utcnow
from yunying.platform.tables import api_token
from web_helpers import (
    ADMIN, INSTALLER, ITEM, SESSION_URL, AuthActions, ensure_user, error_of, token_client,
)

URL = "/api/v1/tokens"
PROTECTED = f"/api/v1/records/{ITEM}"
BOB, BOB_PASSWORD = "bob", "bob-secret-9"


def _issue(auth, **body):
    return auth.client.post(URL, json={"name": "nightly export", **body},
                            headers=auth.headers())


def _bearer(app, token):
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client


@pytest.fixture
def bob(app) -> AuthActions:
    ensure_user(app, BOB, BOB_PASSWORD)
    browser = AuthActions(app.test_client())
    assert browser.login(BOB, BOB_PASSWORD).status_code == 200
    return browser


def test_a_token_is_shown_once_and_then_works(app, auth):
    auth.login()
    response = _issue(auth, expires_in_days=7)
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    issued = response.get_json()
    assert issued["token"].startswith("yyt_") and issued["user"] == ADMIN
    assert issued["prefix"] == issued["token"][:10]
    listed = auth.client.get(URL).get_json()["items"]
    assert [t["id"] for t in listed] == [issued["id"]]
    assert "token" not in listed[0] and issued["token"] not in str(listed)
    assert listed[0]["active"] is True and listed[0]["last_used_at"] is None
    machine = _bearer(app, issued["token"])
    assert machine.get(PROTECTED).status_code == 200
    state = machine.get(SESSION_URL).get_json()
    assert state["via"] == "token" and state["user"]["code"] == ADMIN
    assert auth.client.get(URL).get_json()["items"][0]["last_used_at"] is not None


def test_a_revoked_token_is_refused(app, auth):
    auth.login()
    issued = _issue(auth).get_json()
    machine = _bearer(app, issued["token"])
    assert machine.get(PROTECTED).status_code == 200
    assert auth.client.delete(f"{URL}/{issued['id']}").status_code == 403  # no CSRF token
    assert auth.client.delete(f"{URL}/{issued['id']}", headers=auth.headers()).status_code == 204
    response = machine.get(PROTECTED)
    assert response.status_code == 401
    assert error_of(response)["code"] == "invalid_token"
    assert auth.client.get(URL).get_json()["items"][0]["active"] is False


def test_an_expired_token_is_refused(app, auth):
    auth.login()
    issued = _issue(auth, expires_in_days=1).get_json()
    machine = _bearer(app, issued["token"])
    assert machine.get(PROTECTED).status_code == 200
    with services(app).db.begin(write=True) as conn:
        conn.execute(update(api_token).where(api_token.c.id == issued["id"])
                     .values(expires_at=utcnow() - timedelta(seconds=1)))
    assert machine.get(PROTECTED).status_code == 401
    assert auth.client.get(URL).get_json()["items"][0]["active"] is False


def test_the_token_of_a_deactivated_user_is_refused(app, bob):
    issued = _issue(bob).get_json()
    machine = _bearer(app, issued["token"])
    assert machine.get(SESSION_URL).get_json()["user"]["code"] == BOB
    with services(app).db.begin(write=True) as conn:
        identity.set_active(conn, INSTALLER, BOB, False)
    assert machine.get(SESSION_URL).status_code == 401


def test_a_token_cannot_issue_tokens(client):
    response = client.post(URL, json={"name": "successor"})
    assert response.status_code == 403
    assert error_of(response)["code"] == "session_required"


@pytest.mark.parametrize("body, parameter", [
    ({"expires_in_days": 0}, "expires_in_days"),
    ({"expires_in_days": 3651}, "expires_in_days"),
    ({"expires_in_days": "7"}, "expires_in_days"),
    ({"expires_in_days": True}, "expires_in_days"),
    ({"expires_in_days": 1.5}, "expires_in_days"),
    ({"name": None}, "name"),
    ({"scope": "all"}, "scope"),
])
def test_bad_issue_bodies_are_400(auth, body, parameter):
    auth.login()
    response = _issue(auth, **body)
    assert response.status_code == 400
    assert error_of(response)["details"]["parameter"] == parameter
    assert auth.client.get(URL).get_json()["items"] == []


def test_an_empty_name_is_a_located_422(auth):
    auth.login()
    response = _issue(auth, name="  ")
    assert response.status_code == 422
    assert "name" in error_of(response)["details"]["fields"]


def test_users_see_and_revoke_only_their_own_tokens(app, auth, bob):
    auth.login()
    mine = _issue(auth).get_json()
    theirs = _issue(bob).get_json()
    assert [t["id"] for t in bob.client.get(URL).get_json()["items"]] == [theirs["id"]]
    refused = bob.client.get(f"{URL}?user={ADMIN}")
    assert refused.status_code == 403
    missing = bob.client.delete(f"{URL}/{mine['id']}", headers=bob.headers())
    absent = bob.client.delete(f"{URL}/999999", headers=bob.headers())
    assert missing.status_code == absent.status_code == 404
    assert error_of(missing)["messages"]["en"] == f"API token {mine['id']} not found"
    assert _bearer(app, mine["token"]).get(SESSION_URL).get_json()["authenticated"] is True


def test_an_administrator_sees_and_revokes_anyones_tokens(app, auth, bob):
    auth.login()
    theirs = _issue(bob).get_json()
    listed = auth.client.get(f"{URL}?user={BOB}").get_json()["items"]
    assert [t["id"] for t in listed] == [theirs["id"]]
    assert auth.client.delete(f"{URL}/{theirs['id']}", headers=auth.headers()).status_code == 204
    assert _bearer(app, theirs["token"]).get(SESSION_URL).status_code == 401


def test_a_huge_token_id_is_404_not_500(client):
    assert client.delete(f"{URL}/{2 ** 70}").status_code == 404


def test_the_token_client_fixture_is_the_superuser(app):
    client = token_client(app)
    state = client.get(SESSION_URL).get_json()
    assert state["via"] == "token" and state["superuser"] is True
