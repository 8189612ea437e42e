"""HTML error pages of the staff UI: the same status as the API's error, in
the page's language, a helpful line per status, never a stack trace; a 401
sends the browser to the login page; machine clients keep the JSON."""

from __future__ import annotations

import logging

import pytest
from werkzeug.exceptions import RequestEntityTooLarge, TooManyRequests, Unauthorized

from yunying.platform.errors import (
    InvalidQuery, NotFound, PermissionDenied, StaleRecord, ValidationFailed,
)
from yunying.platform.i18n import Text
from web_helpers import error_of, token_client
from ui_helpers import page_text, ui_client

MESSAGE = Text("具体的中文说明", "the specific English message")
FIELDS = {"fields": {"lines[0].quantity": [
    {"code": "minimum", "message": {"zh-CN": "数量至少为 0.01", "en": "quantity must be at least 0.01"},
     "params": {}}]}}

#: path → the error its view raises
RAISED = {
    "/oops/bad": InvalidQuery(MESSAGE),
    "/oops/denied": PermissionDenied(MESSAGE),
    "/oops/missing": NotFound(MESSAGE),
    "/oops/stale": StaleRecord(MESSAGE),
    "/oops/large": RequestEntityTooLarge(),
    "/oops/invalid": ValidationFailed(MESSAGE, details=FIELDS),
    "/oops/busy": TooManyRequests(),
    "/oops/crash": RuntimeError("secret internals at line 42"),
    "/oops/unauthorized": Unauthorized(),
}

#: status → (zh title, en title, a piece of the zh hint, a piece of the en hint)
PAGES = {
    400: ("请求有误", "Bad request", "请检查输入", "Check what you entered"),
    403: ("无权访问", "Access denied", "请联系系统管理员为你授权", "contact your administrator"),
    404: ("未找到", "Not found", "请返回首页", "Go back to the home page"),
    405: ("不支持的操作", "Operation not supported", "请从页面上的按钮", "use the buttons and links"),
    409: ("数据冲突", "Conflict", "请刷新页面", "reload the page"),
    413: ("内容过大", "Too large", "超过了允许的大小", "larger than allowed"),
    422: ("无法保存", "Cannot be accepted", "请按下面的提示更正", "correct it as shown below"),
    429: ("请求过于频繁", "Too many requests", "请稍候几分钟再试", "wait a few minutes"),
    500: ("服务器出错", "Server error", "请联系管理员并提供下面的请求编号",
          "contact your administrator with the request id"),
}
URLS = {400: "/oops/bad", 403: "/oops/denied", 404: "/oops/missing", 405: "/logout",
        409: "/oops/stale", 413: "/oops/large", 422: "/oops/invalid", 429: "/oops/busy",
        500: "/oops/crash"}


@pytest.fixture
def app(bundled_app):
    """The bundled packages in a database of this test's own (a copy)."""
    return bundled_app


@pytest.fixture
def oops_app(app):
    """The app with views raising each error (added before any request)."""
    def raiser(error):
        def view():
            raise error
        return view
    for url, error in RAISED.items():
        app.add_url_rule(url, url, raiser(error))
    return app


@pytest.fixture
def browser(oops_app):
    client, token = ui_client(oops_app)
    client.token = token
    return client


def _english(client) -> None:
    response = client.post("/language", data={"csrf_token": client.token, "lang": "en",
                                              "next": "/"})
    assert response.status_code == 302


def test_each_status_has_its_page_in_chinese(browser):
    for status, (zh_title, en_title, zh_hint, _) in PAGES.items():
        response = browser.get(URLS[status], headers={"X-Request-Id": "req-77"})
        assert response.status_code == status
        assert response.mimetype == "text/html"
        html = page_text(response)
        assert f"<h1>{status} · {zh_title}</h1>" in html and zh_hint in html, status
        assert en_title not in html
        assert '<html lang="zh-CN">' in html and 'data-testid="user-name">admin<' in html
        assert 'href="/">返回首页</a>' in html
        assert "Traceback" not in html and "secret internals" not in html


def test_each_status_has_its_page_in_english(browser):
    _english(browser)
    for status, (zh_title, en_title, _, en_hint) in PAGES.items():
        response = browser.get(URLS[status])
        assert response.status_code == status
        html = page_text(response)
        assert f"<h1>{status} · {en_title}</h1>" in html and en_hint in html, status
        assert zh_title not in html and '<html lang="en">' in html


def test_the_error_message_is_shown_in_the_page_language(browser):
    assert "具体的中文说明" in page_text(browser.get("/oops/denied"))
    _english(browser)
    html = page_text(browser.get("/oops/denied"))
    assert "the specific English message" in html and "具体的中文说明" not in html


def test_a_500_page_quotes_the_request_id_and_hides_the_internals(browser, caplog):
    with caplog.at_level(logging.ERROR):
        response = browser.get("/oops/crash", headers={"X-Request-Id": "trace-500"})
    assert response.status_code == 500
    html = page_text(response)
    assert '<code data-testid="request-id">trace-500</code>' in html
    assert response.headers["X-Request-Id"] == "trace-500"
    assert "secret internals" not in html and "RuntimeError" not in html
    assert "secret internals" in caplog.text  # logged for the administrator


def test_a_422_page_lists_the_located_messages(browser):
    html = page_text(browser.get("/oops/invalid"))
    assert "<code>lines[0].quantity</code>：数量至少为 0.01" in html
    _english(browser)
    assert "quantity must be at least 0.01" in page_text(browser.get("/oops/invalid"))


def test_a_405_page_keeps_the_allow_header(browser):
    response = browser.get("/logout")
    assert response.status_code == 405 and "POST" in response.headers["Allow"]


def test_an_unknown_page_is_404_for_nobody_too_with_a_sign_in_link(oops_app):
    client = oops_app.test_client()
    response = client.get("/no/such/page")
    assert response.status_code == 404
    html = page_text(response)
    assert "<h1>404 · 未找到</h1>" in html and 'data-testid="user-name"' not in html
    assert 'href="/login?next=/no/such/page"' in html
    assert 'class="sidebar"' not in html


def test_a_403_page_for_a_restricted_user_is_bilingual(oops_app):
    client, token = ui_client(oops_app, "u.plain", "plain-secret-1", superuser=False)
    html = page_text(client.get("/oops/denied"))
    assert "<h1>403 · 无权访问</h1>" in html and "请联系系统管理员为你授权" in html
    client.post("/language", data={"csrf_token": token, "lang": "en", "next": "/"})
    html = page_text(client.get("/oops/denied"))
    assert "<h1>403 · Access denied</h1>" in html and "contact your administrator" in html


def test_a_401_sends_the_browser_to_the_login_page(oops_app):
    response = oops_app.test_client().get("/oops/unauthorized?x=1")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/oops/unauthorized?x%3D1"


def test_machine_clients_keep_the_json_error(oops_app):
    response = oops_app.test_client().get("/oops/denied",
                                          headers={"Accept": "application/json"})
    assert response.status_code == 403 and error_of(response)["code"] == "permission_denied"
    by_token = token_client(oops_app).get("/oops/missing")
    assert by_token.status_code == 404 and error_of(by_token)["code"] == "not_found"


def test_api_errors_stay_json(oops_app):
    response = oops_app.test_client().get("/api/v1/records/materials.item")
    assert response.status_code == 401 and error_of(response)["code"] == (
        "authentication_required")


def test_a_page_that_cannot_be_rendered_falls_back_to_plain_html(oops_app, browser):
    oops_app.jinja_env.globals["T"] = None  # every layout render now fails
    response = browser.get("/oops/stale")
    assert response.status_code == 409
    html = page_text(response)
    assert "<h1>409 · 数据冲突</h1>" in html and "请刷新页面" in html
