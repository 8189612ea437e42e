"""Web fixtures (flaskr style): ``app`` with the bundled packages installed
in a fresh database; ``client``, signed in as the superuser ``admin`` by an
API token (no CSRF needed); ``anon_client``, signed in as nobody; ``auth``,
flaskr's login / logout actions over ``anon_client`` (session cookie plus
CSRF); and small helpers over the database.

``ui_templates`` builds kinds of installed databases once a session (per
xdist worker) and copies them for each test (see ui_db_helpers):
``bundled_app`` is the ``app`` state over such a copy, ``hospital`` the
demo hospital of the staff-UI workflow tests (see ui_wf_helpers)."""

from __future__ import annotations

from typing import Callable, Iterator

import pytest
from flask.testing import FlaskClient
from sqlalchemy import text

from yunying.app import services
from yunying.runtime.installer import bundled_package_paths, install_packages
from ui_db_helpers import Templates
from ui_helpers import copied_app
from ui_wf_helpers import HOSPITAL, Hospital, install_hospital
from web_helpers import ADMIN, ADMIN_PASSWORD, AuthActions, ensure_user, make_app, token_client
from web_helpers import INSTALLER
from wf_api_helpers import WF_API


@pytest.fixture
def app(database_url, tmp_path):
    application = make_app(database_url, tmp_path / "instance")
    yield application
    services(application).close()


@pytest.fixture
def client(app) -> FlaskClient:
    """The superuser, by API token."""
    return token_client(app)


@pytest.fixture
def anon_client(app) -> FlaskClient:
    """Nobody signed in (no token, no cookie yet)."""
    return app.test_client()


@pytest.fixture
def auth(app, anon_client) -> AuthActions:
    """Sign ``anon_client`` in and out (``auth.login()`` as the superuser)."""
    ensure_user(app, ADMIN, ADMIN_PASSWORD, superuser=True)
    return AuthActions(anon_client)


@pytest.fixture
def item_ids(app) -> dict[str, int]:
    """Seeded catalogue item ids by item code."""
    with services(app).db.connect() as conn:
        return {code: rid for rid, code in conn.execute(
            text("SELECT id, code FROM materials_item"))}


@pytest.fixture
def count_rows(app) -> Callable[[str], int]:
    """Rows in a table, read through a fresh connection."""
    def count(table: str) -> int:
        with services(app).db.connect() as conn:
            return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
    return count


@pytest.fixture(scope="session")
def ui_templates(tmp_path_factory, _pg_worker_url) -> Templates:
    """Installed databases built once a session, copied for each test."""
    return Templates(tmp_path_factory.mktemp("templates"), _pg_worker_url)


@pytest.fixture
def bundled_app(ui_templates, tmp_path):
    """What ``app`` is (the bundled packages installed in a database of this
    test's own), over a copy of a database installed once a session;
    passwords are hashed fast (ui_helpers.copied_app)."""
    with copied_app(ui_templates, "bundled", _install_bundled, tmp_path) as application:
        yield application


def _install_bundled(app) -> None:
    install_packages(services(app).db, bundled_package_paths(), INSTALLER)


@pytest.fixture
def hospital(ui_templates, tmp_path) -> Iterator[Hospital]:
    """The demo hospital (ui_wf_helpers) in a database of this test's own."""
    with copied_app(ui_templates, HOSPITAL, install_hospital, tmp_path) as app:
        yield Hospital(app)


@pytest.fixture
def wf_app(ui_templates, tmp_path):
    """An app with only the ``wfapi`` fixture package (wf_api_helpers) in a
    database of this test's own (a copy)."""
    with copied_app(ui_templates, "wfapi", _install_wfapi, tmp_path) as application:
        yield application


def _install_wfapi(app) -> None:
    install_packages(services(app).db, [str(WF_API)], INSTALLER)
