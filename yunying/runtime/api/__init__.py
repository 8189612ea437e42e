"""The JSON HTTP API under ``/api/v1`` (runtime layer, HTTP edge).

``init_app(app)`` installs everything the API needs on one Flask app: the
JSON provider (Decimal-exact), the request context (language, request id),
the one error handler, authentication and CSRF (:mod:`.auth`), and the
blueprints — session and tokens, records, metadata, attachments, formulas
and the OpenAPI document. Nothing is module-global; each app gets
its own.
"""

from __future__ import annotations

from flask import Flask

from yunying.runtime.api import (
    attachments, audit, formula, inbox, meta, notifications, records, roles, session, tokens,
    workflow, workflow_delegations,
)
from yunying.runtime.api.auth import init_auth
from yunying.runtime.api.context import init_context
from yunying.runtime.api.errors import init_errors
from yunying.runtime.api.explain import blueprint as explain_blueprint
from yunying.runtime.api.indicators import blueprint as indicators_blueprint
from yunying.runtime.api.json import YunyingJSONProvider
from yunying.runtime.api.openapi import init_openapi
from yunying.runtime.api.org import blueprint as org_blueprint

__all__ = ["init_app", "API_PREFIX"]

API_PREFIX = "/api/v1"


def init_app(app: Flask) -> None:
    """Install the JSON API on ``app``."""
    app.json = YunyingJSONProvider(app)
    init_context(app)
    init_errors(app)
    init_auth(app)
    app.register_blueprint(session.blueprint)
    app.register_blueprint(tokens.blueprint)
    app.register_blueprint(records.blueprint)
    app.register_blueprint(meta.blueprint)
    app.register_blueprint(attachments.blueprint)
    app.register_blueprint(formula.blueprint)
    app.register_blueprint(org_blueprint)
    app.register_blueprint(roles.blueprint)
    app.register_blueprint(explain_blueprint)
    app.register_blueprint(audit.blueprint)
    app.register_blueprint(workflow.blueprint)
    app.register_blueprint(workflow_delegations.blueprint)
    app.register_blueprint(inbox.blueprint)
    app.register_blueprint(notifications.blueprint)
    app.register_blueprint(indicators_blueprint)
    init_openapi(app)
