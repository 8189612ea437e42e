"""Helpers shared by the staff-UI tests (imported as a plain module).

Sign-in goes through the login form, as a person does: ``GET /login``, read
the form's CSRF token, post the form. The session (and its CSRF secret) is
rotated by the login, so :func:`ui_login` returns the token of the new
session, read from the page the login leads to.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from yunying.app import services
from yunying.platform import identity
from web_helpers import ADMIN, ADMIN_PASSWORD, INSTALLER, ensure_user

__all__ = ["csrf_of", "page_text", "ui_login", "ui_client", "set_password", "LOGIN_URL"]

LOGIN_URL = "/login"
_HIDDEN = re.compile(r'<input[^>]*name="csrf_token"[^>]*value="([^"]+)"')
_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def page_text(response) -> str:
    """The body of ``response`` as text."""
    return response.get_data(as_text=True)


def csrf_of(html: str) -> str:
    """The CSRF token of a page: its forms' hidden field, else the meta tag."""
    found = _HIDDEN.search(html) or _META.search(html)
    assert found is not None, f"no CSRF token in the page: {html[:300]}"
    return found.group(1)


def ui_login(client: FlaskClient, code: str = ADMIN, password: str = ADMIN_PASSWORD, *,
             next: str | None = None, **kwargs: Any) -> tuple[FlaskClient, str]:
    """Sign ``client`` in through the login form; the client and a CSRF token
    valid for the new session. Asserts that the login succeeded."""
    form_page = client.get(LOGIN_URL)
    assert form_page.status_code == 200, page_text(form_page)[:300]
    data = {"csrf_token": csrf_of(page_text(form_page)), "code": code, "password": password}
    if next is not None:
        data["next"] = next
    response = client.post(LOGIN_URL, data=data, **kwargs)
    assert response.status_code == 302, (response.status_code, page_text(response)[:500])
    return client, csrf_of(page_text(client.get("/password")))


def ui_client(app: Flask, code: str = ADMIN, password: str = ADMIN_PASSWORD, *,
              superuser: bool | None = None) -> tuple[FlaskClient, str]:
    """A new test client of ``app`` signed in through the login form as
    ``code`` (created if missing; a superuser when ``code`` is the admin,
    unless ``superuser`` says otherwise) and its CSRF token."""
    ensure_user(app, code, password, superuser=code == ADMIN if superuser is None else superuser)
    return ui_login(app.test_client(), code, password)


def set_password(app: Flask, code: str, password: str) -> None:
    """Give the existing user ``code`` (e.g. one from org data, who has no
    usable password) the password ``password``."""
    with services(app).db.begin(write=True) as conn:
        identity.set_password(conn, INSTALLER, code, password)
