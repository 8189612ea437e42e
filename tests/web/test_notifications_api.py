"""The notification endpoints (list, mark read, unread count) and the
delegation endpoints (list, name, revoke) — over the wfapi fixture."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from yunying.app import services
from yunying.platform.context import utcnow
from yunying.platform.i18n import Text
from yunying.platform.notifications import Notifier
from yunying.platform.tables import audit_event
from web_helpers import error_of
from wf_api_helpers import make_wf_app, people, submitted


@pytest.fixture
def app(database_url, tmp_path):
    application = make_wf_app(database_url, tmp_path / "instance")
    yield application
    services(application).close()


@pytest.fixture
def clients(app):
    return people(app)


def _notify(app, user: str, count: int) -> list[int]:
    """``count`` notices for ``user``, oldest first."""
    with services(app).db.begin(write=True) as conn:
        return [Notifier().notify(conn, [user], "notice", Text(f"通知 {k}", f"notice {k}"),
                                  at=utcnow())[0].id for k in range(count)]


# -- notifications -----------------------------------------------------------------------

def test_a_new_task_is_announced(clients):
    _record_id, instance_id = submitted(clients, title="Train tickets")
    body = clients["bob"].get("/api/v1/notifications").get_json()
    tasks = [n for n in body["items"] if n["kind"] == "task"]
    assert [n["instance_id"] for n in tasks] == [instance_id]
    assert tasks[0]["read_at"] is None and tasks[0]["title"]["en"]
    assert body["next_before"] is None
    count = clients["bob"].get("/api/v1/notifications/unread-count").get_json()
    assert count == {"unread": len(body["items"])}


def test_list_pages_newest_first_and_marks_read(clients, app):
    ids = _notify(app, "frank", 5)
    frank = clients["frank"]
    first = frank.get("/api/v1/notifications?limit=2").get_json()
    assert [n["id"] for n in first["items"]] == ids[:-3:-1]
    assert first["next_before"] == ids[3]
    rest = frank.get(f"/api/v1/notifications?limit=10&before={first['next_before']}"
                     ).get_json()
    assert [n["id"] for n in rest["items"]] == ids[2::-1] and rest["next_before"] is None
    marked = frank.post("/api/v1/notifications/read", json={"ids": [ids[0], ids[1]]})
    assert marked.get_json() == {"marked": 2}
    unread = frank.get("/api/v1/notifications?unread=1").get_json()["items"]
    assert [n["id"] for n in unread] == ids[:1:-1]
    assert frank.get("/api/v1/notifications/unread-count").get_json() == {"unread": 3}
    assert frank.post("/api/v1/notifications/read").get_json() == {"marked": 3}
    assert frank.get("/api/v1/notifications/unread-count").get_json() == {"unread": 0}
    assert frank.get("/api/v1/notifications?unread=0").get_json()["items"]


def test_marking_someone_elses_notifications_changes_nothing(clients, app):
    ids = _notify(app, "frank", 2)
    response = clients["eve"].post("/api/v1/notifications/read", json={"ids": ids})
    assert response.get_json() == {"marked": 0}
    assert clients["frank"].get("/api/v1/notifications/unread-count").get_json() == {
        "unread": 2}
    assert [n["id"] for n in clients["eve"].get("/api/v1/notifications").get_json()[
        "items"]] == []


@pytest.mark.parametrize("query,parameter", [
    ("?unread=yes", "unread"), ("?before=0", "before"), ("?before=abc", "before"),
    ("?limit=101", "limit"), ("?limit=0", "limit"), ("?page=2", "page"),
])
def test_bad_list_parameters_are_400(clients, query, parameter):
    response = clients["frank"].get(f"/api/v1/notifications{query}")
    assert response.status_code == 400
    assert error_of(response)["details"]["parameter"] == parameter


@pytest.mark.parametrize("body,path", [
    ({"ids": []}, "ids"), ({"ids": "all"}, "ids"), ({"ids": [1, "2"]}, "ids[1]"),
    ({"ids": [True]}, "ids[0]"), ({"ids": [0]}, "ids[0]"), ({"ids": [1.5]}, "ids[0]"),
    ({"ids": [2 ** 64]}, "ids[0]"), ({"ids": list(range(1, 1002))}, "ids"),
    ({"all": True}, "all"),
])
def test_bad_read_bodies_are_400(clients, app, body, path):
    _notify(app, "frank", 1)
    response = clients["frank"].post("/api/v1/notifications/read", json=body)
    assert response.status_code == 400
    assert path in error_of(response)["details"]["fields"]
    assert clients["frank"].get("/api/v1/notifications/unread-count").get_json() == {
        "unread": 1}


def test_notifications_need_a_signed_in_user(anon_client):
    assert anon_client.get("/api/v1/notifications").status_code == 401
    assert anon_client.get("/api/v1/notifications/unread-count").status_code == 401
    assert anon_client.post("/api/v1/notifications/read", json={}).status_code == 401


# -- delegations -------------------------------------------------------------------------

_URL = "/api/v1/workflow/delegations"


def test_name_list_and_revoke_a_delegation(clients, app):
    created = clients["bob"].post(_URL, json={"substitute": "frank",
                                              "valid_from": "2026-07-01",
                                              "valid_to": "2026-07-14"})
    assert created.status_code == 201, created.get_json()
    delegation = created.get_json()
    assert (delegation["user"], delegation["substitute"], delegation["valid_from"],
            delegation["valid_to"]) == ("bob", "frank", "2026-07-01", "2026-07-14")
    assert [d["id"] for d in clients["bob"].get(_URL).get_json()["items"]] == [
        delegation["id"]]
    assert [d["id"] for d in clients["frank"].get(_URL).get_json()["items"]] == [
        delegation["id"]]  # the substitute sees it too
    assert clients["eve"].delete(f"{_URL}/{delegation['id']}").status_code == 403
    assert clients["bob"].delete(f"{_URL}/{delegation['id']}").status_code == 204
    items = clients["bob"].get(_URL).get_json()["items"]
    assert items[0]["revoked_at"] is not None
    with services(app).db.connect() as conn:
        kinds = conn.execute(select(audit_event.c.kind)
                             .where(audit_event.c.kind == "workflow.delegation")).all()
    assert len(kinds) == 2


def test_new_tasks_of_a_user_on_leave_go_to_the_substitute(clients):
    today = date.today().isoformat()
    assert clients["bob"].post(_URL, json={"substitute": "frank", "valid_from": today,
                                           "valid_to": today}).status_code == 201
    _record_id, instance_id = submitted(clients)
    pending = clients["frank"].get("/api/v1/inbox/pending").get_json()["items"]
    assert [(i["instance"]["id"], i["task"]["delegated_from"]) for i in pending] == [
        (instance_id, "bob")]


def test_delegation_rules_are_the_services(clients):
    self_sub = clients["bob"].post(_URL, json={"substitute": "bob", "valid_from": "2026-07-01",
                                               "valid_to": "2026-07-02"})
    assert self_sub.status_code == 422
    backwards = clients["bob"].post(_URL, json={"substitute": "frank",
                                                "valid_from": "2026-07-02",
                                                "valid_to": "2026-07-01"})
    assert backwards.status_code == 422
    for_other = clients["eve"].post(_URL, json={"user": "bob", "substitute": "frank",
                                                "valid_from": "2026-07-01",
                                                "valid_to": "2026-07-02"})
    assert for_other.status_code == 403
    assert clients["eve"].get(f"{_URL}?user=bob").status_code == 403
    by_admin = clients["admin"].post(_URL, json={"user": "bob", "substitute": "frank",
                                                 "valid_from": "2026-07-01",
                                                 "valid_to": "2026-07-02"})
    assert by_admin.status_code == 201
    assert len(clients["admin"].get(f"{_URL}?user=bob").get_json()["items"]) == 1
    assert clients["bob"].delete(f"{_URL}/999999").status_code == 404
    assert clients["bob"].delete(f"{_URL}/{2 ** 40}").status_code == 404


@pytest.mark.parametrize("body,path", [
    ({"substitute": "frank", "valid_from": "2026-07-01"}, "valid_to"),
    ({"substitute": "frank", "valid_from": "01/07/2026", "valid_to": "2026-07-02"},
     "valid_from"),
    ({"substitute": "frank", "valid_from": "2026-02-30", "valid_to": "2026-07-02"},
     "valid_from"),
    ({"substitute": 7, "valid_from": "2026-07-01", "valid_to": "2026-07-02"}, "substitute"),
    ({"substitute": "frank", "valid_from": "2026-07-01", "valid_to": "2026-07-02",
      "reason": "holiday"}, "reason"),
])
def test_bad_delegation_bodies_are_400(clients, body, path):
    response = clients["bob"].post(_URL, json=body)
    assert response.status_code == 400
    assert path in error_of(response)["details"]["fields"]
    assert clients["bob"].get(_URL).get_json()["items"] == []
