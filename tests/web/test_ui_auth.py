"""The staff UI's sign-in, sign-out, language switch and password change,
through the forms a person uses (Flask test client, session cookie, CSRF)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from yunying.app import services
from yunying.platform.tables import audit_event, web_session
from web_helpers import ADMIN, ADMIN_PASSWORD, ensure_user, make_app
from ui_helpers import LOGIN_URL, csrf_of, page_text, ui_client, ui_login

BOB, BOB_PASSWORD = "bob", "bob-secret-9"


@pytest.fixture
def app(bundled_app):
    """The bundled packages in a database of this test's own (a copy)."""
    return bundled_app


@pytest.fixture
def admin_ready(app):
    ensure_user(app, ADMIN, ADMIN_PASSWORD, superuser=True)
    ensure_user(app, BOB, BOB_PASSWORD)
    return app


def _login_form(client, next_url: str | None = None) -> str:
    response = client.get(LOGIN_URL if next_url is None else f"{LOGIN_URL}?next={next_url}")
    assert response.status_code == 200
    return csrf_of(page_text(response))


def _post_login(client, code: str, password: str, *, next: str | None = None, **kwargs):
    token = _login_form(client)
    data = {"csrf_token": token, "code": code, "password": password}
    if next is not None:
        data["next"] = next
    return client.post(LOGIN_URL, data=data, **kwargs)


def _events(app, action: str) -> list:
    with services(app).db.connect() as conn:
        return conn.execute(select(audit_event).where(audit_event.c.kind == action)
                            .order_by(audit_event.c.id)).all()


# ---------------------------------------------------------------- login

def test_the_login_page_is_an_accessible_form_in_chinese_by_default(admin_ready, anon_client):
    html = page_text(anon_client.get(LOGIN_URL))
    assert '<html lang="zh-CN">' in html
    assert '<label class="field-label" for="code">账号</label>' in html
    assert '<label class="field-label" for="password">密码</label>' in html
    assert 'id="code" name="code"' in html and 'id="password" name="password"' in html
    assert 'class="skip-link" href="#main"' in html
    assert 'data-testid="lang-en"' in html and 'data-testid="lang-zh"' in html
    assert 'name="csrf_token"' in html


def test_login_signs_in_and_goes_home(admin_ready, anon_client):
    response = _post_login(anon_client, ADMIN, ADMIN_PASSWORD)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    home = anon_client.get("/")
    assert home.status_code == 200
    assert 'data-testid="user-name">admin<' in page_text(home)
    [event] = _events(admin_ready, "login.success")
    assert event.actor == ADMIN
    with services(admin_ready).db.connect() as conn:
        assert conn.execute(select(web_session.c.user_code)).scalars().all() == [ADMIN]


def test_login_goes_on_to_next(admin_ready, anon_client):
    token = _login_form(anon_client, "/records/materials.item?page=2")
    response = anon_client.post(LOGIN_URL, data={
        "csrf_token": token, "code": ADMIN, "password": ADMIN_PASSWORD,
        "next": "/records/materials.item?page=2"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/records/materials.item?page=2"


def test_the_next_field_carries_the_asked_page(admin_ready, anon_client):
    html = page_text(anon_client.get(f"{LOGIN_URL}?next=/inbox/pending"))
    assert '<input type="hidden" name="next" value="/inbox/pending">' in html


@pytest.mark.parametrize("target", [
    "https://evil.example/", "//evil.example/x", "/\\evil.example", "\\\\evil.example",
    "javascript:alert(1)", "evil.example", "/\tx",
])
def test_login_never_redirects_off_site(admin_ready, anon_client, target):
    response = _post_login(anon_client, ADMIN, ADMIN_PASSWORD, next=target)
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_a_wrong_password_is_a_401_page_with_the_form_and_one_message(admin_ready, anon_client):
    wrong = _post_login(anon_client, BOB, "not the password")
    unknown = _post_login(anon_client, "nobody", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    for response in (wrong, unknown):
        html = page_text(response)
        assert "登录失败：账号或密码错误，或尝试次数过多，请稍后再试" in html
        assert 'id="password" name="password"' in html  # the form again
    assert 'value="bob"' in page_text(wrong)  # the code is kept, never the password
    assert "not the password" not in page_text(wrong)
    assert [e.detail for e in _events(admin_ready, "login.failure")] == [
        {"code": BOB, "reason": "wrong_password"}, {"code": "nobody", "reason": "unknown_user"}]
    assert anon_client.get("/").status_code == 302  # still nobody


def test_a_failed_login_in_english(admin_ready, anon_client):
    token = _login_form(anon_client)
    response = anon_client.post(f"{LOGIN_URL}?lang=en", data={
        "csrf_token": token, "code": BOB, "password": "nope-nope-nope"})
    assert response.status_code == 401
    html = page_text(response)
    assert '<html lang="en">' in html
    assert "login failed: wrong code or password, or too many attempts" in html


def test_empty_fields_are_422_next_to_the_fields(admin_ready, anon_client):
    response = _post_login(anon_client, "", "")
    assert response.status_code == 422
    html = page_text(response)
    assert '<p class="field-error" id="code-error">必填</p>' in html
    assert '<p class="field-error" id="password-error">必填</p>' in html
    assert 'aria-describedby="code-error"' in html
    assert _events(admin_ready, "login.failure") == []  # nothing was tried


def test_login_without_the_csrf_token_is_a_403_page(admin_ready, anon_client):
    response = anon_client.post(LOGIN_URL, data={"code": ADMIN, "password": ADMIN_PASSWORD})
    assert response.status_code == 403
    html = page_text(response)
    assert response.mimetype == "text/html"
    assert "页面已过期或不是从本系统提交的" in html
    assert anon_client.get("/").status_code == 302


def test_an_address_locked_after_too_many_failures_gets_a_429_page(database_url, tmp_path):
    app = make_app(database_url, tmp_path / "locked", install=False,
                   LOGIN_ADDRESS_MAX_FAILURES=3)
    try:
        ensure_user(app, ADMIN, ADMIN_PASSWORD, superuser=True)
        client = app.test_client()
        guesser = {"REMOTE_ADDR": "10.9.9.9"}
        statuses = [_post_login(client, code, "guess-guess", environ_base=guesser).status_code
                    for code in ("nobody", "admin", "somebody")]
        assert statuses == [401, 401, 429]
        blocked = _post_login(client, ADMIN, ADMIN_PASSWORD, environ_base=guesser)
        assert blocked.status_code == 429
        assert "来自你所在地址的登录失败次数过多" in page_text(blocked)
        other = _post_login(client, ADMIN, ADMIN_PASSWORD,
                            environ_base={"REMOTE_ADDR": "10.9.9.10"})
        assert other.status_code == 302
    finally:
        services(app).close()


def test_the_login_page_of_a_signed_in_user_goes_on(admin_ready):
    client, _ = ui_client(admin_ready)
    response = client.get(f"{LOGIN_URL}?next=/inbox/pending")
    assert response.status_code == 302 and response.headers["Location"] == "/inbox/pending"


def test_a_next_naming_the_login_page_goes_home(admin_ready):
    client, _ = ui_client(admin_ready)
    response = client.get(f"{LOGIN_URL}?next=/login%3Fnext%3D/login")
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_pages_send_nobody_to_the_login_page_and_back(admin_ready, anon_client):
    response = anon_client.get("/password")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/password"
    client, _ = ui_login(anon_client, next="/password")
    assert client.get("/password").status_code == 200


# ---------------------------------------------------------------- logout

def test_logout_ends_the_server_side_session(admin_ready):
    client, token = ui_client(admin_ready)
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    with services(admin_ready).db.connect() as conn:
        [revoked] = conn.execute(select(web_session.c.revoked_at)).scalars().all()
    assert revoked is not None
    assert client.get("/").status_code == 302
    assert "你已退出登录" in page_text(client.get(LOGIN_URL))


def test_logout_needs_the_csrf_token(admin_ready):
    client, _ = ui_client(admin_ready)
    assert client.post("/logout").status_code == 403
    assert client.get("/").status_code == 200  # still signed in


def test_logout_is_post_only(admin_ready):
    client, _ = ui_client(admin_ready)
    response = client.get("/logout")
    assert response.status_code == 405 and "POST" in response.headers["Allow"]
    assert client.get("/").status_code == 200


# ---------------------------------------------------------------- language

def _switch(client, token: str, language: str, next_url: str = "/"):
    return client.post("/language", data={"csrf_token": token, "lang": language,
                                          "next": next_url})


def test_the_language_switch_changes_the_pages_both_ways(admin_ready):
    client, token = ui_client(admin_ready)
    assert "工作台" in page_text(client.get("/"))
    response = _switch(client, token, "en", "/password")
    assert response.status_code == 302 and response.headers["Location"] == "/password"
    english = page_text(client.get("/"))
    assert '<html lang="en">' in english and "Home" in english and "工作台" not in english
    assert "Materials management" in english and 'aria-pressed="true">English' in english
    _switch(client, token, "zh-CN")
    chinese = page_text(client.get("/"))
    assert '<html lang="zh-CN">' in chinese and "工作台" in chinese and "Home" not in chinese


def test_the_language_survives_signing_in_and_out(admin_ready, anon_client):
    token = _login_form(anon_client)
    _switch(anon_client, token, "en")
    assert "Sign in" in page_text(anon_client.get(LOGIN_URL))
    client, token = ui_login(anon_client)
    assert '<html lang="en">' in page_text(client.get("/"))
    client.post("/logout", data={"csrf_token": token})
    assert '<html lang="en">' in page_text(client.get(LOGIN_URL))


def test_the_switch_drops_a_lang_parameter_of_next(admin_ready):
    client, token = ui_client(admin_ready)
    response = _switch(client, token, "en", "/records/materials.item?lang=zh-CN&page=2")
    assert response.headers["Location"] == "/records/materials.item?page=2"


@pytest.mark.parametrize("value", ["fr", "", "EN", "zh-cn"])
def test_an_unknown_language_is_a_400_page(admin_ready, value):
    client, token = ui_client(admin_ready)
    response = _switch(client, token, value)
    assert response.status_code == 400
    assert "不支持的语言" in page_text(response)
    assert "工作台" in page_text(client.get("/"))  # unchanged


def test_the_language_switch_refuses_an_off_site_next(admin_ready):
    client, token = ui_client(admin_ready)
    response = _switch(client, token, "en", "https://evil.example/")
    assert response.headers["Location"] == "/"


# ---------------------------------------------------------------- password

def _change(client, token: str, current: str, new: str, repeat: str | None = None):
    return client.post("/password", data={"csrf_token": token, "current": current,
                                          "new": new, "repeat": new if repeat is None else repeat})


def test_the_password_page_ties_labels_to_inputs(admin_ready):
    client, _ = ui_client(admin_ready, BOB, BOB_PASSWORD)
    html = page_text(client.get("/password"))
    for key in ("current", "new", "repeat"):
        assert f'for="{key}"' in html and f'id="{key}" name="{key}" type="password"' in html
    assert "至少 8 个字符" in html


def test_a_wrong_current_password_is_422_next_to_it_and_counts_as_a_failure(admin_ready):
    client, token = ui_client(admin_ready, BOB, BOB_PASSWORD)
    response = _change(client, token, "not-my-password", "new-secret-42")
    assert response.status_code == 422
    html = page_text(response)
    assert '<p class="field-error" id="current-error">当前密码不正确</p>' in html
    assert [e.detail["reason"] for e in _events(admin_ready, "login.failure")] == [
        "wrong_password"]
    client.post("/logout", data={"csrf_token": csrf_of(page_text(client.get("/")))})
    ui_login(admin_ready.test_client(), BOB, BOB_PASSWORD)  # unchanged


def test_mismatched_new_passwords_are_422_on_the_repeat_field(admin_ready):
    client, token = ui_client(admin_ready, BOB, BOB_PASSWORD)
    response = _change(client, token, BOB_PASSWORD, "new-secret-42", "new-secret-43")
    assert response.status_code == 422
    assert '<p class="field-error" id="repeat-error">两次输入的新密码不一致</p>' in page_text(
        response)
    assert _events(admin_ready, "user.password") == []


def test_a_too_short_password_is_422_with_the_rule_in_english(admin_ready):
    client, token = ui_client(admin_ready, BOB, BOB_PASSWORD)
    _switch(client, token, "en")
    response = _change(client, token, BOB_PASSWORD, "short")
    assert response.status_code == 422
    html = page_text(response)
    assert ('<p class="field-error" id="new-error">password must have at least 8 '
            "characters</p>") in html
    assert 'aria-describedby="new-help new-error"' in html


def test_empty_password_fields_are_required(admin_ready):
    client, token = ui_client(admin_ready, BOB, BOB_PASSWORD)
    response = _change(client, token, "", "", "")
    assert response.status_code == 422
    html = page_text(response)
    for key in ("current", "new", "repeat"):
        assert f'<p class="field-error" id="{key}-error">必填</p>' in html


def test_a_changed_password_signs_in_and_the_old_one_fails(admin_ready):
    elsewhere, _ = ui_client(admin_ready, BOB, BOB_PASSWORD)
    client, token = ui_client(admin_ready, BOB, BOB_PASSWORD)
    response = _change(client, token, BOB_PASSWORD, "new-secret-42")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    home = page_text(client.get("/"))  # this browser stays signed in, with a new session
    assert "密码已修改" in home
    assert elsewhere.get("/").status_code == 302  # the other browser is signed out
    assert len(_events(admin_ready, "user.password")) == 1
    assert _post_login(admin_ready.test_client(), BOB, BOB_PASSWORD).status_code == 401
    ui_login(admin_ready.test_client(), BOB, "new-secret-42")


def test_the_password_form_needs_the_csrf_token(admin_ready):
    client, _ = ui_client(admin_ready, BOB, BOB_PASSWORD)
    response = client.post("/password", data={"current": BOB_PASSWORD, "new": "new-secret-42",
                                              "repeat": "new-secret-42"})
    assert response.status_code == 403
    assert _events(admin_ready, "user.password") == []
