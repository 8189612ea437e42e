"""Signing in, the language switch, what a user without rights sees, and the
keyboard: the login form and a record form filled and sent with Tab / Enter."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from browser_helpers import (
    DEMO_PASSWORD, LOGIN_FAILED_ZH, OUTSIDER, REQUESTER, REQUISITION, fill_login, login, shot,
)

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

NAV_REQUISITION = f"nav-{REQUISITION}"


def _focused(page, predicate: str) -> bool:
    """Whether the focused element ``e`` satisfies the JS ``predicate``."""
    return page.evaluate(
        f"() => {{ const e = document.activeElement; return !!e && ({predicate}); }}")


def tab_to(page, predicate: str, limit: int = 60) -> None:
    """Press Tab until the focused element satisfies the JS ``predicate`` (over ``e``)."""
    for _ in range(limit):
        if _focused(page, predicate):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached an element with {predicate}")


def test_login_refuses_a_wrong_password_then_signs_in(page, watch):
    watch.allow(400, 401, 403, 422)   # the refused login may come back as a 4xx page
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login"))     # nobody signed in yet
    expect(page.locator("label[for]").first).to_be_visible()
    shot(page, "login")
    fill_login(page, REQUESTER, "not-her-password")
    expect(page.get_by_test_id("login-error")).to_contain_text(LOGIN_FAILED_ZH)
    expect(page.get_by_test_id("user-name")).to_have_count(0)

    fill_login(page, REQUESTER, DEMO_PASSWORD)
    expect(page.get_by_test_id("user-name")).to_have_text("李娜")
    expect(page).not_to_have_url(re.compile(r"/login"))
    expect(page.get_by_test_id(NAV_REQUISITION)).to_contain_text("领用申请单")
    shot(page, "home")


def test_language_switch_changes_the_page_text(page):
    login(page, REQUESTER)
    nav = page.get_by_test_id(NAV_REQUISITION)
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(nav).to_contain_text("领用申请单")

    page.get_by_test_id("lang-en").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(nav).to_contain_text("Material requisition")
    expect(page.locator(".sidebar")).to_contain_text("Documents")
    shot(page, "home-en")

    page.goto(f"/records/{REQUISITION}")     # the choice holds across pages
    expect(page.locator("html")).to_have_attribute("lang", "en")

    page.get_by_test_id("lang-zh").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_test_id(NAV_REQUISITION)).to_contain_text("领用申请单")
    expect(page.locator(".sidebar")).to_contain_text("业务单据")


def test_user_without_rights_sees_no_menu_and_gets_403(page, watch):
    watch.allow(403)
    login(page, OUTSIDER)
    expect(page.get_by_test_id("user-name")).to_have_text("局外人")
    expect(page.get_by_test_id(NAV_REQUISITION)).to_have_count(0)
    expect(page.locator("[data-testid^='nav-materials.']")).to_have_count(0)

    response = page.goto(f"/records/{REQUISITION}")
    assert response is not None and response.status == 403
    expect(page.locator(".error-page")).to_be_visible()
    expect(page.get_by_test_id("record-list")).to_have_count(0)
    expect(page.get_by_test_id("user-name")).to_be_visible()     # still in the layout
    shot(page, "error-403")


def test_keyboard_alone_signs_in_and_saves_a_record(page):
    page.goto("/login")
    tab_to(page, "e.name === 'code'")
    page.keyboard.type(REQUESTER)
    page.keyboard.press("Tab")
    assert _focused(page, "e.name === 'password'")
    page.keyboard.type(DEMO_PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("user-name")).to_have_text("李娜")

    page.goto(f"/records/{REQUISITION}/new")
    department = page.locator("[data-field='department']")
    tab_to(page, "!!e.closest(\"[data-field='department']\")")
    page.keyboard.type("心内一")
    expect(department.locator(".ts-dropdown .option", has_text="心内一病区")).to_be_visible()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    expect(department).to_contain_text("心内一病区")
    tab_to(page, "e.name === 'reason'")
    page.keyboard.type("键盘填写的领用单")
    tab_to(page, "e.dataset.testid === 'save'")
    page.keyboard.press("Enter")

    page.wait_for_url(re.compile(rf"/records/{re.escape(REQUISITION)}/\d+$"))
    expect(page.locator("main")).to_contain_text("键盘填写的领用单")
    expect(page.locator("main")).to_contain_text("心内一病区")
