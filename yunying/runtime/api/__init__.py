"""The JSON HTTP API under ``/api/v1`` (runtime layer, HTTP edge).

``init_app(app)`` installs everything the API needs on one Flask app: the
JSON provider (Decimal-exact), the request context (language, request id),
the one error handler, and the blueprints — records, metadata, attachments,
formulas and the OpenAPI document. Nothing is module-global; each app gets
its own.
"""

from __future__ import annotations

from flask import Flask

from yunying.runtime.api import attachments, formula, meta, records
from yunying.runtime.api.context import init_context
from yunying.runtime.api.errors import init_errors
from yunying.runtime.api.json import YunyingJSONProvider
from yunying.runtime.api.openapi import init_openapi

__all__ = ["init_app", "API_PREFIX"]

API_PREFIX = "/api/v1"


def init_app(app: Flask) -> None:
    """Install the JSON API on ``app``."""
    app.json = YunyingJSONProvider(app)
    init_context(app)
    init_errors(app)
    app.register_blueprint(records.blueprint)
    app.register_blueprint(meta.blueprint)
    app.register_blueprint(attachments.blueprint)
    app.register_blueprint(formula.blueprint)
    init_openapi(app)
