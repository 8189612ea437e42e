"""Helpers of the workflow, inbox and notification API tests (imported as a
plain module): an app with only the ``wfapi`` fixture package installed
(tests/fixtures/wf_api: expense claims, any-one review by bob or carol, a
copy to dave, posting on approval), token clients of its people, and the
requests the tests repeat."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from yunying.app import services
from yunying.runtime.installer import install_packages
from web_helpers import INSTALLER, make_app, token_client

WF_API = Path(__file__).resolve().parent.parent / "fixtures" / "wf_api"
EXPENSE = "wfapi.expense"
PEOPLE = ("alice", "bob", "carol", "dave", "eve", "frank")


def make_wf_app(database_url: str, instance: Path) -> Flask:
    """A testing app with the wfapi fixture package installed (and nothing else)."""
    app = make_app(database_url, instance, install=False)
    install_packages(services(app).db, [str(WF_API)], INSTALLER)
    return app


def people(app: Flask) -> dict[str, FlaskClient]:
    """A token client for each person of the fixture, and ``admin`` (superuser)."""
    clients = {code: token_client(app, code) for code in PEOPLE}
    clients["admin"] = token_client(app)
    return clients


def new_expense(client: FlaskClient, title: str = "Conference trip",
                amount: str = "120.50") -> int:
    response = client.post(f"/api/v1/records/{EXPENSE}",
                           json={"title": title, "amount": amount})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def submit(client: FlaskClient, record_id: int, **body: Any) -> dict[str, Any]:
    response = client.post(f"/api/v1/records/{EXPENSE}/{record_id}/workflow/submit",
                           json=body)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def submitted(clients: dict[str, FlaskClient], title: str = "Conference trip",
              amount: str = "120.50") -> tuple[int, int]:
    """alice raises and submits a claim: (record id, instance id)."""
    record_id = new_expense(clients["alice"], title, amount)
    view = submit(clients["alice"], record_id)
    return record_id, view["instance"]["id"]


def pending_task(client: FlaskClient, instance_id: int) -> int:
    """The caller's one pending task of the instance."""
    items = client.get("/api/v1/inbox/pending").get_json()["items"]
    found = [item["task"]["id"] for item in items
             if item["instance"]["id"] == instance_id]
    assert len(found) == 1, items
    return found[0]


def act(client: FlaskClient, task_id: int, action: str, body: Any = None, **kw: Any):
    return client.post(f"/api/v1/workflow/tasks/{task_id}/{action}", json=body or {}, **kw)
