"""Batched inserts of generated rows (runtime layer, data generator).

Generated rows go straight into the entity tables with SQLAlchemy Core
``executemany`` — 10,000 rows a batch by default — **bypassing the record
service**: no validation, no computed fields, no numbering, no audit event
per row, no workflow. The generator is responsible for drawing rows that fit
the fields (its package check verifies the generators against the entity
fields); the system columns are filled here (version 1, created/updated at
the generation time by the operator).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable, Mapping

from sqlalchemy import Connection, Table

__all__ = ["BatchWriter", "BATCH_ROWS"]

BATCH_ROWS = 10_000


class BatchWriter:
    """Buffers rows per entity table and inserts them a batch at a time."""

    def __init__(self, conn: Connection, tables: Mapping[str, Table], *, actor: str,
                 now: datetime, batch: int = BATCH_ROWS,
                 progress: Callable[[str], None] | None = None) -> None:
        self._conn = conn
        self._tables = tables
        self._batch = batch
        self._say = progress or (lambda _m: None)
        self._system = {"version": 1, "created_at": now, "created_by": actor[:64],
                        "updated_at": now, "updated_by": actor[:64]}
        self._buffers: dict[str, list[dict[str, Any]]] = {code: [] for code in tables}
        self.written: dict[str, int] = {code: 0 for code in tables}

    def add(self, entity: str, row: dict[str, Any]) -> None:
        """Queue one row of ``entity`` (field code → value)."""
        buffer = self._buffers[entity]
        row.update(self._system)
        buffer.append(row)
        if len(buffer) >= self._batch:
            self._flush(entity)

    def close(self) -> dict[str, int]:
        """Insert what is left; returns the rows written per entity."""
        for entity in self._buffers:
            self._flush(entity)
        return dict(self.written)

    def _flush(self, entity: str) -> None:
        buffer = self._buffers[entity]
        if not buffer:
            return
        self._conn.execute(self._tables[entity].insert(), buffer)
        self.written[entity] += len(buffer)
        self._buffers[entity] = []
        if len(buffer) >= self._batch:
            self._say(f"{entity}: {self.written[entity]} rows")
