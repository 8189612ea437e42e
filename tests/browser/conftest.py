"""Browser fixtures: Playwright (sync API) driving Debian's Chromium against a
live Yunying server.

One server per test worker (session scope): a real app over a database of its
own (SQLite file, or ``<db>_<suffix><worker>_browser`` on PostgreSQL so the
worker's other tests, which wipe their database per test, never touch it),
migrated, with the bundled packages and their demo data installed, served by
werkzeug in a daemon thread. One Chromium per worker; every test gets a fresh
browser context (no cookies) at 1366×768 in zh-CN, and fails when the page
logged a JavaScript error.

Every browser test module carries ``pytest.mark.browser`` and
``pytest.mark.xdist_group("browser")`` so ``--dist loadgroup`` keeps them on
one worker (one server, one browser).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from werkzeug.serving import WSGIRequestHandler, make_server

from browser_helpers import (
    ARTIFACTS, BUNDLE, CHROMIUM, CHROMIUM_ARGS, DEMO_PASSWORD, LiveServer, PageWatch,
    prepare_users,
)
from yunying.app import create_app, services
from yunying.platform import migrate
from yunying.platform.context import Context
from yunying.runtime.installer import bundled_package_paths, install_packages

PG_URL = os.environ.get("YUNYING_TEST_DATABASE_URL", "")
INSTALLER = Context(actor="browser-tests")


def _pg_browser_url() -> str:
    """A PostgreSQL database of this worker's browser server, emptied."""
    base = make_url(PG_URL)
    suffix = os.environ.get("YUNYING_TEST_DB_SUFFIX", "")
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"{base.database}_{suffix}{worker}_browser"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                            {"n": name}).first():
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = base.set(database=name)
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return url.render_as_string(hide_password=False)


class _QuietHandler(WSGIRequestHandler):
    """Log only the requests the server failed (5xx), not every asset."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if str(code).startswith("5"):
            super().log_request(code, size)


@pytest.fixture(scope="session")
def browser_database_url(tmp_path_factory) -> str:
    if PG_URL:
        return _pg_browser_url()
    return f"sqlite:///{tmp_path_factory.mktemp('browser-db') / 'yunying.db'}"


@pytest.fixture(scope="session")
def live_server(browser_database_url, tmp_path_factory) -> Iterator[LiveServer]:
    """The app with the bundled packages and demo data, served on a free port."""
    if not BUNDLE.is_file():
        pytest.fail(f"the front-end bundle {BUNDLE} is missing: run ./dev setup "
                    "(it builds static/dist with npm and esbuild)", pytrace=False)
    app = create_app({"DATABASE_URL": browser_database_url,
                      "INSTANCE_PATH": str(tmp_path_factory.mktemp("browser-instance")),
                      "SECRET_KEY": "browser-test-secret", "SESSION_COOKIE_SECURE": False})
    db = services(app).db
    migrate.upgrade(db)
    install_packages(db, bundled_package_paths(), INSTALLER, with_demo=True)
    prepare_users(app, INSTALLER)
    server = make_server("127.0.0.1", 0, app, threaded=True,
                         request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="browser-live-server",
                              daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.server_port}", app, DEMO_PASSWORD)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        services(app).close()


@pytest.fixture(scope="session")
def chromium():
    """One headless Chromium for the worker (Debian's, never a downloaded one)."""
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"{CHROMIUM} is missing: the browser tests need Debian's chromium "
                    "package; install it with .ci/browser", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _accept_confirms(page) -> None:
    """Answer ``[data-confirm]`` questions (window.confirm) with OK."""
    page.on("dialog", lambda dialog: dialog.accept())


@pytest.fixture
def watch() -> PageWatch:
    """The JavaScript errors (console errors, uncaught exceptions, failed
    assets) of this test's pages; the ``page`` fixture asserts there are none."""
    return PageWatch()


@pytest.fixture
def page(chromium, live_server, watch):
    """A fresh page (its own cookies) at 1366×768 in zh-CN on the live server."""
    context = chromium.new_context(base_url=live_server.url, locale="zh-CN",
                                   viewport={"width": 1366, "height": 768},
                                   accept_downloads=True)
    context.set_default_timeout(10_000)
    context.on("page", watch.attach)
    context.on("page", _accept_confirms)
    first = context.new_page()
    yield first
    context.close()
    watch.assert_clean()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where screenshots go (``$YUNYING_ARTIFACTS`` or tests/browser/artifacts)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
