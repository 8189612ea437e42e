"""The workflow actions of the staff UI: the dialogs' forms post to
``/records/<entity>/<id>/fire/<transition>``, ``/tasks/<id>/<action>`` and
``/instances/<id>/<action>``; each acts once through the workflow engine
(the page's token makes a double click one action), then goes back to
``next`` with a flashed message — or shows the refusal on that page with
its status (never a 500). Demo hospital, SQLite and PostgreSQL."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import text

from yunying.app import services
from yunying.platform import identity
from yunying.runtime.installer import install_packages
from ui_helpers import fast_passwords, over, page_text, ui_login
from ui_wf_helpers import DEMO_PASSWORD, Hospital, cell, detail_url, ids_of, token_of
from web_helpers import INSTALLER, REQUISITION, token_client

INBOX = "/inbox/pending"


def _page(browser, url: str) -> tuple[str, str]:
    """A page's HTML and its per-render token."""
    html = page_text(browser.get(url))
    return html, token_of(html)


def _post(browser, csrf: str, url: str, token: str, next_url: str, **fields):
    return browser.post(url, data={"csrf_token": csrf, "token": token, "next": next_url,
                                   **fields})


def _status(hospital: Hospital, rid: int) -> str:
    """The requisition's stored approval state."""
    with hospital.db.connect() as conn:
        return conn.execute(text("SELECT status FROM materials_requisition WHERE id = :i"),
                            {"i": rid}).scalar_one()


def _instances(hospital: Hospital, rid: int) -> int:
    return hospital.count("SELECT count(*) FROM yy_wf_instance WHERE record_id = :r "
                          "AND entity = :e", r=rid, e=REQUISITION)


def _task_status(hospital: Hospital, task: int) -> str:
    with hospital.db.connect() as conn:
        return conn.execute(text("SELECT status FROM yy_wf_task WHERE id = :t"),
                            {"t": task}).scalar_one()


# ---------------------------------------------------------------- submit


def test_submit_from_the_detail_page(hospital):
    rid = hospital.demo_id()
    browser, csrf = hospital.login("li.na")
    html, token = _page(browser, detail_url(rid))
    response = _post(browser, csrf, f"{detail_url(rid)}/fire/submit", token, detail_url(rid),
                     comment="请审批")
    assert response.status_code == 303 and response.headers["Location"] == detail_url(rid)
    html = page_text(browser.get(detail_url(rid)))
    assert "banner-success" in html and "提交审批" in html and "审批中" in html
    assert 'class="badge state-in_progress"' in html and "请审批" in html
    assert _status(hospital, rid) == "reviewing"
    # the head of her department has the task now
    approver, _ = hospital.login("zhang.wei")
    assert "task-" in page_text(approver.get(INBOX))


def test_a_double_submit_with_the_same_token_acts_once(hospital):
    rid = hospital.demo_id()
    browser, csrf = hospital.login("li.na")
    _, token = _page(browser, detail_url(rid))
    first = _post(browser, csrf, f"{detail_url(rid)}/fire/submit", token, detail_url(rid))
    second = _post(browser, csrf, f"{detail_url(rid)}/fire/submit", token, detail_url(rid))
    assert first.status_code == second.status_code == 303
    assert _instances(hospital, rid) == 1
    assert hospital.count("SELECT count(*) FROM yy_wf_event WHERE action = 'submit'") == 1
    # a fresh page (a new token) is a new request: refused, the approval is running
    _, fresh = _page(browser, detail_url(rid))
    response = _post(browser, csrf, f"{detail_url(rid)}/fire/submit", fresh, detail_url(rid))
    assert response.status_code in (409, 422) and "banner-error" in page_text(response)
    assert _instances(hospital, rid) == 1


def test_a_guard_refusal_is_a_422_banner_on_the_detail_page(hospital):
    rid = hospital.new_requisition(amount="0.00")
    browser, csrf = hospital.login("li.na")
    _, token = _page(browser, detail_url(rid))
    response = _post(browser, csrf, f"{detail_url(rid)}/fire/submit", token, detail_url(rid))
    assert response.status_code == 422 and response.mimetype == "text/html"
    html = page_text(response)
    assert "合计金额必须大于 0 才能提交" in html and "banner-error" in html
    assert cell(html, "record-title").startswith("LY")
    assert _instances(hospital, rid) == 0


def test_a_required_comment_missing_reopens_the_dialog_with_the_message(hospital):
    rid = hospital.new_requisition()
    browser, csrf = hospital.login("li.na")
    _, token = _page(browser, detail_url(rid) + "?lang=en")
    response = _post(browser, csrf, f"{detail_url(rid)}/fire/cancel?lang=en", token,
                     detail_url(rid), comment="  ")
    assert response.status_code == 422
    html = page_text(response)
    dialog = html[html.index(f'id="dialog-fire-cancel-{rid}"'):]
    assert dialog[:dialog.index(">")].endswith(" open") and "dialog-error" in dialog
    assert "comment" in cell(dialog, "dialog-error").lower()
    response = _post(browser, csrf, f"{detail_url(rid)}/fire/cancel", token_of(html),
                     detail_url(rid), comment="不需要了")
    assert response.status_code == 303
    assert "已取消" in page_text(browser.get(detail_url(rid)))


# ---------------------------------------------------------------- decisions


def test_approve_from_the_inbox_as_the_approver(hospital):
    rid = hospital.demo_id()
    instance = hospital.submit(rid)
    task = hospital.task_of("zhang.wei", instance)
    browser, csrf = hospital.login("zhang.wei")
    html, token = _page(browser, INBOX)
    assert f"/tasks/{task}/approve" in html
    response = _post(browser, csrf, f"/tasks/{task}/approve", token, INBOX, comment="同意")
    assert response.status_code == 303 and response.headers["Location"] == INBOX
    html = page_text(browser.get(INBOX))
    assert "banner-success" in html and f'data-testid="task-{task}"' not in html
    assert _task_status(hospital, task) == "approved"
    assert f'data-testid="task-{task}"' in page_text(browser.get("/inbox/done"))
    # the storekeepers decide next
    assert hospital.task_of("wang.fang", instance)


def test_reject_needs_the_comment_the_node_requires(hospital):
    rid = hospital.demo_id()
    instance = hospital.submit(rid)
    task = hospital.task_of("zhang.wei", instance)
    browser, csrf = hospital.login("zhang.wei")
    _, token = _page(browser, INBOX)
    response = _post(browser, csrf, f"/tasks/{task}/reject", token, INBOX)
    assert response.status_code == 422 and response.mimetype == "text/html"
    html = page_text(response)
    assert "banner-error" in html and f'data-testid="task-{task}"' in html  # the inbox again
    assert f'id="dialog-task-reject-{task}" class="dialog"' in html
    assert _task_status(hospital, task) == "pending"
    response = _post(browser, csrf, f"/tasks/{task}/reject", token_of(html), INBOX,
                     comment="数量过多")
    assert response.status_code == 303
    assert _task_status(hospital, task) == "rejected"
    html = page_text(browser.get(detail_url(rid)))
    assert "已驳回" in html and "数量过多" in html


def test_a_decided_task_is_a_conflict_banner_not_a_500(hospital):
    rid = hospital.demo_id()
    instance = hospital.submit(rid)
    task = hospital.task_of("zhang.wei", instance)
    browser, csrf = hospital.login("zhang.wei")
    html, token = _page(browser, detail_url(rid))
    assert _post(browser, csrf, f"/tasks/{task}/approve", token, detail_url(rid)
                 ).status_code == 303
    # the same page's token again: the stored answer, nothing acts twice
    assert _post(browser, csrf, f"/tasks/{task}/approve", token, detail_url(rid)
                 ).status_code == 303
    assert hospital.count("SELECT count(*) FROM yy_wf_event WHERE action = 'approve'") == 1
    # an old page (another token): the task was decided
    response = _post(browser, csrf, f"/tasks/{task}/reject", token + "x", detail_url(rid),
                     comment="晚了")
    assert response.status_code == 409 and response.mimetype == "text/html"
    assert "banner-error" in page_text(response)
    # any one storekeeper decides: the second one finds his task cancelled
    first, first_csrf = hospital.login("wang.fang")
    second, second_csrf = hospital.login("sun.li")
    mine = hospital.task_of("wang.fang", instance)
    his = hospital.task_of("sun.li", instance)
    _, his_token = _page(second, INBOX)
    _, my_token = _page(first, INBOX)
    assert _post(first, first_csrf, f"/tasks/{mine}/approve", my_token, INBOX
                 ).status_code == 303
    response = _post(second, second_csrf, f"/tasks/{his}/approve", his_token, INBOX)
    assert response.status_code == 409 and "banner-error" in page_text(response)


def test_someone_elses_or_a_missing_task_is_refused_on_the_page(hospital):
    rid = hospital.demo_id()
    instance = hospital.submit(rid)
    task = hospital.task_of("zhang.wei", instance)
    browser, csrf = hospital.login("li.na")
    token = "an-old-page-token-0001"   # her inbox is empty: a token a page once held
    response = _post(browser, csrf, f"/tasks/{task}/approve", token, INBOX)
    assert response.status_code == 403 and "banner-error" in page_text(response)
    response = _post(browser, csrf, "/tasks/999999/approve", token, INBOX)
    assert response.status_code == 404 and "banner-error" in page_text(response)
    response = _post(browser, csrf, f"/tasks/{task}/explode", token, INBOX)
    assert response.status_code == 404 and response.mimetype == "text/html"
    response = browser.post(f"/tasks/{task}/approve", data={"token": token})  # no CSRF
    assert response.status_code == 403
    response = _post(browser, csrf, f"/tasks/{task}/approve", "bad token!", INBOX)
    assert response.status_code == 422 and "banner-error" in page_text(response)
    assert _task_status(hospital, task) == "pending"


def test_a_foreign_next_is_not_followed(hospital):
    rid = hospital.demo_id()
    instance = hospital.submit(rid)
    task = hospital.task_of("zhang.wei", instance)
    browser, csrf = hospital.login("zhang.wei")
    _, token = _page(browser, INBOX)
    response = _post(browser, csrf, f"/tasks/{task}/approve", token, "https://evil.example/")
    assert response.status_code == 303 and response.headers["Location"] == INBOX


def test_send_back_resubmit_transfer_and_add_signers(hospital):
    rid = hospital.demo_id()
    instance = hospital.submit(rid)
    task = hospital.task_of("zhang.wei", instance)
    head, head_csrf = hospital.login("zhang.wei")
    _, token = _page(head, detail_url(rid))
    response = _post(head, head_csrf, f"/tasks/{task}/send_back", token, detail_url(rid),
                     to="initiator", comment="请补充事由")
    assert response.status_code == 303
    initiator, csrf = hospital.login("li.na")
    html = page_text(initiator.get(detail_url(rid)))
    assert "action-resubmit" in ids_of(html) and "请补充事由" in html
    response = _post(initiator, csrf, f"/instances/{instance}/resubmit", token_of(html),
                     detail_url(rid))
    assert response.status_code == 303
    task = hospital.task_of("zhang.wei", instance)
    _, token = _page(head, detail_url(rid))
    response = _post(head, head_csrf, f"/tasks/{task}/transfer", token, detail_url(rid),
                     to_user="chen.jing")
    assert response.status_code == 303 and _task_status(hospital, task) == "transferred"
    moved = hospital.task_of("chen.jing", instance)
    auditor, auditor_csrf = hospital.login("chen.jing")
    _, token = _page(auditor, detail_url(rid))
    # several users typed without JavaScript, separated by commas
    response = _post(auditor, auditor_csrf, f"/tasks/{moved}/add_signers", token,
                     detail_url(rid), users="sun.li, liu.yang", position="before")
    assert response.status_code == 303
    assert hospital.task_of("sun.li", instance) and hospital.task_of("liu.yang", instance)
    html = page_text(auditor.get(detail_url(rid)))
    assert "加签" in html and "转交" in html


def test_transfer_to_nobody_is_a_422(hospital):
    rid = hospital.demo_id()
    instance = hospital.submit(rid)
    task = hospital.task_of("zhang.wei", instance)
    head, csrf = hospital.login("zhang.wei")
    _, token = _page(head, detail_url(rid))
    response = _post(head, csrf, f"/tasks/{task}/transfer", token, detail_url(rid))
    assert response.status_code == 422 and "banner-error" in page_text(response)
    assert _task_status(hospital, task) == "pending"


@pytest.mark.parametrize("action", ["withdraw", "remind", "comment"])
def test_the_initiators_instance_actions(hospital, action):
    rid = hospital.demo_id()
    instance = hospital.submit(rid)
    browser, csrf = hospital.login("li.na")
    _, token = _page(browser, detail_url(rid))
    response = _post(browser, csrf, f"/instances/{instance}/{action}", token, detail_url(rid),
                     comment=f"{action} 说明")
    assert response.status_code == 303
    html = page_text(browser.get(detail_url(rid)))
    assert "banner-success" in html and f"{action} 说明" in html
    if action == "withdraw":
        assert "草稿" in html and "fire-submit" in ids_of(html)
    else:
        assert "审批中" in html


def test_instance_actions_by_an_outsider_are_refused(hospital):
    rid = hospital.demo_id()
    instance = hospital.submit(rid)
    browser, csrf = hospital.login("wang.fang")  # no task yet, not the initiator
    token = "an-old-page-token-0002"
    response = _post(browser, csrf, f"/instances/{instance}/withdraw", token, INBOX)
    assert response.status_code == 403 and "banner-error" in page_text(response)
    response = _post(browser, csrf, f"/instances/{instance}/comment", token, "/",
                     comment="hi")
    # a page that cannot be shown again here: the message is flashed on the way back
    assert response.status_code == 303 and response.headers["Location"] == "/"
    assert "banner-error" in page_text(browser.get("/"))


# ---------------------------------------------------------------- chosen approvers

WF_ENGINE = Path(__file__).resolve().parent.parent / "fixtures" / "wf_engine"


def test_the_initiator_chooses_the_approvers_and_the_approver_the_next(database_url, tmp_path):
    """发起人自选 at submit, 上一审批人指定 at approve (the wfe fixture's choice flow)."""
    with fast_passwords(), over(database_url, tmp_path / "instance") as app:
        db = services(app).db
        install_packages(db, [str(WF_ENGINE)], INSTALLER)
        with db.begin(write=True) as conn:
            for code in ("nurse", "a1", "a2"):
                identity.set_password(conn, INSTALLER, code, DEMO_PASSWORD)
        created = token_client(app, "nurse").post("/api/v1/records/wfe.doc", json={
            "title": "选人审批", "route": "choice", "department": "CARD-W1", "amount": "10.00"})
        assert created.status_code == 201, created.get_json()
        url = f"/records/wfe.doc/{created.get_json()['id']}"
        nurse, csrf = ui_login(app.test_client(), "nurse", DEMO_PASSWORD)
        html, token = _page(nurse, url)
        assert 'name="approvers-pick"' in html and "发起人自选" in html
        chosen = {"approvers-pick": "a1"}   # typed without JavaScript
        response = _post(nurse, csrf, f"{url}/fire/submit", token, url, **chosen)
        assert response.status_code == 303
        approver, approver_csrf = ui_login(app.test_client(), "a1", DEMO_PASSWORD)
        html, token = _page(approver, INBOX)
        task = int(re.search(r'data-testid="task-(\d+)"', html).group(1))
        assert 'name="next_approvers"' in html     # the next node takes his choice
        response = _post(approver, approver_csrf, f"/tasks/{task}/approve", token, INBOX,
                         next_approvers="a2")
        assert response.status_code == 303
        second, _ = ui_login(app.test_client(), "a2", DEMO_PASSWORD)
        html = page_text(second.get(INBOX))
        assert "上一审批人指定" in html and "选人审批" in html
