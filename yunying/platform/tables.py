"""The platform's own tables (platform layer).

Described here with SQLAlchemy Core and created/changed only by the Alembic
migrations in ``yunying/platform/migrations`` (``yunying init`` runs them).
Entity tables live elsewhere (``runtime.entity``); platform tables all start
with ``yy_`` so the schema sync can tell them apart.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean, Column, Date, DateTime, Integer, MetaData, String, Text,
    Table, UniqueConstraint, Index,
)

__all__ = [
    "PLATFORM_PREFIX", "platform_metadata", "package", "metadata_version",
    "metadata_item", "dictionary_item", "number_sequence", "attachment",
]

PLATFORM_PREFIX = "yy_"

platform_metadata = MetaData()

#: one row per installed package (its current version).
package = Table(
    "yy_package", platform_metadata,
    Column("code", String(32), primary_key=True),
    Column("version", String(32), nullable=False),
    Column("name_zh", String(200), nullable=False),
    Column("name_en", String(200), nullable=False),
    Column("checksum", String(64), nullable=False),
    Column("installed_at", DateTime, nullable=False),
    Column("installed_by", String(64)),
    Column("metadata_version", Integer, nullable=False),
)

#: every publish of metadata (install, upgrade, later designer saves).
metadata_version = Table(
    "yy_metadata_version", platform_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("package", String(32), nullable=False),
    Column("package_version", String(32), nullable=False),
    Column("action", String(16), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("created_by", String(64)),
    Column("diff", Text, nullable=False),  # JSON: items added / changed / removed
    Column("plan", Text, nullable=False),  # JSON: the schema plan applied
)

#: the metadata items themselves, as validated JSON documents. ``layer`` is
#: ``package`` for a package's own items and ``local`` for the hospital's
#: overlay (kept apart so upgrades can merge three ways).
metadata_item = Table(
    "yy_metadata_item", platform_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("package", String(32), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("code", String(64), nullable=False),
    Column("layer", String(16), nullable=False, default="package"),
    Column("document", Text, nullable=False),
    Column("metadata_version", Integer, nullable=False),
    UniqueConstraint("package", "kind", "code", "layer",
                     name="uq_yy_metadata_item_key"),
)

#: dictionary items (code tables), effective-dated, optionally hierarchical.
dictionary_item = Table(
    "yy_dictionary_item", platform_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dictionary", String(80), nullable=False),
    Column("code", String(64), nullable=False),
    Column("name_zh", String(200), nullable=False),
    Column("name_en", String(200), nullable=False),
    Column("parent", String(64)),
    Column("sort", Integer, nullable=False, default=0),
    Column("valid_from", Date),
    Column("valid_to", Date),
    Column("active", Boolean(create_constraint=False), nullable=False, default=True),
    UniqueConstraint("dictionary", "code", name="uq_yy_dictionary_item_code"),
)

#: numbering counters: one row per rule and period.
number_sequence = Table(
    "yy_number_sequence", platform_metadata,
    Column("rule", String(120), primary_key=True),
    Column("period", String(16), primary_key=True),
    Column("value", Integer, nullable=False),
)

#: stored files referenced by attachment fields.
attachment = Table(
    "yy_attachment", platform_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("filename", String(255), nullable=False),
    Column("content_type", String(120), nullable=False),
    Column("size", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("storage_key", String(255), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("created_by", String(64)),
    Index("ix_yy_attachment_sha256", "sha256"),
)
