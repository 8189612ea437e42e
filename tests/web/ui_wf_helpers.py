"""Helpers of the staff-UI workflow tests — detail page, actions, inbox
(imported as a plain module).

:class:`Hospital` is an app over a pristine copy of the bundled packages
with the demo hospital (li.na raises requisitions, zhang.wei heads her
department, wang.fang keeps the stores, chen.jing audits, liu.yang only
reads urgent requisitions without amounts), its people with a password,
and the steps the tests repeat; the ``hospital`` fixture (tests/web/conftest)
gives each test one. The functions below read the pages.
"""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from yunying.app import services
from yunying.platform import identity
from yunying.runtime.installer import bundled_package_paths, install_packages
from ui_helpers import ui_login
from web_helpers import INSTALLER, REQUISITION, token_client
from wf_api_helpers import act, pending_task

__all__ = ["DEMO_PASSWORD", "DEMO_USERS", "HOSPITAL", "Hospital", "install_hospital",
           "detail_url", "token_of", "ids_of", "cell"]

DEMO_PASSWORD = "Demo-secret-1"
#: the demo people the tests sign in as.
DEMO_USERS = ("li.na", "zhang.wei", "wang.fang", "sun.li", "chen.jing", "liu.yang")
#: the template kind of the demo hospital (see ui_db_helpers.Templates).
HOSPITAL = "hospital"
_TOKEN = re.compile(r'name="token" value="([^"]+)"')


def install_hospital(app: Flask) -> None:
    """Install the bundled packages with the demo data, and give the demo
    people the password :data:`DEMO_PASSWORD`."""
    db = services(app).db
    install_packages(db, bundled_package_paths(), INSTALLER, with_demo=True)
    with db.begin(write=True) as conn:
        for code in DEMO_USERS:
            identity.set_password(conn, INSTALLER, code, DEMO_PASSWORD)


class Hospital:
    """An app with the demo hospital installed, and the steps the tests repeat."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.db = services(app).db

    def login(self, code: str) -> tuple[FlaskClient, str]:
        """A browser signed in through the login form as ``code``, and its CSRF token."""
        return ui_login(self.app.test_client(), code, DEMO_PASSWORD)

    def api(self, code: str) -> FlaskClient:
        return token_client(self.app, code)

    def demo_id(self, requester: str = "li.na") -> int:
        """The demo requisition raised by ``requester``."""
        with self.db.connect() as conn:
            return conn.execute(text("SELECT id FROM materials_requisition WHERE requester = :r"),
                                {"r": requester}).scalar_one()

    def new_requisition(self, amount: str = "300.00", **fields) -> int:
        """A draft requisition li.na raises through the API (no lines)."""
        body = {"department": "CARD-W1", "requester": "li.na", "request_date": "2026-11-09",
                "urgency": "normal", "reason": "病区备货", "total_amount": amount, **fields}
        response = self.api("li.na").post(f"/api/v1/records/{REQUISITION}", json=body)
        assert response.status_code == 201, response.get_json()
        return response.get_json()["id"]

    def submit(self, record_id: int) -> int:
        """li.na submits through the API: the instance id."""
        response = self.api("li.na").post(
            f"/api/v1/records/{REQUISITION}/{record_id}/workflow/submit", json={})
        assert response.status_code == 200, response.get_json()
        return response.get_json()["instance"]["id"]

    def task_of(self, code: str, instance_id: int) -> int:
        """``code``'s pending task of the instance."""
        return pending_task(self.api(code), instance_id)

    def approve(self, code: str, instance_id: int) -> None:
        response = act(self.api(code), self.task_of(code, instance_id), "approve")
        assert response.status_code == 200, response.get_json()

    def count(self, sql: str, **params) -> int:
        with self.db.connect() as conn:
            return conn.execute(text(sql), params).scalar_one()


def detail_url(record_id: int) -> str:
    return f"/records/{REQUISITION}/{record_id}"


def token_of(html: str) -> str:
    """The per-render token of a page's action forms."""
    found = _TOKEN.search(html)
    assert found is not None, html[:300]
    return found.group(1)


def ids_of(html: str) -> set[str]:
    return set(re.findall(r'data-testid="([^"]+)"', html))


def cell(html: str, testid: str) -> str:
    """The text of the element with ``data-testid`` (tags stripped)."""
    found = re.search(rf'<(\w+)[^>]*data-testid="{re.escape(testid)}"[^>]*>(.*?)</\1>', html,
                      re.S)
    assert found is not None, f"no {testid}"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(2))).strip()
