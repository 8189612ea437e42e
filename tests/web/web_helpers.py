"""Helpers shared by the web tests (imported as a plain module)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask

from yunying.app import create_app, services
from yunying.platform import migrate
from yunying.platform.context import Context
from yunying.runtime.installer import bundled_package_paths, install_packages

REQUISITION = "materials.requisition"
ITEM = "materials.item"
INSTALLER = Context(actor="tester")


def make_app(database_url: str, instance: Path, *, install: bool = True,
             **config: Any) -> Flask:
    """A testing app over ``database_url``, migrated, with the bundled
    packages installed unless ``install`` is false."""
    app = create_app({"DATABASE_URL": database_url, "INSTANCE_PATH": str(instance),
                      "TESTING": True, **config})
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
