"""The per-application service container (runtime layer).

One :class:`Services` per Flask app, kept in ``app.extensions["yunying"]``.
It holds the database and hands out the current :class:`Registry`,
:class:`RecordService`, :class:`WorkflowEngine` (with the app's
:class:`Notifier`) and :class:`IndicatorEngine`; when another process (the
CLI) installs a package the metadata version in the database moves on and the
next request rebuilds them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Mapping

from sqlalchemy import Connection

from yunying.metadata.store import MetadataStore
from yunying.platform.access import AccessControl
from yunying.platform.database import Database
from yunying.platform.notifications import Notifier
from yunying.runtime.formula import sql_functions
from yunying.runtime.indicators.compute import IndicatorEngine
from yunying.runtime.records import RecordService
from yunying.runtime.registry import Registry
from yunying.runtime.workflow.engine import WorkflowEngine

__all__ = ["Services", "Runtime"]


@dataclass(frozen=True)
class Runtime:
    """The registry and the services built for it: one consistent snapshot."""

    registry: Registry
    records: RecordService
    workflow: WorkflowEngine
    indicators: IndicatorEngine


class Services:
    def __init__(self, db: Database, config: Mapping[str, Any]) -> None:
        self.db = db
        # formula SQL on SQLite calls the formula language's user functions
        db.on_sqlite_connect(sql_functions.register)
        self.config = config
        self.store = MetadataStore()
        self.access = AccessControl(db)
        #: in-app notifications; other channels (e-mail, WeCom) plug in here
        self.notifier = Notifier()
        self._lock = threading.Lock()
        self._runtime: Runtime | None = None

    def runtime(self, conn: Connection | None = None) -> Runtime:
        """The runtime for the metadata version currently in the database."""
        if conn is None:
            with self.db.connect() as own:
                return self.runtime(own)
        version = self.store.current_version(conn)
        current = self._runtime
        if current is not None and current.registry.metadata_version == version:
            return current
        with self._lock:
            current = self._runtime
            if current is None or current.registry.metadata_version != version:
                registry = Registry.from_packages(
                    self.store.installed(conn), metadata_version=version)
                records = RecordService(registry)
                current = Runtime(registry, records,
                                  WorkflowEngine(registry, records, self.notifier),
                                  IndicatorEngine(registry, self.db.dialect))
                self._runtime = current
            return current

    def close(self) -> None:
        self.db.dispose()
