"""Web fixtures (flaskr style): ``app`` with the bundled packages installed
in a fresh database; ``client``, signed in as the superuser ``admin`` by an
API token (no CSRF needed); ``anon_client``, signed in as nobody; ``auth``,
flaskr's login / logout actions over ``anon_client`` (session cookie plus
CSRF); and small helpers over the database."""

from __future__ import annotations

from typing import Callable

import pytest
from flask.testing import FlaskClient
from sqlalchemy import text

from yunying.app import services
from web_helpers import ADMIN, ADMIN_PASSWORD, AuthActions, ensure_user, make_app, token_client


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
