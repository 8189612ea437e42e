"""Database identifier names for entity tables, constraints and indexes.

PostgreSQL truncates identifiers at 63 bytes; names that would exceed it keep
a readable prefix and end with a short hash so they stay unique and stable.
"""

from __future__ import annotations

import hashlib

__all__ = ["MAX_IDENTIFIER", "identifier", "constraint_name"]

MAX_IDENTIFIER = 63


def identifier(name: str) -> str:
    if len(name) <= MAX_IDENTIFIER:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:8]
    return f"{name[:MAX_IDENTIFIER - 9]}_{digest}"


def constraint_name(kind: str, table: str, *columns: str) -> str:
    """``constraint_name('uq', 'materials_item', 'code')`` → ``uq_materials_item_code``."""
    return identifier("_".join((kind, table, *columns)))
