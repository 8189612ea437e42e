"""Helpers shared by the staff-UI tests (imported as a plain module).

Sign-in goes through the login form, as a person does: ``GET /login``, read
the form's CSRF token, post the form. The session (and its CSRF secret) is
rotated by the login, so :func:`ui_login` returns the token of the new
session, read from the page the login leads to.
"""

from __future__ import annotations

import functools
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.security import generate_password_hash

from yunying.app import services
from yunying.platform import identity
from ui_db_helpers import Templates
from web_helpers import ADMIN, ADMIN_PASSWORD, INSTALLER, ensure_user, make_app

__all__ = ["csrf_of", "page_text", "ui_login", "ui_client", "set_password", "LOGIN_URL",
           "fast_passwords", "over", "copied_app"]

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


@contextmanager
def fast_passwords() -> Iterator[None]:
    """Passwords hashed with one PBKDF2 round while inside (and checked as
    fast later, the method being part of the hash): tests sign people in a lot."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(identity, "generate_password_hash",
                      functools.partial(generate_password_hash, method="pbkdf2:sha256:1"))
        yield


@contextmanager
def over(database_url: str, instance: Path, **config: Any) -> Iterator[Flask]:
    """A testing app over ``database_url`` (migrated, nothing installed),
    closed on leaving."""
    app = make_app(database_url, instance, install=False, **config)
    try:
        yield app
    finally:
        services(app).close()


@contextmanager
def copied_app(templates: Templates, kind: str, install: Callable[[Flask], None],
               where: Path, **config: Any) -> Iterator[Flask]:
    """A testing app over a pristine copy of the ``kind`` database, which
    ``install`` builds (once a session) on an app over an empty one; its
    instance folder and SQLite file in ``where``. Passwords are hashed fast
    while building and inside."""
    def build(url: str, folder: Path) -> None:
        with over(url, folder) as app:
            install(app)

    with fast_passwords(), templates.copy(kind, build, where) as url, \
            over(url, where / "instance", **config) as app:
        yield app
