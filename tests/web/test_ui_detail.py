"""The record detail page of the staff UI (``/records/<entity>/<id>``): the
form's sections, child lines and totals, the workflow state, the buttons of
what the user may do now, the approval timeline and the audit history —
over the bundled materials package with the demo hospital (li.na raises
requisitions, zhang.wei heads her department, wang.fang keeps the stores,
chen.jing audits, liu.yang only reads urgent requisitions without amounts).
SQLite and PostgreSQL. The ``hospital`` fixture (tests/web/conftest, see
ui_wf_helpers) gives each test the demo hospital in a database of its own."""

from __future__ import annotations

from flask.testing import FlaskClient

from ui_helpers import page_text, ui_login
from ui_wf_helpers import Hospital, cell, detail_url, ids_of, token_of
from web_helpers import REQUISITION, token_client


# ---------------------------------------------------------------- the record


def test_a_draft_shows_its_fields_lines_totals_state_and_buttons(hospital):
    browser, _ = hospital.login("li.na")
    rid = hospital.demo_id("li.na")
    response = browser.get(detail_url(rid))
    assert response.status_code == 200 and response.mimetype == "text/html"
    html = page_text(response)
    assert cell(html, "record-title").startswith("LY")
    # values formatted for people: unit names, user names, dictionary labels, money
    assert cell(html, "field-department") == "心内一病区"
    assert cell(html, "field-requester") == "李娜"
    assert cell(html, "field-urgency") == "普通"
    assert cell(html, "field-total_amount") == "918.00"
    assert cell(html, "field-request_date") == "2026-11-02"
    assert "一次性使用无菌注射器" in cell(html, "line-lines-0")
    assert cell(html, "total-lines-amount") == "918.00"
    assert 'class="badge state-draft"' in html and ">草稿<" in html
    ids = ids_of(html)
    # she may submit or cancel her draft, and edit it; deleting needs a grant she lacks
    assert {"fire-submit", "fire-cancel", "edit-record", "history"} <= ids
    assert "delete-record" not in ids and "timeline" not in ids
    assert f'href="/records/{REQUISITION}/{rid}/edit"' in html
    # the dialogs' forms post to the fire endpoint with the CSRF token and a token
    assert f'action="/records/{REQUISITION}/{rid}/fire/submit"' in html
    assert 'name="csrf_token"' in html and token_of(html)
    assert "confirm-submit" in ids and "confirm-cancel" in ids
    # the history tells who created it and what
    assert cell(html, "event-0").startswith("20") and "创建" in html


def test_the_page_speaks_english_when_asked(hospital):
    browser, _ = hospital.login("li.na")
    html = page_text(browser.get(detail_url(hospital.demo_id()) + "?lang=en"))
    assert "Material requisition" in html and "Cardiology ward 1" in html
    assert ">Draft<" in html and ">Submit<" in html and "History" in html
    assert cell(html, "field-urgency") == "Normal"


def test_after_a_submit_the_timeline_and_the_initiators_actions_show(hospital):
    rid = hospital.demo_id()
    instance = hospital.submit(rid)
    browser, _ = hospital.login("li.na")
    html = page_text(browser.get(detail_url(rid)))
    assert 'class="badge state-in_progress"' in html and "审批中" in html
    assert "张伟" in cell(html, "waiting")
    ids = ids_of(html)
    assert {"timeline", "action-withdraw", "action-remind", "action-comment",
            "fire-cancel"} <= ids
    # in review every field is read-only for her and nothing may be deleted
    assert "edit-record" not in ids and "delete-record" not in ids
    assert "fire-submit" not in ids and "action-approve" not in ids
    timeline = html[html.index('data-testid="timeline"'):]
    assert "提交" in timeline and "科室主任审批" in timeline
    assert f"/instances/{instance}/withdraw" in html
    # the state change is in the history too, by the states' labels
    history = html[html.index('data-testid="history"'):]
    assert "<del>草稿</del> → <ins>审批中</ins>" in history
    # the timeline tells the state change and who the task went to
    assert "草稿 → 审批中" in timeline and "（张伟）" in timeline


def test_the_approver_sees_the_decisions_of_his_task(hospital):
    rid = hospital.demo_id()
    instance = hospital.submit(rid)
    task = hospital.task_of("zhang.wei", instance)
    browser, _ = hospital.login("zhang.wei")
    html = page_text(browser.get(detail_url(rid)))
    ids = ids_of(html)
    assert {"action-approve", "action-reject", "action-send_back", "action-transfer",
            "action-add_signers", "action-comment"} <= ids
    assert {"confirm-approve", "confirm-reject", "confirm-send_back"} <= ids
    assert "action-withdraw" not in ids
    assert f'action="/tasks/{task}/approve"' in html
    # the head's node requires a comment to reject and may only return to the initiator
    reject = html[html.index(f'id="dialog-task-reject-{task}"'):]
    assert "required" in reject[:reject.index("</dialog>")]
    send_back = html[html.index(f'id="dialog-task-send_back-{task}"'):]
    assert 'value="initiator"' in send_back[:send_back.index("</dialog>")]
    assert 'value="previous"' not in send_back[:send_back.index("</dialog>")]
    # the user lookup of the transfer dialog, with a no-JS text input
    assert 'data-widget="lookup" data-lookup-url="/lookup/users"' in html
    assert "<noscript>" in html


def test_a_dialog_opens_without_javascript(hospital):
    rid = hospital.demo_id()
    browser, _ = hospital.login("li.na")
    html = page_text(browser.get(detail_url(rid) + f"?dialog=dialog-fire-submit-{rid}"))
    assert f'id="dialog-fire-submit-{rid}"' in html
    opened = html[html.index(f'id="dialog-fire-submit-{rid}"'):]
    assert opened[:opened.index(">")].endswith(" open")
    assert f'href="{detail_url(rid)}?dialog=dialog-fire-submit-{rid}#dialog-fire-submit-{rid}"' \
        in page_text(browser.get(detail_url(rid)))


def test_fields_hidden_from_a_reader_are_left_out_of_the_page_and_history(hospital):
    # liu.yang reads urgent requisitions only, without their amounts and prices
    urgent = hospital.demo_id("zhang.wei")
    browser, _ = hospital.login("liu.yang")
    html = page_text(browser.get(detail_url(urgent)))
    assert cell(html, "field-urgency") == "紧急"
    assert "field-total_amount" not in html and "合计金额" not in html
    assert "单价" not in html and "1,180.00" not in html and "1180" not in html
    assert "history" in ids_of(html) and "创建" in html
    # a viewer may do nothing with it
    assert not {t for t in ids_of(html) if t.startswith(("fire-", "action-"))}
    assert "edit-record" not in ids_of(html)


# ---------------------------------------------------------------- refusals


def test_a_record_out_of_scope_missing_or_of_no_entity_is_an_html_404(hospital):
    browser, _ = hospital.login("liu.yang")
    for url in (detail_url(hospital.demo_id("li.na")),   # a normal one: out of his scope
                detail_url(999999), "/records/materials.nothing/1"):
        response = browser.get(url)
        assert response.status_code == 404, url
        assert response.mimetype == "text/html"


def test_somebody_not_signed_in_is_sent_to_the_login_page(hospital):
    response = hospital.app.test_client().get(detail_url(hospital.demo_id()))
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def _admin(hospital: Hospital) -> tuple[FlaskClient, str]:
    token_client(hospital.app)  # creates the superuser admin
    return ui_login(hospital.app.test_client())


def test_delete_from_the_detail_page(hospital):
    rid = hospital.new_requisition()
    browser, csrf = _admin(hospital)
    html = page_text(browser.get(detail_url(rid)))
    assert "delete-record" in ids_of(html) and "data-confirm=" in html
    response = browser.post(f"{detail_url(rid)}/delete", data={"csrf_token": csrf,
                                                               "version": "1"})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/records/{REQUISITION}")
    assert hospital.count("SELECT count(*) FROM materials_requisition WHERE id = :i", i=rid) == 0
    assert browser.get(detail_url(rid)).status_code == 404


def test_delete_refused_is_a_banner_with_the_conflict_status(hospital):
    browser, csrf = _admin(hospital)
    stale = hospital.new_requisition()
    response = browser.post(f"{detail_url(stale)}/delete", data={"csrf_token": csrf,
                                                                 "version": "7"})
    assert response.status_code == 409 and response.mimetype == "text/html"
    assert "banner-error" in page_text(response)
    submitted = hospital.new_requisition()
    hospital.submit(submitted)
    html = page_text(browser.get(detail_url(submitted)))
    assert "delete-record" not in ids_of(html)  # no button while it is in review …
    response = browser.post(f"{detail_url(submitted)}/delete", data={"csrf_token": csrf})
    assert response.status_code == 409        # … and a post anyway is refused on the page
    html = page_text(response)
    assert "banner-error" in html and cell(html, "record-title").startswith("LY")
    assert hospital.count("SELECT count(*) FROM materials_requisition WHERE id IN (:a, :b)",
                          a=stale, b=submitted) == 2


def test_delete_without_the_grant_or_csrf_is_refused(hospital):
    rid = hospital.new_requisition()
    browser, csrf = hospital.login("li.na")
    response = browser.post(f"{detail_url(rid)}/delete", data={"csrf_token": csrf})
    assert response.status_code == 403 and "banner-error" in page_text(response)
    response = browser.post(f"{detail_url(rid)}/delete", data={})
    assert response.status_code == 403 and response.mimetype == "text/html"
    assert hospital.count("SELECT count(*) FROM materials_requisition WHERE id = :i", i=rid) == 1


def test_an_entity_without_a_workflow_has_no_state_buttons_or_timeline(hospital):
    item = hospital.count("SELECT id FROM materials_item WHERE code = 'WS-0001'")
    browser, _ = _admin(hospital)
    html = page_text(browser.get(f"/records/materials.item/{item}?lang=en"))
    ids = ids_of(html)
    assert "record-state" not in ids and "timeline" not in ids and "workflow-summary" not in ids
    assert not {i for i in ids if i.startswith(("fire-", "action-"))}
    assert {"edit-record", "delete-record", "history"} <= ids
    assert cell(html, "record-title") == "一次性使用无菌注射器"   # its title field
    assert cell(html, "field-code") == "WS-0001" and cell(html, "field-unit_price") == "32.5000"
