"""The database handle of one application: engine, dialect quirks, transactions.

Each app builds its own :class:`Database`; nothing here is module-global, so two
apps in one process share no connections. SQLite is the embedded default and
is configured for real transactions (DDL included), foreign keys and WAL;
PostgreSQL needs no adjustment.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from sqlalchemy import Connection, create_engine, event
from sqlalchemy.engine import Engine, make_url

__all__ = ["Database", "IntegrityViolation"]


class IntegrityViolation(RuntimeError):
    """Rows that break a foreign key were found before a schema commit."""

    def __init__(self, rows) -> None:
        super().__init__(f"foreign key violations: {rows[:5]!r}")
        self.rows = rows

# SQLite has no decimal type; Numeric values are stored as REAL and returned as
# Decimal rounded to the column's scale. Yunying documents the resulting limit
# (15 significant digits on SQLite) instead of warning on every statement.
warnings.filterwarnings(
    "ignore", message=r"Dialect sqlite\+pysqlite does \*not\* support Decimal")


class Database:
    """An engine plus the few helpers every service needs."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = make_url(url)
        kwargs: dict = {"echo": echo, "future": True}
        if self.url.get_backend_name() == "sqlite":
            kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
            if self.url.database and self.url.database != ":memory:":
                # SQLite creates the file but not its folder
                Path(self.url.database).parent.mkdir(parents=True, exist_ok=True)
        else:
            kwargs["pool_pre_ping"] = True
        self.engine: Engine = create_engine(self.url, **kwargs)
        self._sqlite_hooks: list[Callable[[Any], None]] = []
        if self.dialect == "sqlite":
            _configure_sqlite(self.engine, self._sqlite_hooks)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def on_sqlite_connect(self, callback: Callable[[Any], None]) -> None:
        """Run ``callback(dbapi_connection)`` once on every SQLite connection —
        those already pooled too — before it is used (e.g. to register user
        functions). Registering the same callback again does nothing; on other
        databases nothing happens.
        """
        if self.dialect == "sqlite" and callback not in self._sqlite_hooks:
            self._sqlite_hooks.append(callback)

    @contextmanager
    def begin(self, *, write: bool = False) -> Iterator[Connection]:
        """One transaction: commit on success, roll back on any exception.

        ``write=True`` declares that the transaction will write. On SQLite it
        then starts with ``BEGIN IMMEDIATE``: a transaction that reads first
        and writes later cannot upgrade its lock once another writer has
        committed (``SQLITE_BUSY`` without waiting), so writers queue up front
        on the busy timeout instead. PostgreSQL needs nothing.
        """
        with self.engine.connect() as conn:
            if write:
                conn.execution_options(yy_write=True)
            with conn.begin():
                yield conn

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    @contextmanager
    def schema_transaction(self) -> Iterator[Connection]:
        """A transaction for schema changes (DDL plus data), all or nothing.

        On SQLite, rebuilding a table (Alembic batch mode) drops and recreates
        it; with foreign keys enforced that drop would cascade into child
        tables. SQLite only honours ``PRAGMA foreign_keys`` outside a
        transaction, so it is switched off before BEGIN, the references are
        verified with ``foreign_key_check`` before COMMIT, and switched back on.
        """
        if self.dialect != "sqlite":
            with self.engine.begin() as conn:
                yield conn
            return
        with self.engine.connect() as conn:
            raw = conn.connection.dbapi_connection
            raw.execute("PRAGMA foreign_keys=OFF")
            try:
                with conn.execution_options(yy_write=True).begin():
                    yield conn
                    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise IntegrityViolation(broken)
            finally:
                raw.execute("PRAGMA foreign_keys=ON")

    def dispose(self) -> None:
        self.engine.dispose()


def _configure_sqlite(engine: Engine, hooks: list[Callable[[Any], None]]) -> None:
    # pysqlite's own transaction handling skips BEGIN before DDL, which would
    # make schema changes impossible to roll back. Take control of BEGIN.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # pragma: no cover - trivial
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        if engine.url.database not in (None, "", ":memory:"):
            cur.execute("PRAGMA journal_mode=WAL")
        cur.close()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_conn, record, _proxy):  # pragma: no cover - trivial
        # record.info lives as long as this DBAPI connection: each hook runs once on it
        ran = record.info.get("yy_sqlite_hooks", 0)
        if ran < len(hooks):
            for hook in hooks[ran:]:
                hook(dbapi_conn)
            record.info["yy_sqlite_hooks"] = len(hooks)

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # pragma: no cover - trivial
        write = conn.get_execution_options().get("yy_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
