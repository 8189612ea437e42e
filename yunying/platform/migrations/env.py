"""Alembic environment: always runs on a connection handed in by
:func:`yunying.platform.migrate.upgrade` (no ini file, no URL of its own)."""

from alembic import context

from yunying.platform.tables import platform_metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=platform_metadata,
    version_table="yy_alembic_version",
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
