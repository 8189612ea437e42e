"""The inbox of the staff UI: ``/inbox`` → ``/inbox/pending``, the four
boxes (待办 pending, 已办 done, 我发起的 initiated, 抄送我 cc) with their
counts, filters and paging, rows linking to the detail page, quick approve
/ reject dialogs on pending rows and "mark read" on copies. A standard
requisition of the demo hospital goes li.na → zhang.wei (head) → a
storekeeper → copied to chen.jing. SQLite and PostgreSQL."""

from __future__ import annotations

from ui_helpers import page_text
from ui_wf_helpers import Hospital, cell, detail_url, ids_of, token_of


def _through_the_chain(hospital: Hospital) -> tuple[int, int]:
    """li.na's demo requisition, approved by zhang.wei and wang.fang: (record, instance)."""
    rid = hospital.demo_id()
    instance = hospital.submit(rid)
    hospital.approve("zhang.wei", instance)
    hospital.approve("wang.fang", instance)
    return rid, instance


def _copy_of(hospital: Hospital, instance: int) -> int:
    return hospital.count("SELECT id FROM yy_wf_task WHERE instance_id = :i AND kind = 'cc' "
                          "AND assignee = 'chen.jing'", i=instance)


def test_the_inbox_starts_at_the_pending_box(hospital):
    browser, _ = hospital.login("zhang.wei")
    response = browser.get("/inbox")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/inbox/pending")
    response = hospital.app.test_client().get("/inbox/pending")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_the_pending_box_lists_the_approvers_tasks_with_quick_actions(hospital):
    rid = hospital.demo_id()
    instance = hospital.submit(rid)
    task = hospital.task_of("zhang.wei", instance)
    browser, _ = hospital.login("zhang.wei")
    response = browser.get("/inbox/pending")
    assert response.status_code == 200 and response.mimetype == "text/html"
    html = page_text(response)
    row = cell(html, f"task-{task}")
    assert row.startswith("LY") and "领用申请单" in row and "审批中" in row
    assert "科室主任审批" in row and "李娜" in row
    assert f'href="{detail_url(rid)}"' in html
    assert cell(html, "count-pending") == "1" and cell(html, "count-done") == "0"
    ids = ids_of(html)
    assert {"action-approve", "action-reject", "confirm-approve", "confirm-reject"} <= ids
    assert f'action="/tasks/{task}/approve"' in html and f'action="/tasks/{task}/reject"' in html
    assert 'name="next" value="/inbox/pending"' in html and token_of(html)
    assert 'class="tab active"' in html


def test_every_box_renders_its_rows(hospital):
    rid, instance = _through_the_chain(hospital)
    head, _ = hospital.login("zhang.wei")
    html = page_text(head.get("/inbox/done"))
    done = [i for i in ids_of(html) if i.startswith("task-")]
    assert len(done) == 1
    assert "已同意" in cell(html, done[0]) and "已批准" in cell(html, done[0])
    initiator, _ = hospital.login("li.na")
    html = page_text(initiator.get("/inbox/initiated"))
    assert f"instance-{instance}" in ids_of(html)
    assert "已批准" in cell(html, f"instance-{instance}")
    assert cell(html, "count-initiated") == "1"
    auditor, csrf = hospital.login("chen.jing")
    copy = _copy_of(hospital, instance)
    html = page_text(auditor.get("/inbox/cc"))
    assert f"task-{copy}" in ids_of(html) and "未读" in cell(html, f"task-{copy}")
    assert f"read-{copy}" in ids_of(html)
    # marking it read keeps it in the box, read
    response = auditor.post(f"/inbox/cc/{copy}/read", data={"csrf_token": csrf,
                                                           "next": "/inbox/cc"})
    assert response.status_code == 303 and response.headers["Location"] == "/inbox/cc"
    html = page_text(auditor.get("/inbox/cc"))
    assert f"task-{copy}" in ids_of(html) and f"read-{copy}" not in ids_of(html)
    assert "banner-success" in html
    html = page_text(auditor.get("/inbox/cc?unread=1"))
    assert f"task-{copy}" not in ids_of(html) and "inbox-empty" in ids_of(html)
    for box in ("pending", "done", "initiated", "cc"):
        assert auditor.get(f"/inbox/{box}").status_code == 200


def test_a_copy_of_someone_else_is_not_found(hospital):
    _, instance = _through_the_chain(hospital)
    copy = _copy_of(hospital, instance)
    browser, csrf = hospital.login("li.na")
    response = browser.post(f"/inbox/cc/{copy}/read", data={"csrf_token": csrf})
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert hospital.count("SELECT count(*) FROM yy_wf_task WHERE id = :t AND read_at IS NULL",
                          t=copy) == 1


def test_the_filters_narrow_the_box_and_a_bad_one_is_a_400_banner(hospital):
    rid = hospital.demo_id()
    instance = hospital.submit(rid)
    task = hospital.task_of("zhang.wei", instance)
    browser, _ = hospital.login("zhang.wei")
    number = cell(page_text(browser.get("/inbox/pending")), f"open-task-{task}")
    for query, shown in ((f"q={number}", True), ("q=nothing-like-it", False),
                         ("entity=materials.requisition", True),
                         ("entity=finance.voucher", False),
                         ("since=2020-01-01&until=2099-12-31", True),
                         ("until=2020-01-01", False)):
        html = page_text(browser.get(f"/inbox/pending?{query}"))
        assert (f"task-{task}" in ids_of(html)) is shown, query
    html = page_text(browser.get("/inbox/pending?q=nothing-like-it"))
    assert 'value="nothing-like-it"' in html   # the filter bar keeps what was asked
    response = browser.get("/inbox/pending?since=yesterday")
    assert response.status_code == 400 and "banner-error" in page_text(response)
    assert "since" in page_text(response) and f"task-{task}" in ids_of(page_text(response))
    response = browser.get("/inbox/pending?page=0")
    assert response.status_code == 400


def test_paging_and_an_unknown_box(hospital):
    rid = hospital.demo_id()
    hospital.submit(rid)
    browser, _ = hospital.login("zhang.wei")
    html = page_text(browser.get("/inbox/pending"))
    assert "pager-status" in ids_of(html)
    html = page_text(browser.get("/inbox/pending?page=2"))
    assert "inbox-empty" in ids_of(html)
    response = browser.get("/inbox/archive")
    assert response.status_code == 404 and response.mimetype == "text/html"


def test_the_inbox_speaks_english(hospital):
    rid = hospital.demo_id()
    instance = hospital.submit(rid)
    task = hospital.task_of("zhang.wei", instance)
    browser, _ = hospital.login("zhang.wei")
    html = page_text(browser.get("/inbox/pending?lang=en"))
    assert "Pending" in html and "Copied to me" in html and "Initiated" in html
    row = cell(html, f"task-{task}")
    assert "Material requisition" in row and "Head of department" in row and "Li Na" in row
    assert ">Approve<" in html and ">Reject<" in html
