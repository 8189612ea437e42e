"""Installed databases for the tests (imported as a plain module; it imports
no other test module, so tests outside tests/web use it as
``web.ui_db_helpers``).

Installing the bundled packages (and the demo hospital) costs seconds, and
most staff-UI tests need a database in that state, not one they built
themselves. Two ways to share the work, both on SQLite and PostgreSQL:

- :func:`module_database`: one empty database for the app a test module
  shares (its tests make their own records, or only read);
- :class:`Templates` (the ``ui_templates`` fixture of tests/web, one per test
  session and xdist worker; ``ui_helpers.copied_app`` builds an app over a
  copy): a kind of installed database is built once, and every test
  gets a pristine copy of it — on SQLite the file copied with SQLite's backup
  API, on PostgreSQL ``CREATE DATABASE … TEMPLATE`` — so a test that writes
  never changes what another one sees, whatever the order.

On PostgreSQL each of these is a database of its own next to the worker's
(``<worker db>_<name>``), so the per-test schema resets of the other modules
on the same worker never touch it.
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import OperationalError

__all__ = ["module_database", "Templates", "Builder"]

#: builds a kind of database: installs into the empty database at the URL
#: (it may write files in the folder) and closes every connection it opened.
Builder = Callable[[str, Path], None]


def _admin_run(url: URL, *statements: str) -> None:
    """Run statements outside a transaction on the server of ``url``, retrying
    while another CREATE DATABASE is copying template1 right now."""
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        for attempt in range(5):
            try:
                with admin.connect() as conn:
                    for statement in statements:
                        conn.execute(text(statement))
                return
            except OperationalError:
                if attempt == 4:
                    raise
                time.sleep(1)
    finally:
        admin.dispose()


def _pg_name(worker: URL, name: str) -> str:
    return f"{worker.database}_{name}"[:63]


def module_database(tmp_path: Path, pg_worker_url: URL | None, name: str) -> str:
    """An empty database for one test module's shared app: a SQLite file, or
    on PostgreSQL a database of its own (``<worker db>_<name>``)."""
    if pg_worker_url is None:
        return f"sqlite:///{tmp_path / 'yunying.db'}"
    database = _pg_name(pg_worker_url, name)
    _admin_run(pg_worker_url, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)',
               f'CREATE DATABASE "{database}"')
    return pg_worker_url.set(database=database).render_as_string(hide_password=False)


class Templates:
    """Installed databases built once a session, copied for every test."""

    def __init__(self, folder: Path, pg_worker_url: URL | None) -> None:
        self._folder = folder
        self._pg = pg_worker_url
        self._built: set[str] = set()
        self._live: set[str] = set()

    @contextmanager
    def copy(self, kind: str, build: Builder, where: Path) -> Iterator[str]:
        """The URL of a pristine copy of the ``kind`` database (built by
        ``build`` on first use), for as long as the block runs; ``where`` is
        a folder of the caller's (the SQLite file goes there). PostgreSQL
        copies a template only while nobody is connected to it: ``build``
        closes what it opened."""
        if kind not in self._built:
            self._build(kind, build)
            self._built.add(kind)
        if self._pg is None:
            yield self._sqlite_copy(kind, where / f"{kind}.db")
            return
        # one name per copy alive at once (a module's app and a test's)
        name = next(n for n in (f"{kind}_copy{i}" for i in range(99)) if n not in self._live)
        self._live.add(name)
        try:
            copy = _pg_name(self._pg, name)
            _admin_run(self._pg, f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)',
                       f'CREATE DATABASE "{copy}" TEMPLATE "{_pg_name(self._pg, kind)}"')
            yield self._pg.set(database=copy).render_as_string(hide_password=False)
        finally:
            self._live.discard(name)

    def _sqlite_copy(self, kind: str, target: Path) -> str:
        source = sqlite3.connect(self._folder / f"{kind}.db")
        copied = sqlite3.connect(target)
        try:
            source.backup(copied)
        finally:
            source.close()
            copied.close()
        return f"sqlite:///{target}"

    def _build(self, kind: str, build: Builder) -> None:
        if self._pg is None:
            path = self._folder / f"{kind}.db"
            for leftover in (path, path.with_suffix(".db-wal"), path.with_suffix(".db-shm")):
                leftover.unlink(missing_ok=True)  # of a build that failed
            url = f"sqlite:///{path}"
        else:
            url = module_database(self._folder, self._pg, kind)
        build(url, self._folder / kind)
