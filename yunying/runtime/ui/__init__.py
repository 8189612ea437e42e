"""The generated staff UI (runtime layer, HTTP edge).

Server-rendered Jinja2 pages generated from metadata — nothing here is
written per entity — enhanced in the browser by a small bundle of npm
libraries (htmx, flatpickr, Tom Select, SortableJS) built by esbuild into
``static/dist`` (see ``package.json`` and ``./dev setup``). ``init_ui(app)``
installs the page blueprints, the static files, the template helpers and
the HTML error pages on an app that already has the JSON API (the UI shares
its authentication, CSRF protection, request context and error handler).
"""

from __future__ import annotations

from flask import Blueprint, Flask

from yunying.runtime.api.errors import HTML_ERRORS
from yunying.runtime.ui import (
    actions, auth, dashboards, detail, error_pages, excel_pages, forms, home, inbox, listing,
    lookups,
)
from yunying.runtime.ui.web import T, current_page, lang, tr

__all__ = ["init_ui"]

_PAGES = (auth, home, listing, forms, lookups, detail, inbox, actions, excel_pages, dashboards)


def init_ui(app: Flask) -> None:
    """Install the staff UI on ``app`` (after :func:`yunying.runtime.api.init_app`)."""
    app.register_blueprint(Blueprint("ui_static", __name__, static_folder="static",
                                     static_url_path="/static"))
    for page in _PAGES:
        app.register_blueprint(page.blueprint, template_folder="templates")
    app.jinja_env.globals.update(tr=tr, T=T, lang=lang, current_page=current_page)
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    app.extensions[HTML_ERRORS] = error_pages.render_error
