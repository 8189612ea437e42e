"""Helpers of the browser tests (imported as a plain module): the live server,
the demo users, the JavaScript-error watch and the page actions every test
repeats (log in, log out, pick from a Tom Select, save a screenshot)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import text
from playwright.sync_api import expect

from yunying.app import services
from yunying.platform import identity
from yunying.platform.access import ANY_DOMAIN, SUPERUSER_ROLE
from yunying.platform.context import Context
from yunying.platform.i18n import Text

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "yunying" / "runtime" / "ui" / "static" / "dist" / "app.js"
ARTIFACTS = Path(os.environ.get("YUNYING_ARTIFACTS") or ROOT / "tests" / "browser" / "artifacts")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]

REQUISITION = "materials.requisition"
ITEM = "materials.item"
#: every demo user (and the two made here) logs in with this password
DEMO_PASSWORD = "Browser-pass-1"
ADMIN = "admin"
#: a user holding no role at all: sees no materials menu, is refused its pages
OUTSIDER = "outsider"
#: li.na requests for CARD-W1 (materials requester in EAST); the head of the
#: unit above her ward, CARD, is zhang.wei — the requisition's first approver
REQUESTER, APPROVER = "li.na", "zhang.wei"
#: the storekeeper, second approver of a requisition
STOREKEEPER = "wang.fang"
#: the demo users the tests sign in as (each password hash costs time)
DEMO_USERS = (REQUESTER, APPROVER, STOREKEEPER)
LOGIN_FAILED_ZH = "账号或密码错误"

_RESOURCE_FAILED = re.compile(r"Failed to load resource: the server responded with a "
                              r"status of (\d{3})")


def prepare_users(app: Flask, ctx: Context) -> None:
    """Give the demo users a known password; add the superuser and the outsider."""
    with services(app).db.begin(write=True) as conn:
        for code in DEMO_USERS:
            identity.set_password(conn, ctx, code, DEMO_PASSWORD)
        identity.create_user(conn, ctx, ADMIN, Text("管理员", "Administrator"), DEMO_PASSWORD)
        services(app).access.grant_role(conn, ctx, ADMIN, SUPERUSER_ROLE, ANY_DOMAIN)
        identity.create_user(conn, ctx, OUTSIDER, Text("局外人", "Outsider"), DEMO_PASSWORD)


@dataclass(frozen=True)
class LiveServer:
    url: str
    app: Flask
    password: str

    def api(self, code: str) -> "ApiSession":
        """A JSON API session of ``code`` (for setting data up, not for asserting UI)."""
        return ApiSession(self.app, code, self.password)


class ApiSession:
    """The JSON API signed in with the session cookie (Flask's test client,
    in-process, over the same database as the live server)."""

    def __init__(self, app: Flask, code: str, password: str) -> None:
        self.client = app.test_client()
        csrf = self.client.get("/api/v1/session").get_json()["csrf_token"]
        answer = self.client.post("/api/v1/session", json={"code": code, "password": password},
                                  headers={"X-CSRFToken": csrf})
        assert answer.status_code == 200, answer.get_data(as_text=True)
        self.csrf = answer.get_json()["csrf_token"]

    def post(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = self.client.post(url, json=body, headers={"X-CSRFToken": self.csrf})
        assert answer.status_code in (200, 201), answer.get_data(as_text=True)
        return answer.get_json()

    def create(self, entity: str, data: dict[str, Any]) -> dict[str, Any]:
        return self.post(f"/api/v1/records/{entity}", data)


@dataclass
class PageWatch:
    """Console errors, uncaught page errors and failed responses of a test's
    pages. HTTP statuses a test expects (a 422 form, a 403 page) are allowed
    with :meth:`allow`; everything else recorded fails the test."""

    errors: list[str] = field(default_factory=list)
    allowed: set[int] = field(default_factory=set)

    def allow(self, *statuses: int) -> None:
        self.allowed.update(statuses)

    def attach(self, page: Any) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))
        page.on("response", self._response)

    def _console(self, message: Any) -> None:
        if message.type != "error":
            return
        failed = _RESOURCE_FAILED.search(message.text)
        if failed and (int(failed.group(1)) in self.allowed
                       or message.location.get("url", "").endswith("/favicon.ico")):
            return  # an expected 4xx page, or the browser's own favicon probe
        self.errors.append(f"console error: {message.text} ({message.location})")

    def _response(self, response: Any) -> None:
        status = response.status
        if status >= 500 or (status >= 400 and "/static/" in response.url):
            self.errors.append(f"HTTP {status} for {response.request.method} {response.url}")

    def assert_clean(self) -> None:
        assert not self.errors, "JavaScript errors on the page:\n" + "\n".join(self.errors)


# -- page actions -----------------------------------------------------------------------

def shot(page: Any, name: str) -> Path:
    """Save a screenshot of the page as an artifact ``<name>.png``."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def fill_login(page: Any, code: str, password: str) -> None:
    page.goto("/login")
    page.locator("input[name=code]").fill(code)
    page.locator("input[name=password]").fill(password)
    page.get_by_test_id("login-submit").click()


def login(page: Any, code: str, password: str = DEMO_PASSWORD) -> None:
    """Sign in through the login page and wait for the page it leads to."""
    fill_login(page, code, password)
    page.wait_for_url(lambda url: "/login" not in url)
    page.get_by_test_id("user-name").wait_for()


def logout(page: Any) -> None:
    """Sign out through the user menu of the top bar."""
    page.get_by_test_id("user-name").click()      # opens the <details> menu
    page.get_by_test_id("logout").click()
    page.get_by_test_id("login-submit").wait_for()


def choose(page: Any, select: Any, query: str, option: str | re.Pattern) -> None:
    """Pick ``option`` (text contained, or a pattern) in a Tom Select built
    over ``select``, typing ``query`` for remote lookups; a plain ``<select>``
    is set directly."""
    wrapper = select.locator("xpath=following-sibling::div[contains(@class,'ts-wrapper')][1]")
    if wrapper.count() == 0:
        select.select_option(label=option)
        return
    wrapper.locator(".ts-control").click()
    if query:
        page.keyboard.type(query)
    wrapper.locator(".ts-dropdown .option", has_text=option).first.click()
    expect(wrapper.locator(".ts-control .item")).to_contain_text(option)
    # leave the control as a user does, by clicking elsewhere: a lookup answer
    # still on its way would otherwise open the list again over the next fields
    page.locator("h1").first.click()
    expect(wrapper.locator(".ts-dropdown")).to_be_hidden()


def control(page: Any, test_id: str) -> Any:
    """The input, select or textarea of ``data-testid=test_id`` (the element
    itself, or the first control inside a field wrapper carrying the id)."""
    marked = page.get_by_test_id(test_id)
    marked.first.wait_for(state="attached")
    tag = marked.first.evaluate("e => e.tagName")
    if tag in ("INPUT", "SELECT", "TEXTAREA"):
        return marked.first
    return marked.first.locator("input:not([type=hidden]), select, textarea").first


def cell_of(control_locator: Any) -> Any:
    """The table cell or field wrapper a control sits in (where its error shows)."""
    return control_locator.locator(
        "xpath=ancestor::*[self::td or @data-field or contains(@class,'field')][1]")


def line_rows(page: Any, child: str) -> Any:
    return page.locator(f"table[data-lines='{child}'] tbody tr[data-line]")


def ensure_lines(page: Any, child: str, count: int) -> None:
    """Click the child's add-line button until the editor shows ``count`` rows."""
    rows = line_rows(page, child)
    while rows.count() < count:
        before = rows.count()
        page.get_by_test_id(f"add-line-{child}").click()
        page.wait_for_function(
            "([sel, n]) => document.querySelectorAll(sel).length > n",
            arg=[f"table[data-lines='{child}'] tbody tr[data-line]", before])


def item_id(app: Flask, code: str) -> int:
    """The id of the catalogue item ``code`` (seeded by the materials package)."""
    with services(app).db.connect() as conn:
        return conn.execute(text("SELECT id FROM materials_item WHERE code = :c"),
                            {"c": code}).scalar_one()


def draft_requisition(server: LiveServer, reason: str, *, quantity: str = "2") -> dict[str, Any]:
    """A draft requisition of li.na for CARD-W1 (one line of WS-0001, created
    through the JSON API) — the starting point of the workflow tests."""
    amount = str((Decimal(quantity) * Decimal("32.50")).quantize(Decimal("0.01")))
    return server.api(REQUESTER).create(REQUISITION, {
        "department": "CARD-W1", "urgency": "normal", "reason": reason,
        "total_amount": amount,
        "lines": [{"item": item_id(server.app, "WS-0001"), "quantity": quantity}]})


def decide(page: Any, opener: Any, action: str, comment: str | None = None) -> None:
    """Open a workflow action's dialog with ``opener`` (a fire-/action- button),
    write the comment and confirm it."""
    opener.click()
    dialog = page.locator("dialog[open]")
    expect(dialog).to_be_visible()
    if comment is not None:
        dialog.locator("textarea[name=comment]").fill(comment)
    dialog.get_by_test_id(f"confirm-{action}").click()
