"""Browser sessions over HTTP: login, rotation (no fixation), logout,
expiry, cookie flags, one answer for every failed login, throttling."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from yunying.app import services
from yunying.platform import identity
from yunying.platform.context import utcnow
from yunying.platform.errors import ConfigurationError
from yunying.platform.tables import audit_event, user, web_session
from web_helpers import (
    ADMIN, ADMIN_PASSWORD, INSTALLER, ITEM, SESSION_URL, AuthActions, ensure_user, error_of,
    make_app,
)

COOKIE = "yunying_session"
PROTECTED = f"/api/v1/records/{ITEM}"
BOB, BOB_PASSWORD = "bob", "bob-secret-9"


@pytest.fixture
def make(database_url, tmp_path):
    """Apps with extra config over the test database (packages not installed)."""
    made = []

    def build(**config):
        app = make_app(database_url, tmp_path / f"instance{len(made)}", install=False,
                       **config)
        made.append(app)
        ensure_user(app, ADMIN, ADMIN_PASSWORD, superuser=True)
        return app
    yield build
    for app in made:
        services(app).close()


def _cookie(client) -> str | None:
    found = client.get_cookie(COOKIE)
    return found.value if found is not None else None


def _set_cookie_header(response) -> str:
    [header] = [h for h in response.headers.getlist("Set-Cookie") if h.startswith(COOKIE)]
    return header


def _session_rows(app):
    with services(app).db.connect() as conn:
        return conn.execute(select(web_session).order_by(web_session.c.created_at)).all()


def _age_sessions(app, **values) -> None:
    with services(app).db.begin(write=True) as conn:
        conn.execute(update(web_session).values(**values))


def test_anonymous_state_gives_a_csrf_token_and_a_flagged_cookie(anon_client):
    response = anon_client.get(SESSION_URL)
    body = response.get_json()
    assert body["authenticated"] is False and body["user"] is None and body["via"] is None
    assert body["csrf_token"]
    assert response.headers["Cache-Control"] == "no-store"
    header = _set_cookie_header(response)
    assert "HttpOnly" in header and "SameSite=Lax" in header
    assert "Secure" not in header  # TESTING: plain-HTTP test client


def test_login_signs_the_browser_in_as_the_user(app, auth):
    response = auth.login()
    assert response.status_code == 200
    body = response.get_json()
    assert body["authenticated"] is True and body["via"] == "session"
    assert body["user"] == {"code": ADMIN, "name": {"zh-CN": ADMIN, "en": ADMIN}}
    assert body["superuser"] is True and body["csrf_token"]
    header = _set_cookie_header(response)
    assert "Expires=" in header and "HttpOnly" in header and "SameSite=Lax" in header
    state = auth.client.get(SESSION_URL).get_json()
    assert state["authenticated"] is True and state["user"]["code"] == ADMIN
    assert auth.client.get(PROTECTED).status_code == 200
    [row] = _session_rows(app)
    assert row.user_code == ADMIN and row.address == "127.0.0.1" and row.revoked_at is None


def test_a_cookie_from_before_login_is_not_signed_in_after_it(auth):
    """Session fixation: the pre-login cookie (perhaps planted) stays anonymous."""
    auth.csrf_token()
    planted = _cookie(auth.client)
    assert auth.login().status_code == 200
    assert _cookie(auth.client) != planted
    auth.client.set_cookie(COOKIE, planted)
    assert auth.client.get(PROTECTED).status_code == 401


def test_login_again_rotates_the_session_and_revokes_the_old_one(app, auth):
    auth.login()
    first = _cookie(auth.client)
    auth.login()
    second = _cookie(auth.client)
    assert first != second
    old, new = _session_rows(app)
    assert old.revoked_at is not None and new.revoked_at is None
    auth.client.set_cookie(COOKIE, first)
    assert auth.client.get(PROTECTED).status_code == 401
    auth.client.set_cookie(COOKIE, second)
    assert auth.client.get(PROTECTED).status_code == 200


def test_a_tampered_cookie_is_not_signed_in(auth):
    auth.login()
    payload, *signature = _cookie(auth.client).split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert set(data) >= {"sid", "csrf_token"}
    data["sid"] = data["sid"][:-1] + ("A" if data["sid"][-1] != "A" else "B")
    forged = base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")
    auth.client.set_cookie(COOKIE, ".".join([forged, *signature]))
    assert auth.client.get(PROTECTED).status_code == 401


def test_a_cookie_signed_with_another_secret_key_is_not_signed_in(make):
    first, second = make(), make(SECRET_KEY="another-secret-key")
    browser = AuthActions(first.test_client())
    browser.login()
    stolen = _cookie(browser.client)
    other = second.test_client()
    other.set_cookie(COOKIE, stolen)
    assert other.get(SESSION_URL).get_json()["authenticated"] is False


def test_logout_revokes_the_session_on_the_server(app, auth):
    auth.login()
    copied = _cookie(auth.client)
    response = auth.logout()
    assert response.status_code == 204
    assert "Max-Age=0" in _set_cookie_header(response)
    assert auth.client.get(PROTECTED).status_code == 401
    auth.client.set_cookie(COOKIE, copied)  # a copy kept from before the logout
    assert auth.client.get(PROTECTED).status_code == 401
    [row] = _session_rows(app)
    assert row.revoked_at is not None
    with services(app).db.connect() as conn:
        kinds = list(conn.execute(select(audit_event.c.kind, audit_event.c.actor)
                                  .where(audit_event.c.kind == "logout")))
    assert kinds == [("logout", ADMIN)]


def test_logout_without_a_session_is_harmless(auth):
    assert auth.logout().status_code == 204
    assert auth.logout().status_code == 204


@pytest.mark.parametrize("values", [
    {"expires_at": utcnow() - timedelta(seconds=1)},
    {"last_seen_at": utcnow() - timedelta(hours=3)},   # idle longer than 2 hours
])
def test_an_expired_or_idle_session_is_not_signed_in(app, auth, values):
    auth.login()
    _age_sessions(app, **values)
    assert auth.client.get(PROTECTED).status_code == 401
    assert auth.client.get(SESSION_URL).get_json()["authenticated"] is False


def test_use_slides_the_idle_timeout(app, auth):
    auth.login()
    long_ago = utcnow() - timedelta(minutes=90)
    _age_sessions(app, last_seen_at=long_ago)
    assert auth.client.get(PROTECTED).status_code == 200
    [row] = _session_rows(app)
    assert row.last_seen_at > long_ago + timedelta(minutes=80)


def test_a_new_password_or_deactivation_signs_every_browser_out(app, auth):
    auth.login()
    with services(app).db.begin(write=True) as conn:
        identity.set_password(conn, INSTALLER, ADMIN, "a brand new secret")
    assert auth.client.get(PROTECTED).status_code == 401
    auth.login(password="a brand new secret")
    with services(app).db.begin(write=True) as conn:
        identity.set_active(conn, INSTALLER, ADMIN, False)
    assert auth.client.get(PROTECTED).status_code == 401


# ---------------------------------------------------------------- failures

def _strip(response) -> tuple:
    """What a failed login shows, less the per-request id."""
    headers = sorted((k, v) for k, v in response.headers if k != "X-Request-Id")
    return response.status_code, response.get_data(), headers


def test_every_failed_login_looks_the_same(app):
    ensure_user(app, BOB, BOB_PASSWORD)
    ensure_user(app, "carol", "carol-secret-9")
    with services(app).db.begin(write=True) as conn:
        identity.set_active(conn, INSTALLER, "carol", False)
    outcomes = []
    for code, password in ((BOB, "wrong password"), ("nobody", "wrong password"),
                           ("carol", "carol-secret-9"), ("x" * 200, "wrong password")):
        browser = AuthActions(app.test_client())
        response = browser.login(code, password)
        outcomes.append(_strip(response))
    assert outcomes[0][0] == 403
    body = json.loads(outcomes[0][1])
    assert body["error"]["code"] == "authentication_failed" and body["error"]["details"] == {}
    assert all(outcome == outcomes[0] for outcome in outcomes)


def test_an_account_is_locked_after_five_failures_whatever_the_address(app, auth):
    ensure_user(app, BOB, BOB_PASSWORD)
    for n in range(5):
        response = auth.login(BOB, "wrong password",
                              environ_base={"REMOTE_ADDR": f"10.0.0.{n + 1}"})
        assert response.status_code == 403
    assert auth.login(BOB, BOB_PASSWORD).status_code == 403  # locked, right password
    assert auth.login().status_code == 200  # another account from the same address


def test_an_address_is_locked_after_too_many_failures(make):
    app = make(LOGIN_ADDRESS_MAX_FAILURES=3)
    browser = AuthActions(app.test_client())
    guesser = {"REMOTE_ADDR": "10.9.9.9"}
    for code in ("nobody", "admin", "somebody"):
        assert browser.login(code, "guess", environ_base=guesser).status_code == 403
    assert browser.login(environ_base=guesser).status_code == 403  # right password
    spoofed = {"X-Forwarded-For": "10.9.9.10"}  # not trusted: no proxy configured
    assert browser.login(environ_base=guesser, headers=spoofed).status_code == 403
    assert browser.login(environ_base={"REMOTE_ADDR": "10.9.9.10"}).status_code == 200


def test_behind_a_configured_proxy_the_forwarded_address_counts(make):
    app = make(LOGIN_ADDRESS_MAX_FAILURES=3, PROXY_COUNT=1)
    browser = AuthActions(app.test_client())
    proxy = {"REMOTE_ADDR": "10.0.0.254"}
    for code in ("nobody", "admin", "somebody"):
        response = browser.login(code, "guess", environ_base=proxy,
                                 headers={"X-Forwarded-For": "192.0.2.1"})
        assert response.status_code == 403
    assert browser.login(environ_base=proxy,
                         headers={"X-Forwarded-For": "192.0.2.1"}).status_code == 403
    assert browser.login(environ_base=proxy,
                         headers={"X-Forwarded-For": "192.0.2.2"}).status_code == 200
    assert _session_rows(app)[0].address == "192.0.2.2"


@pytest.mark.parametrize("body, parameter", [
    ({"code": ADMIN}, "password"),
    ({"password": "x"}, "code"),
    ({"code": 1, "password": "x"}, "code"),
    ({"code": ADMIN, "password": ["x"]}, "password"),
    ({"code": ADMIN, "password": "x", "remember": True}, "remember"),
    ('{"code": "admin", "password": "\\ud800"}', "password"),  # a lone surrogate
])
def test_malformed_login_bodies_are_400_naming_the_parameter(auth, body, parameter):
    data = body if isinstance(body, str) else json.dumps(body)
    response = auth.client.post(SESSION_URL, data=data, content_type="application/json",
                                headers=auth.headers())
    assert response.status_code == 400
    assert error_of(response)["details"]["parameter"] == parameter


# ---------------------------------------------------------------- cookie flags

@pytest.mark.parametrize("config, secure", [
    ({"TESTING": False}, True),                                   # the default
    ({"TESTING": False, "SESSION_COOKIE_SECURE": False}, False),  # plain-HTTP deployment
    ({"SESSION_COOKIE_SECURE": True}, True),
    ({}, False),                                                  # testing
])
def test_the_secure_flag(make, config, secure):
    app = make(**config)
    response = app.test_client().get(SESSION_URL, base_url="https://localhost")
    header = _set_cookie_header(response)
    assert ("; Secure" in header) is secure
    assert "HttpOnly" in header and "SameSite=Lax" in header


@pytest.mark.parametrize("key, value", [
    ("SESSION_LIFETIME_MINUTES", "long"), ("SESSION_IDLE_MINUTES", 0),
    ("LOGIN_ADDRESS_MAX_FAILURES", True), ("PROXY_COUNT", -1),
])
def test_bad_security_settings_are_refused_at_start(make, key, value):
    with pytest.raises(ConfigurationError) as caught:
        make(**{key: value})
    assert key in caught.value.message.en and key in caught.value.message.zh


def test_the_session_knows_its_user_even_when_renamed_data_changes(app, auth):
    """The session is keyed by the user code, the identity (names are display)."""
    auth.login()
    with services(app).db.begin(write=True) as conn:
        conn.execute(update(user).where(user.c.code == ADMIN).values(name_en="Renamed"))
    state = auth.client.get(SESSION_URL).get_json()
    assert state["user"] == {"code": ADMIN, "name": {"zh-CN": ADMIN, "en": "Renamed"}}


def test_a_user_without_roles_is_signed_in_but_no_superuser(app, auth):
    ensure_user(app, BOB, BOB_PASSWORD)
    assert auth.login(BOB, BOB_PASSWORD).get_json()["superuser"] is False
    state = auth.client.get(SESSION_URL).get_json()
    assert state["user"]["code"] == BOB and state["via"] == "session"
