from sqlalchemy import inspect

from yunying.platform import migrate
from yunying.platform.tables import platform_metadata


def test_migrations_create_every_platform_table(db):
    names = set(inspect(db.engine).get_table_names())
    assert set(platform_metadata.tables) <= names
    assert migrate.current_revision(db) == migrate.head_revision()


def test_upgrade_is_idempotent(db):
    migrate.upgrade(db)
    assert migrate.current_revision(db) == migrate.head_revision()
