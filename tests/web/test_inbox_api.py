"""The inbox endpoints: pending (待办), done (已办), initiated (我发起的) and cc
(抄送我) with their filters, paging and counts; marking copies read — over
the wfapi fixture."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from yunying.app import services
from web_helpers import error_of
from wf_api_helpers import EXPENSE, act, make_wf_app, pending_task, people, submitted


@pytest.fixture
def app(database_url, tmp_path):
    application = make_wf_app(database_url, tmp_path / "instance")
    yield application
    services(application).close()


@pytest.fixture
def clients(app):
    return people(app)


def _box(client, box: str, query: str = "") -> dict:
    response = client.get(f"/api/v1/inbox/{box}{query}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _titles(page: dict) -> list[str]:
    return [item["instance"]["title"] for item in page["items"]]


def test_pending_items_carry_the_task_and_the_instance(clients):
    record_id, instance_id = submitted(clients, title="Printer toner")
    page = _box(clients["bob"], "pending")
    assert (page["total"], page["page"], page["page_size"]) == (1, 1, 20)
    item = page["items"][0]
    assert item["instance"] == {
        **item["instance"], "id": instance_id, "entity": EXPENSE, "record_id": record_id,
        "title": "Printer toner", "workflow": "wfapi.expense_flow", "state": "reviewing",
        "state_label": {"zh-CN": "审批中", "en": "Under review"},
        "state_category": "in_progress", "status": "running", "initiator": "alice"}
    task = item["task"]
    assert (task["node"], task["kind"], task["assignee"], task["status"]) == (
        "review", "approval", "bob", "pending")
    assert task["node_label"] == {"zh-CN": "部门审核（或签）", "en": "Review (any one)"}
    assert task["due_at"] is not None  # the node's 24-hour timeout
    assert _box(clients["alice"], "pending")["total"] == 0
    assert _box(clients["eve"], "pending")["items"] == []


def test_boxes_newest_first_with_paging(clients):
    for n in range(3):
        submitted(clients, title=f"Claim {n}")
    first = _box(clients["bob"], "pending", "?page_size=2")
    second = _box(clients["bob"], "pending", "?page_size=2&page=2")
    assert _titles(first) == ["Claim 2", "Claim 1"] and first["total"] == 3
    assert _titles(second) == ["Claim 0"]
    initiated = _box(clients["alice"], "initiated")
    assert _titles(initiated) == ["Claim 2", "Claim 1", "Claim 0"]
    assert sorted(t["assignee"] for t in initiated["items"][0]["pending"]) == ["bob", "carol"]


def test_filters(clients):
    submitted(clients, title="Taxi to the airport")
    _record_id, instance_id = submitted(clients, title="Hotel in Shanghai")
    assert _titles(_box(clients["bob"], "pending", "?q=hotel")) == ["Hotel in Shanghai"]
    assert _titles(_box(clients["bob"], "pending", "?q=100%25")) == []
    assert _box(clients["bob"], "pending", f"?entity={EXPENSE}")["total"] == 2
    assert _box(clients["bob"], "pending", "?entity=other.thing")["total"] == 0
    assert _box(clients["bob"], "pending", "?workflow=wfapi.expense_flow")["total"] == 2
    assert _box(clients["bob"], "pending", "?state=reviewing&status=running")["total"] == 2
    today = date.today()
    around = f"?since={today - timedelta(days=1)}&until={today + timedelta(days=1)}"
    assert _box(clients["bob"], "pending", around)["total"] == 2
    later = today + timedelta(days=2)
    assert _box(clients["bob"], "pending", f"?since={later}")["total"] == 0
    assert act(clients["bob"], pending_task(clients["bob"], instance_id), "approve"
               ).status_code == 200
    assert _titles(_box(clients["alice"], "initiated", "?status=approved")) == [
        "Hotel in Shanghai"]
    assert _titles(_box(clients["bob"], "done", around)) == ["Hotel in Shanghai"]
    assert _box(clients["bob"], "done", f"?until={today - timedelta(days=1)}")["total"] == 0


@pytest.mark.parametrize("query,parameter", [
    ("?page_size=101", "page_size"),
    ("?page=0", "page"),
    ("?since=2026-13-01", "since"),
    ("?until=yesterday", "until"),
    ("?since=2026-05-02&until=2026-05-01", "until"),
    ("?unread=1", "unread"),          # only the cc box has it
    ("?colour=red", "colour"),
    ("?q=a&q=b", "q"),
    ("?entity=bad%20code", "entity"),
    ("?q=" + "x" * 201, "q"),
])
def test_bad_parameters_are_400_naming_them(clients, query, parameter):
    response = clients["bob"].get(f"/api/v1/inbox/pending{query}")
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid_query"
    assert error["details"]["parameter"] == parameter


def test_cc_read_and_unread(clients):
    _record_id, first = submitted(clients, title="First")
    _record_id, second = submitted(clients, title="Second")
    for instance_id in (first, second):
        assert act(clients["bob"], pending_task(clients["bob"], instance_id), "approve"
                   ).status_code == 200
    copies = _box(clients["dave"], "cc")
    assert _titles(copies) == ["Second", "First"]
    assert all(i["task"]["kind"] == "cc" and i["task"]["read_at"] is None
               for i in copies["items"])
    counts = clients["dave"].get("/api/v1/inbox/counts").get_json()
    assert (counts["cc"], counts["cc_unread"]) == (2, 2)
    copy_id = copies["items"][1]["task"]["id"]
    read = clients["dave"].post(f"/api/v1/inbox/cc/{copy_id}/read")
    assert read.status_code == 200
    read_at = read.get_json()["task"]["read_at"]
    assert read_at is not None
    again = clients["dave"].post(f"/api/v1/inbox/cc/{copy_id}/read").get_json()
    assert again["task"]["read_at"] == read_at
    assert _titles(_box(clients["dave"], "cc", "?unread=1")) == ["Second"]
    assert _titles(_box(clients["dave"], "cc", "?unread=0")) == ["First"]
    counts = clients["dave"].get("/api/v1/inbox/counts").get_json()
    assert (counts["cc"], counts["cc_unread"]) == (2, 1)


def test_a_copy_of_someone_else_is_not_found(clients):
    _record_id, instance_id = submitted(clients)
    task_id = pending_task(clients["bob"], instance_id)
    assert act(clients["bob"], task_id, "approve").status_code == 200
    copy_id = _box(clients["dave"], "cc")["items"][0]["task"]["id"]
    for who, target in (("bob", copy_id), ("dave", task_id), ("dave", 2 ** 63)):
        response = clients[who].post(f"/api/v1/inbox/cc/{target}/read")
        assert response.status_code == 404, (who, target)
    assert _box(clients["dave"], "cc", "?unread=1")["total"] == 1


def test_counts(clients):
    _record_id, instance_id = submitted(clients)
    counts = clients["bob"].get("/api/v1/inbox/counts").get_json()
    assert counts == {"pending": 1, "done": 0, "initiated": 0, "cc": 0, "cc_unread": 0,
                      "notifications_unread": counts["notifications_unread"]}
    assert counts["notifications_unread"] >= 1  # the new task was announced
    assert clients["bob"].get("/api/v1/inbox/counts?x=1").status_code == 400


def test_the_inbox_needs_a_signed_in_user(anon_client):
    for url in ("/api/v1/inbox/pending", "/api/v1/inbox/counts", "/api/v1/inbox/cc"):
        assert anon_client.get(url).status_code == 401
    assert anon_client.post("/api/v1/inbox/cc/1/read").status_code == 401
