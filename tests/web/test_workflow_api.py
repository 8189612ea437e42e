"""The workflow endpoints: a record's workflow and its transitions, instances
and their timeline, task decisions, idempotent retries, the journal of a
record — over the wfapi fixture (alice submits; bob or carol reviews, any
one; dave gets a copy; approval posts a journal entry)."""

from __future__ import annotations

import jsonschema
import pytest
from openapi_spec_validator import validate
from sqlalchemy import func, select

from yunying.app import services
from yunying.platform import identity
from yunying.platform.tables import journal_entry, wf_event, wf_task
from web_helpers import INSTALLER, error_of
from wf_api_helpers import (
    EXPENSE, act, make_wf_app, new_expense, pending_task, people, submit, submitted,
)


@pytest.fixture
def app(database_url, tmp_path):
    application = make_wf_app(database_url, tmp_path / "instance")
    yield application
    services(application).close()


@pytest.fixture
def clients(app):
    return people(app)


def _rows(app, table, *where) -> int:
    with services(app).db.connect() as conn:
        return conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()


# -- submit and decide -------------------------------------------------------------------

def test_record_workflow_before_and_after_submit(clients):
    record_id = new_expense(clients["alice"])
    url = f"/api/v1/records/{EXPENSE}/{record_id}/workflow"
    before = clients["alice"].get(url)
    assert before.status_code == 200
    status = before.get_json()
    assert (status["state"]["code"], status["instance"]) == ("draft", None)
    assert [t["code"] for t in status["transitions"]] == ["submit", "cancel"]
    view = submit(clients["alice"], record_id, comment="please")
    instance = view["instance"]
    assert (instance["entity"], instance["record_id"]) == (EXPENSE, record_id)
    assert (instance["workflow"], instance["state"], instance["status"]) == (
        "wfapi.expense_flow", "reviewing", "running")
    assert instance["initiator"] == "alice"
    assert instance["state_label"] == {"zh-CN": "审批中", "en": "Under review"}
    pending = sorted((t["assignee"], t["status"]) for t in view["tasks"]
                     if t["status"] == "pending")
    assert pending == [("bob", "pending"), ("carol", "pending")]
    after = clients["bob"].get(url).get_json()
    assert after["instance"]["id"] == instance["id"]
    assert [t["assignee"] for t in after["my_tasks"]] == ["bob"]
    assert clients["eve"].get(url).status_code == 404  # not hers to read


def test_approve_moves_the_claim_through_the_boxes(clients):
    record_id, instance_id = submitted(clients)
    counts = clients["bob"].get("/api/v1/inbox/counts").get_json()
    assert counts["pending"] == 1 and counts["done"] == 0
    task_id = pending_task(clients["bob"], instance_id)
    response = act(clients["bob"], task_id, "approve", {"comment": "ok"})
    assert response.status_code == 200, response.get_json()
    instance = response.get_json()["instance"]
    assert (instance["state"], instance["status"]) == ("approved", "approved")
    bob = clients["bob"].get("/api/v1/inbox/counts").get_json()
    carol = clients["carol"].get("/api/v1/inbox/counts").get_json()
    alice = clients["alice"].get("/api/v1/inbox/counts").get_json()
    assert (bob["pending"], bob["done"]) == (0, 1)
    assert (carol["pending"], carol["done"]) == (0, 0)
    assert alice["initiated"] == 1
    done = clients["bob"].get("/api/v1/inbox/done").get_json()["items"]
    assert [(i["task"]["id"], i["task"]["status"], i["task"]["comment"]) for i in done] == [
        (task_id, "approved", "ok")]
    record = clients["alice"].get(f"/api/v1/records/{EXPENSE}/{record_id}").get_json()
    assert record["status"] == "approved" and record["approved_on"] is not None


def test_the_second_approver_of_an_any_one_node_gets_409(clients, app):
    _record_id, instance_id = submitted(clients)
    bob_task = pending_task(clients["bob"], instance_id)
    carol_task = pending_task(clients["carol"], instance_id)
    assert act(clients["bob"], bob_task, "approve").status_code == 200
    late = act(clients["carol"], carol_task, "approve", {"comment": "me too"})
    assert late.status_code == 409
    error = error_of(late)
    assert error["code"] == "task_not_pending"
    assert error["details"]["task_status"] == "cancelled"
    assert error["details"]["instance_status"] == "approved"
    assert _rows(app, wf_task, wf_task.c.status == "approved") == 1


def test_reject_needs_a_comment_on_this_node(clients):
    _record_id, instance_id = submitted(clients)
    task_id = pending_task(clients["bob"], instance_id)
    refused = act(clients["bob"], task_id, "reject")
    assert refused.status_code == 422
    assert error_of(refused)["code"] != "invalid_body"
    response = act(clients["bob"], task_id, "reject", {"comment": "no receipt"})
    assert response.status_code == 200
    assert response.get_json()["instance"]["status"] == "rejected"


def test_idempotency_key_acts_once_and_repeats_the_answer(clients, app):
    _record_id, instance_id = submitted(clients)
    task_id = pending_task(clients["bob"], instance_id)
    headers = {"Idempotency-Key": "approve-7f3a"}
    first = act(clients["bob"], task_id, "approve", {"comment": "ok"}, headers=headers)
    again = act(clients["bob"], task_id, "approve", {"comment": "ok"}, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.get_json() == first.get_json()
    assert _rows(app, wf_event, wf_event.c.instance_id == instance_id,
                 wf_event.c.action == "approve") == 1
    without = act(clients["bob"], task_id, "approve", {"comment": "ok"})
    assert without.status_code == 409


@pytest.mark.parametrize("key", ["", "x" * 129, "clé-é", "tab\tkey"])
def test_a_malformed_idempotency_key_is_a_400(clients, key):
    _record_id, instance_id = submitted(clients)
    task_id = pending_task(clients["bob"], instance_id)
    response = act(clients["bob"], task_id, "approve",
                   headers={"Idempotency-Key": key.encode("utf-8").decode("latin-1")})
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid_idempotency_key"
    assert pending_task(clients["bob"], instance_id) == task_id


def test_acting_on_someone_elses_task_is_403(clients):
    _record_id, instance_id = submitted(clients)
    task_id = pending_task(clients["bob"], instance_id)
    response = act(clients["eve"], task_id, "approve")
    assert response.status_code == 403
    assert pending_task(clients["bob"], instance_id) == task_id


def test_without_authentication_every_endpoint_is_401(anon_client):
    for method, url in (("get", f"/api/v1/records/{EXPENSE}/1/workflow"),
                        ("post", f"/api/v1/records/{EXPENSE}/1/workflow/submit"),
                        ("get", "/api/v1/workflow/instances/1"),
                        ("get", "/api/v1/workflow/instances/1/timeline"),
                        ("post", "/api/v1/workflow/tasks/1/approve"),
                        ("get", "/api/v1/workflow/delegations"),
                        ("get", f"/api/v1/records/{EXPENSE}/1/journal")):
        response = getattr(anon_client, method)(url, json={})
        assert response.status_code == 401, url
        assert error_of(response)["code"] == "authentication_required"


# -- bad input ---------------------------------------------------------------------------

_BAD = [
    ("approve", {"comment": 5}, "comment"),
    ("approve", {"next_approvers": "bob"}, "next_approvers"),
    ("approve", {"next_approvers": ["bob", "not a user!"]}, "next_approvers[1]"),
    ("approve", {"next_approvers": [f"u{n}" for n in range(101)]}, "next_approvers"),
    ("approve", {"comment": "x" * 2001}, "comment"),
    ("approve", {"unexpected": True}, "unexpected"),
    ("reject", {"comment": ["no"]}, "comment"),
    ("return", {"comment": "back"}, "to"),
    ("return", {"to": 3}, "to"),
    ("transfer", {"comment": "yours"}, "to_user"),
    ("transfer", {"to_user": None}, "to_user"),
    ("add-signers", {"users": []}, "users"),
    ("add-signers", {"users": ["frank"], "position": "middle"}, "position"),
    ("add-signers", {"users": [f"u{n}" for n in range(101)]}, "users"),
]


@pytest.mark.parametrize("action,body,path", _BAD)
def test_bad_task_bodies_are_400_naming_the_path(clients, action, body, path):
    _record_id, instance_id = submitted(clients)
    task_id = pending_task(clients["bob"], instance_id)
    response = act(clients["bob"], task_id, action, body)
    assert response.status_code == 400, response.get_json()
    error = error_of(response)
    assert error["code"] == "invalid_body"
    assert path in error["details"]["fields"]
    assert pending_task(clients["bob"], instance_id) == task_id


@pytest.mark.parametrize("body,path", [
    ({"approvers": {"review": "bob"}}, "approvers.review"),
    ({"approvers": {"review": []}}, "approvers.review"),
    ({"approvers": {"review": [f"u{n}" for n in range(101)]}}, "approvers.review"),
    ({"approvers": ["bob"]}, "approvers"),
    ({"approvers": {"bad node!": ["bob"]}}, "approvers.bad node!"),
    ({"comment": {"text": "hi"}}, "comment"),
])
def test_bad_submit_bodies_are_400_and_submit_nothing(clients, app, body, path):
    record_id = new_expense(clients["alice"])
    response = clients["alice"].post(
        f"/api/v1/records/{EXPENSE}/{record_id}/workflow/submit", json=body)
    assert response.status_code == 400
    assert path in error_of(response)["details"]["fields"]
    assert _rows(app, wf_task) == 0


@pytest.mark.parametrize("data,content_type,code", [
    ("[1, 2]", "application/json", "invalid_body"),
    ("{not json", "application/json", "invalid_json"),
    ("comment=hi", "application/x-www-form-urlencoded", "unsupported_content_type"),
])
def test_malformed_bodies_are_400(clients, data, content_type, code):
    _record_id, instance_id = submitted(clients)
    task_id = pending_task(clients["bob"], instance_id)
    response = clients["bob"].post(f"/api/v1/workflow/tasks/{task_id}/approve", data=data,
                                   content_type=content_type)
    assert response.status_code == 400
    assert error_of(response)["code"] == code


def test_an_empty_body_is_no_body(clients):
    _record_id, instance_id = submitted(clients)
    task_id = pending_task(clients["bob"], instance_id)
    response = clients["bob"].post(f"/api/v1/workflow/tasks/{task_id}/approve")
    assert response.status_code == 200


def test_ids_no_row_could_have_are_404(clients):
    huge = 2 ** 64
    for url in (f"/api/v1/workflow/instances/{huge}", "/api/v1/workflow/instances/0",
                f"/api/v1/records/{EXPENSE}/{2 ** 31}/workflow"):
        assert clients["admin"].get(url).status_code == 404, url
    response = act(clients["bob"], huge, "approve")
    assert response.status_code == 404
    assert clients["bob"].get("/api/v1/workflow/instances/1?extra=1").status_code == 400


def test_a_guard_refusal_is_422(clients):
    record_id = new_expense(clients["alice"], amount="0")
    response = clients["alice"].post(
        f"/api/v1/records/{EXPENSE}/{record_id}/workflow/submit", json={})
    assert response.status_code == 422
    assert error_of(response)["messages"]["en"]


# -- instances ---------------------------------------------------------------------------

def test_instance_and_timeline(clients):
    _record_id, instance_id = submitted(clients)
    task_id = pending_task(clients["bob"], instance_id)
    assert act(clients["bob"], task_id, "approve", {"comment": "fine"}).status_code == 200
    view = clients["alice"].get(f"/api/v1/workflow/instances/{instance_id}").get_json()
    assert view["instance"]["id"] == instance_id
    timeline = clients["alice"].get(
        f"/api/v1/workflow/instances/{instance_id}/timeline").get_json()["items"]
    actions = [(e["actor"], e["action"]) for e in timeline]
    assert actions[0] == ("alice", "submit")
    assert ("bob", "approve") in actions
    approve = next(e for e in timeline if e["action"] == "approve")
    assert (approve["node"], approve["comment"]) == ("review", "fine")
    assert clients["eve"].get(f"/api/v1/workflow/instances/{instance_id}").status_code == 404


def test_comment_remind_and_withdraw(clients):
    _record_id, instance_id = submitted(clients)
    base = f"/api/v1/workflow/instances/{instance_id}"
    missing = clients["bob"].post(f"{base}/comment", json={})
    assert missing.status_code == 400
    assert "comment" in error_of(missing)["details"]["fields"]
    assert clients["bob"].post(f"{base}/comment", json={"comment": "looking"}
                               ).status_code == 200
    assert clients["alice"].post(f"{base}/remind").status_code == 200
    withdrawn = clients["alice"].post(f"{base}/withdraw", json={"comment": "typo"})
    assert withdrawn.status_code == 200
    assert withdrawn.get_json()["instance"]["status"] == "withdrawn"
    timeline = clients["alice"].get(f"{base}/timeline").get_json()["items"]
    assert [e["action"] for e in timeline][-3:] == ["comment", "remind", "withdraw"]


def test_transfer_and_add_signers(clients):
    _record_id, instance_id = submitted(clients)
    task_id = pending_task(clients["bob"], instance_id)
    moved = act(clients["bob"], task_id, "transfer", {"to_user": "frank", "comment": "away"})
    assert moved.status_code == 200
    frank_task = pending_task(clients["frank"], instance_id)
    added = act(clients["frank"], frank_task, "add-signers", {"users": ["eve"]})
    assert added.status_code == 200
    assert pending_task(clients["eve"], instance_id)


def test_return_to_the_initiator(clients):
    _record_id, instance_id = submitted(clients)
    task_id = pending_task(clients["bob"], instance_id)
    response = act(clients["bob"], task_id, "return", {"to": "initiator", "comment": "fix"})
    assert response.status_code == 200
    assert response.get_json()["instance"]["status"] == "returned"
    again = clients["alice"].post(f"/api/v1/workflow/instances/{instance_id}/resubmit")
    assert again.status_code == 200
    assert again.get_json()["instance"]["status"] == "running"


# -- the journal -------------------------------------------------------------------------

def test_journal_of_a_record_follows_its_read_scope(clients, app):
    record_id, instance_id = submitted(clients, amount="88.10")
    url = f"/api/v1/records/{EXPENSE}/{record_id}/journal"
    assert clients["alice"].get(url).get_json() == {"items": []}
    assert act(clients["bob"], pending_task(clients["bob"], instance_id), "approve"
               ).status_code == 200
    entries = clients["alice"].get(url).get_json()["items"]
    assert len(entries) == 1
    lines = [(ln["side"], ln["account"], ln["amount"]) for ln in entries[0]["lines"]]
    assert lines == [("debit", "5001", "88.10"), ("credit", "2302", "88.10")]
    assert clients["admin"].get(url).status_code == 200
    outsider = clients["eve"].get(url)  # a clerk who may read only her own claims
    assert outsider.status_code == 404
    assert _rows(app, journal_entry) == 1


# -- the OpenAPI document ----------------------------------------------------------------

def _validator(document, component: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator({"$ref": f"#/components/schemas/{component}",
                                            "components": document["components"]})


def test_the_openapi_document_describes_these_endpoints(clients):
    document = clients["alice"].get("/api/v1/openapi.json").get_json()
    validate(document)
    paths = document["paths"]
    for path in ("/api/v1/records/{entity}/{id}/workflow/{transition}",
                 "/api/v1/workflow/tasks/{id}/add-signers", "/api/v1/inbox/pending",
                 "/api/v1/notifications/read", "/api/v1/workflow/delegations/{id}",
                 "/api/v1/records/{entity}/{id}/journal"):
        assert path in paths, path
    approve = paths["/api/v1/workflow/tasks/{id}/approve"]["post"]
    assert {"409", "401"} <= set(approve["responses"])
    assert "Idempotency-Key" in [p.get("name") for p in approve["parameters"]]
    draft = new_expense(clients["alice"])
    _validator(document, "WorkflowStatus").validate(clients["alice"].get(
        f"/api/v1/records/{EXPENSE}/{draft}/workflow").get_json())
    record_id, instance_id = submitted(clients)
    _validator(document, "WorkflowStatus").validate(clients["bob"].get(
        f"/api/v1/records/{EXPENSE}/{record_id}/workflow").get_json())
    view = clients["bob"].get(f"/api/v1/workflow/instances/{instance_id}").get_json()
    _validator(document, "WorkflowView").validate(view)
    _validator(document, "WorkflowTimeline").validate(clients["bob"].get(
        f"/api/v1/workflow/instances/{instance_id}/timeline").get_json())
    _validator(document, "InboxTaskPage").validate(
        clients["bob"].get("/api/v1/inbox/pending").get_json())
    _validator(document, "InboxInstancePage").validate(
        clients["alice"].get("/api/v1/inbox/initiated").get_json())
    _validator(document, "InboxCounts").validate(
        clients["bob"].get("/api/v1/inbox/counts").get_json())
    _validator(document, "NotificationPage").validate(
        clients["bob"].get("/api/v1/notifications").get_json())
    _validator(document, "ApproveInput").validate({"comment": "ok", "next_approvers": []})
    with pytest.raises(jsonschema.ValidationError):
        _validator(document, "TransferInput").validate({"comment": "no target"})


def test_a_cookie_session_needs_the_csrf_token_to_act(app, clients, auth):
    _record_id, instance_id = submitted(clients)
    task_id = pending_task(clients["bob"], instance_id)
    with services(app).db.begin(write=True) as conn:
        identity.set_password(conn, INSTALLER, "bob", "bob-secret-1")
    assert auth.login("bob", "bob-secret-1").status_code == 200
    forged = auth.client.post(f"/api/v1/workflow/tasks/{task_id}/approve", json={})
    assert forged.status_code == 403
    assert error_of(forged)["code"] == "csrf_failed"
    signed = auth.client.post(f"/api/v1/workflow/tasks/{task_id}/approve", json={},
                              headers=auth.headers())
    assert signed.status_code == 200
    assert signed.get_json()["instance"]["status"] == "approved"
