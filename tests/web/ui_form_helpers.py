"""Helpers of the generated-form tests (imported as a plain module).

``form_app`` gives a test module one app (its tests make their own
records) over a copy of a database with the bundled packages, the demo
hospital and the ``uiform`` fixture package (tests/fixtures/ui_form: a
gadget with a field of every type and widget, lines, computed fields and
form conditions), installed once a session (see ui_db_helpers.Templates).
``Browser`` signs a test client in with the session cookie (the staff UI's
way; a demo person gets a password first) and keeps its CSRF token. ``Page`` reads the HTML a form
page answers with (elements by id, labels, wrappers) through the standard
library's parser.
"""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from yunying.app import services
from yunying.platform import identity
from yunying.runtime.installer import bundled_package_paths, install_packages
from ui_db_helpers import Templates, module_database
from ui_helpers import copied_app
from ui_wf_helpers import DEMO_PASSWORD
from web_helpers import ADMIN, ADMIN_PASSWORD, INSTALLER, AuthActions, ensure_user

__all__ = ["GADGET", "REQUISITION", "DEMO_PASSWORD", "module_database", "form_app",
           "admin_browser",
           "Browser", "Page", "item_ids", "count"]

UI_FORM = Path(__file__).resolve().parents[1] / "fixtures" / "ui_form"
GADGET = "uiform.gadget"
REQUISITION = "materials.requisition"


def install_form(app: Flask) -> None:
    """The bundled packages with the demo data, and ``uiform``."""
    install_packages(services(app).db, [*bundled_package_paths(), UI_FORM], INSTALLER,
                     with_demo=True)


def form_app(ui_templates: Templates, tmp_path_factory: pytest.TempPathFactory,
             request: pytest.FixtureRequest) -> Iterator[Flask]:
    """A form-test module's ``app`` fixture, one app for the module (its tests
    make their own records): ``app = pytest.fixture(form_app, scope="module",
    name="app")``."""
    where = tmp_path_factory.mktemp(request.module.__name__)
    with copied_app(ui_templates, "uiform", install_form, where) as app:
        yield app


def admin_browser(app: Flask) -> "Browser":
    """The ``admin`` fixture of the form tests: the superuser's :class:`Browser`."""
    return Browser(app)


class Browser:
    """A test client signed in through the session cookie, with its CSRF token."""

    def __init__(self, app: Flask, code: str = ADMIN) -> None:
        self.client: FlaskClient = app.test_client()
        self.auth = AuthActions(self.client)
        if code == ADMIN:
            ensure_user(app, ADMIN, ADMIN_PASSWORD, superuser=True)
        else:  # a demo person: users from org data have no usable password
            with services(app).db.begin(write=True) as conn:
                identity.set_password(conn, INSTALLER, code, DEMO_PASSWORD)
        password = ADMIN_PASSWORD if code == ADMIN else DEMO_PASSWORD
        response = self.auth.login(code, password)
        assert response.status_code == 200, response.get_json()

    @property
    def csrf(self) -> str:
        return self.auth.csrf or self.auth.csrf_token()

    def get(self, url: str, **kwargs: Any):
        return self.client.get(url, **kwargs)

    def post(self, url: str, data: Any = None, **kwargs: Any):
        """A form post carrying the CSRF token (``data`` a dict or a list of pairs)."""
        pairs = list(data.items()) if isinstance(data, dict) else list(data or [])
        body = _multi([("csrf_token", self.csrf), *pairs])
        return self.client.post(url, data=body, **kwargs)

    def state(self, entity: str, data: Any, record_id: int | None = None):
        query = f"?record_id={record_id}" if record_id is not None else ""
        pairs = list(data.items()) if isinstance(data, dict) else list(data)
        return self.client.post(f"/records/{entity}/form-state{query}", data=_multi(pairs),
                                headers={"X-CSRFToken": self.csrf})


def _multi(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Pairs as the test client's form data (repeated names become lists)."""
    body: dict[str, Any] = {}
    for name, value in pairs:
        if name in body:
            body[name] = (body[name] if isinstance(body[name], list) else [body[name]]) + [value]
        else:
            body[name] = value
    return body


def item_ids(app: Flask) -> dict[str, int]:
    with services(app).db.connect() as conn:
        return dict(conn.execute(text("SELECT code, id FROM materials_item")).all())


def count(app: Flask, table: str) -> int:
    with services(app).db.connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()


class Page(HTMLParser):
    """The elements of an HTML page: ``by_id``, ``labels`` (for → text),
    ``wrappers`` (data-field → attributes) and every element in order."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[dict[str, Any]] = []
        self.by_id: dict[str, dict[str, Any]] = {}
        self.labels: dict[str, str] = {}
        self._open: list[dict[str, Any]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = {"tag": tag, **{k: ("" if v is None else v) for k, v in attrs}, "text": ""}
        self.elements.append(element)
        if "id" in element:
            self.by_id.setdefault(element["id"], element)
        if tag not in ("input", "br", "meta", "link", "img"):
            self._open.append(element)

    def handle_endtag(self, tag: str) -> None:
        while self._open:
            element = self._open.pop()
            if element["tag"] == "label" and "for" in element:
                self.labels[element["for"]] = element["text"].strip()
            if element["tag"] == tag:
                break

    def handle_data(self, data: str) -> None:
        for element in self._open:
            element["text"] += data

    def find(self, **attrs: str) -> list[dict[str, Any]]:
        return [e for e in self.elements if all(e.get(k) == v for k, v in attrs.items())]

    def one(self, **attrs: str) -> dict[str, Any]:
        found = self.find(**attrs)
        assert len(found) == 1, (attrs, found)
        return found[0]

    def wrapper(self, code: str) -> dict[str, Any]:
        return self.one(**{"data-field": code})

    def testid(self, name: str) -> dict[str, Any]:
        return self.one(**{"data-testid": name})

    def controls(self) -> list[dict[str, Any]]:
        """Every visible form control (inputs that are not hidden, selects,
        textareas, outputs), outside the line template."""
        return [e for e in self.elements if e["tag"] in ("input", "select", "textarea", "output")
                and e.get("type") != "hidden" and "__i__" not in e.get("id", "")]

    def selected(self, select_id: str) -> list[tuple[str, str]]:
        """(value, text) of the selected options of a select."""
        out, inside = [], False
        for e in self.elements:
            if e["tag"] == "select":
                inside = e.get("id") == select_id
            elif inside and e["tag"] == "option" and "selected" in e:
                out.append((e.get("value", ""), e["text"].strip()))
        return out

    def options(self, select_id: str) -> list[str]:
        out, inside = [], False
        for e in self.elements:
            if e["tag"] == "select":
                inside = e.get("id") == select_id
            elif inside and e["tag"] == "option":
                out.append(e.get("value", ""))
        return out
