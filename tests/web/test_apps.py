"""Two apps in one process, over two databases, share nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from yunying.app import services
from yunying.runtime.installer import bundled_package_paths, install_packages
from web_helpers import INSTALLER, REQUISITION, make_app, token_client


@pytest.fixture
def second_url(database_url, tmp_path):
    """A second empty database next to the first (same server for PostgreSQL)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        yield f"sqlite:///{tmp_path / 'second.db'}"
        return
    name = f"{url.database}_second"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_two_apps_share_nothing(database_url, second_url, tmp_path):
    installed = make_app(database_url, tmp_path / "one")
    empty = make_app(second_url, tmp_path / "two", install=False)
    try:
        one, two = token_client(installed), token_client(empty)
        assert services(installed) is not services(empty)
        assert installed.extensions["yunying.openapi"] is not empty.extensions["yunying.openapi"]

        assert one.get("/api/v1/meta/entities").get_json()["items"]
        assert two.get("/api/v1/meta/entities").get_json()["items"] == []
        assert two.get(f"/api/v1/records/{REQUISITION}").status_code == 404
        paths = two.get("/api/v1/openapi.json").get_json()["paths"]
        # only the generic per-record paths, no path of an installed entity
        assert sorted(p for p in paths if p.startswith("/api/v1/records/")) == [
            "/api/v1/records/{entity}/{id}/history", "/api/v1/records/{entity}/{id}/journal",
            "/api/v1/records/{entity}/{id}/workflow",
            "/api/v1/records/{entity}/{id}/workflow/{transition}"]
        assert one.get("/api/v1/openapi.json").get_json()["paths"].get(
            f"/api/v1/records/{REQUISITION}")

        install_packages(services(empty).db, bundled_package_paths(), INSTALLER)
        assert two.get(f"/api/v1/records/{REQUISITION}").status_code == 200
        assert f"/api/v1/records/{REQUISITION}" in two.get(
            "/api/v1/openapi.json").get_json()["paths"]
        created = two.post("/api/v1/records/materials.item", json={
            "code": "ONLY-TWO", "name": "仅二号", "category": "02", "uom": "box",
            "unit_price": "1"})
        assert created.status_code == 201
        query = "/api/v1/records/materials.item?filter=code:eq:ONLY-TWO"
        assert one.get(query).get_json()["total"] == 0
        assert two.get(query).get_json()["total"] == 1
    finally:
        services(installed).close()
        services(empty).close()
