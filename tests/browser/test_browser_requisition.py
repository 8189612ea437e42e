"""The generated record form in a real browser: a materials requisition with
two lines through the line editor (a located line error, fixed, saved), the
conditional field ``urgent_reason`` and the live computed line amount."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from browser_helpers import (
    REQUESTER, REQUISITION, cell_of, choose, control, ensure_lines, line_rows, login, shot,
)

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

NEW_URL = f"/records/{REQUISITION}/new"
DETAIL_URL = re.compile(rf"/records/{re.escape(REQUISITION)}/(\d+)$")


def _pick_department(page) -> None:
    choose(page, control(page, "field-department"), "心内一", "心内一病区")


def _item(code: str) -> re.Pattern:
    """The lookup option of catalogue item ``code`` (``WS-0001 一次性…``) and
    no other (the Excel test adds items ``RT-WS-0001`` …)."""
    return re.compile(rf"^\s*{re.escape(code)}\s")


def _fill_line(page, index: int, code: str, quantity: str) -> None:
    choose(page, control(page, f"line-lines-{index}-item"), code, _item(code))
    control(page, f"line-lines-{index}-quantity").fill(quantity)


def test_requisition_with_two_lines_error_then_saved(page, watch):
    watch.allow(422)  # the form with errors comes back as 422
    login(page, REQUESTER)
    page.get_by_test_id(f"nav-{REQUISITION}").click()
    expect(page.get_by_test_id("record-list")).to_be_visible()
    shot(page, "list")
    page.get_by_test_id("new-record").click()
    page.wait_for_url(f"**{NEW_URL}")
    _pick_department(page)
    control(page, "field-total_amount").fill("119.00")
    ensure_lines(page, "lines", 2)
    _fill_line(page, 0, "WS-0001", "0")     # 一次性使用无菌注射器, 32.5000
    _fill_line(page, 1, "WS-0002", "3")     # 医用外科口罩, 18.0000
    page.get_by_test_id("save").click()

    # 422: the form again, the error next to the quantity cell of line 1
    expect(page.get_by_test_id("form-errors")).to_be_visible()
    quantity = control(page, "line-lines-0-quantity")
    error = cell_of(quantity).locator(".field-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("0.01")
    expect(cell_of(control(page, "line-lines-1-quantity")).locator(".field-error")).to_have_count(0)
    expect(line_rows(page, "lines")).to_have_count(2)
    expect(quantity).to_have_value(re.compile(r"^0(\.0+)?$"))
    shot(page, "form-errors")

    quantity.fill("2")
    page.get_by_test_id("save").click()
    page.wait_for_url(DETAIL_URL)
    first, second = page.get_by_test_id("line-lines-0"), page.get_by_test_id("line-lines-1")
    expect(first).to_contain_text("一次性使用无菌注射器")
    expect(first).to_contain_text("65.00")             # 2 × 32.5000 (catalogue price)
    expect(second).to_contain_text("医用外科口罩")
    expect(second).to_contain_text("54.00")            # 3 × 18.0000
    expect(page.get_by_test_id("total-lines-amount")).to_have_text("119.00")
    expect(page.get_by_test_id("field-department")).to_have_text("心内一病区")


def test_urgent_reason_appears_and_is_required(page, watch):
    watch.allow(422)
    login(page, REQUESTER)
    page.goto(NEW_URL)
    wrapper = page.locator("[data-field='urgent_reason']")
    reason = control(page, "field-urgent_reason")
    expect(wrapper).to_be_hidden()          # urgency defaults to 普通
    choose(page, control(page, "field-urgency"), "", "紧急")
    expect(wrapper).to_be_visible()
    expect(wrapper).to_have_class(re.compile(r"\bis-required\b"))
    expect(reason).to_have_attribute("required", "")
    shot(page, "form-conditional")

    # the browser refuses to send the form: the reason is missing
    _pick_department(page)
    page.get_by_test_id("save").click()
    assert reason.evaluate("e => e.validity.valueMissing")
    expect(page).to_have_url(re.compile(rf"{re.escape(NEW_URL)}$"))

    # without the browser's check the server says the same, next to the field
    page.locator("form.record-form").evaluate("form => { form.noValidate = true; }")
    page.get_by_test_id("save").click()
    expect(page.get_by_test_id("form-errors")).to_be_visible()
    expect(wrapper).to_be_visible()         # the server renders the condition too
    expect(wrapper.locator(".field-error")).to_contain_text("加急理由 为必填项")

    choose(page, control(page, "field-urgency"), "", "普通")
    expect(wrapper).to_be_hidden()


def test_line_amount_follows_the_quantity_as_typed(page):
    login(page, REQUESTER)
    page.goto(NEW_URL)
    ensure_lines(page, "lines", 1)
    _fill_line(page, 0, "WS-0001", "")      # 一次性使用无菌注射器, 32.5000
    amount = line_rows(page, "lines").nth(0).locator("[data-computed-line='amount']")
    # li.na's role takes prices from the catalogue: the price cell is locked
    expect(control(page, "line-lines-0-unit_price")).to_be_disabled()
    quantity = control(page, "line-lines-0-quantity")
    quantity.click()
    page.keyboard.type("3")
    expect(amount).to_have_text(re.compile(r"^\s*97\.50\s*$"))     # 3 × 32.5000
    page.keyboard.type("0")
    expect(amount).to_have_text(re.compile(r"^\s*975\.00\s*$"))    # 30 × 32.5000
    page.keyboard.press("Backspace")
    page.keyboard.type(".5")
    expect(amount).to_have_text(re.compile(r"^\s*113\.75\s*$"))    # 3.5 × 32.5000
