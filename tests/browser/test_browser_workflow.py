"""The approval flow in a real browser: li.na submits her requisition from its
detail page; zhang.wei, head of Cardiology (the unit above her ward), approves
it from his inbox through the comment dialog; wang.fang, the storekeeper,
approves it on the detail page — the state badge and the timeline follow."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from browser_helpers import (
    APPROVER, REQUESTER, REQUISITION, STOREKEEPER, decide, draft_requisition, login, logout,
    shot,
)

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

def test_submit_then_approve_from_inbox_and_detail(page, live_server):
    record = draft_requisition(live_server, "浏览器测试：提交与审批")
    detail = f"/records/{REQUISITION}/{record['id']}"
    number = record["number"]

    login(page, REQUESTER)
    page.goto(detail)
    state = page.get_by_test_id("record-state")
    expect(state).to_have_text("草稿")
    decide(page, page.get_by_test_id("fire-submit"), "submit")
    expect(state).to_have_text("审批中")
    expect(page.get_by_test_id("timeline")).to_contain_text("李娜")
    logout(page)

    login(page, APPROVER)
    pending = page.get_by_test_id("pending-count")
    expect(pending).to_have_text(re.compile(r"^\s*[1-9]\d*\s*$"))
    page.locator(".inbox-link").click()
    page.wait_for_url("**/inbox/pending")
    task = page.locator("[data-testid^='task-']", has_text=number)
    expect(task).to_have_count(1)
    shot(page, "inbox")
    decide(page, task.get_by_test_id("action-approve"), "approve", "同意，科室急需")
    expect(page.locator("[data-testid^='task-']", has_text=number)).to_have_count(0)
    logout(page)

    login(page, STOREKEEPER)
    page.goto(detail)
    timeline = page.get_by_test_id("timeline")
    expect(state).to_have_text("审批中")
    expect(timeline).to_contain_text("同意，科室急需")
    expect(timeline).to_contain_text("张伟")
    decide(page, page.get_by_test_id("action-approve"), "approve", "库房可发")
    expect(state).to_have_text("已批准")
    expect(timeline).to_contain_text("库房可发")
    expect(timeline).to_contain_text("王芳")
    shot(page, "detail-timeline")
