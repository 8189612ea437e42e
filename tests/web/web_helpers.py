"""Helpers shared by the web tests (imported as a plain module)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from yunying.app import create_app, services
from yunying.platform import identity, migrate
from yunying.platform.access import ANY_DOMAIN, SUPERUSER_ROLE
from yunying.platform.context import Context
from yunying.platform.errors import NotFound
from yunying.platform.i18n import Text
from yunying.runtime.installer import bundled_package_paths, install_packages

REQUISITION = "materials.requisition"
ITEM = "materials.item"
INSTALLER = Context(actor="tester")
#: the superuser the ``client`` fixture signs in as (by token).
ADMIN = "admin"
ADMIN_PASSWORD = "admin-secret-1"
SESSION_URL = "/api/v1/session"


def make_app(database_url: str, instance: Path, *, install: bool = True,
             **config: Any) -> Flask:
    """A testing app over ``database_url``, migrated, with the bundled
    packages installed unless ``install`` is false."""
    app = create_app({"DATABASE_URL": database_url, "INSTANCE_PATH": str(instance),
                      "TESTING": True, "SECRET_KEY": "test-secret-key", **config})
    db = services(app).db
    migrate.upgrade(db)
    if install:
        install_packages(db, bundled_package_paths(), INSTALLER)
    return app


def error_of(response) -> dict[str, Any]:
    """The ``error`` object of a JSON error response (asserting its shape)."""
    assert response.is_json, response.get_data(as_text=True)[:300]
    body = response.get_json()
    error = body["error"]
    assert set(error) == {"code", "message", "messages", "details"}
    assert set(error["messages"]) == {"zh-CN", "en"}
    assert error["messages"]["zh-CN"] and error["messages"]["en"]
    return error


def ensure_user(app: Flask, code: str, password: str, *, superuser: bool = False) -> None:
    """Create user ``code`` unless it exists; a superuser holds ``platform.admin``."""
    with services(app).db.begin(write=True) as conn:
        try:
            identity.get_user(conn, code)
            return
        except NotFound:
            pass
        identity.create_user(conn, INSTALLER, code, Text(code, code), password)
        if superuser:
            services(app).access.grant_role(conn, INSTALLER, code, SUPERUSER_ROLE, ANY_DOMAIN)


def token_client(app: Flask, code: str = ADMIN) -> FlaskClient:
    """A test client signed in by an API token of ``code`` (the superuser by
    default): every request carries ``Authorization: Bearer``, so no CSRF."""
    ensure_user(app, code, ADMIN_PASSWORD, superuser=code == ADMIN)
    with services(app).db.begin(write=True) as conn:
        issued = identity.issue_token(conn, INSTALLER, code, "tests", None)
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {issued.token}"
    return client


class AuthActions:
    """flaskr-style sign-in through ``/api/v1/session`` with the session cookie.

    ``csrf`` holds the CSRF token of the current session; ``headers()`` the
    header a state-changing request must carry.
    """

    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        self.csrf: str | None = None

    def csrf_token(self) -> str:
        self.csrf = self.client.get(SESSION_URL).get_json()["csrf_token"]
        return self.csrf

    def headers(self) -> dict[str, str]:
        return {"X-CSRFToken": self.csrf or self.csrf_token()}

    def login(self, code: str = ADMIN, password: str = ADMIN_PASSWORD, *,
              headers: dict[str, str] | None = None, **kwargs: Any):
        response = self.client.post(SESSION_URL, json={"code": code, "password": password},
                                    headers={"X-CSRFToken": self.csrf_token(),
                                             **(headers or {})}, **kwargs)
        if response.status_code == 200:
            self.csrf = response.get_json()["csrf_token"]
        return response

    def logout(self):
        response = self.client.delete(SESSION_URL, headers=self.headers())
        self.csrf = None  # the session and its CSRF secret are gone
        return response
