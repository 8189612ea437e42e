"""The Flask application factory.

``create_app(config)`` wires configuration → database → services →
blueprints. Everything an app needs is built here and kept in
``app.extensions["yunying"]``; two apps in one process share nothing.
"""

from __future__ import annotations

import os
from typing import Any, Mapping

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from yunying.platform.config import load_config
from yunying.platform.database import Database
from yunying.platform.errors import ConfigurationError
from yunying.platform.i18n import Text
from yunying.runtime import api, ui
from yunying.runtime.container import Services

__all__ = ["create_app", "services"]


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build an app. ``config`` overrides file and environment settings;
    ``INSTANCE_PATH`` (default ``$YUNYING_INSTANCE`` or ``./instance``) holds
    the default SQLite database and stored attachments."""
    overrides = dict(config or {})
    instance = overrides.pop("INSTANCE_PATH", None) or os.environ.get(
        "YUNYING_INSTANCE") or os.path.abspath("instance")
    # static files are served by the staff UI's own blueprint (runtime/ui/static)
    app = Flask("yunying", instance_path=os.path.abspath(instance), static_folder=None)
    os.makedirs(app.instance_path, exist_ok=True)  # a fresh checkout has none yet
    app.config.update(load_config(app.instance_path, overrides))
    _trust_proxies(app)
    app.extensions["yunying"] = Services(Database(app.config["DATABASE_URL"]), app.config)
    api.init_app(app)
    ui.init_ui(app)
    return app


def _trust_proxies(app: Flask) -> None:
    """Behind ``PROXY_COUNT`` reverse proxies, take the client address, scheme
    and host from their X-Forwarded-* headers; with none (the default) those
    headers are ignored, so a client cannot choose the address it is
    throttled and audited under."""
    count = app.config.get("PROXY_COUNT") or 0
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ConfigurationError(Text(
            f"配置项 PROXY_COUNT 必须是非负整数，当前为 {count!r}",
            f"setting PROXY_COUNT must be a whole number ≥ 0; got {count!r}"))
    if count:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count,  # type: ignore
                                x_host=count, x_port=count, x_prefix=count)


def services(app: Flask) -> Services:
    """The service container of ``app``."""
    return app.extensions["yunying"]
