"""Run the platform's Alembic migrations programmatically (platform layer)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from yunying.platform.database import Database

__all__ = ["upgrade", "current_revision", "head_revision"]

_SCRIPT_LOCATION = "yunying.platform:migrations"


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", _SCRIPT_LOCATION)
    return cfg


def upgrade(db: Database, revision: str = "head") -> None:
    """Bring the platform tables to ``revision`` in one transaction."""
    cfg = _config()
    with db.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def current_revision(db: Database) -> str | None:
    with db.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"version_table": "yy_alembic_version"})
        return ctx.get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_config()).get_current_head()
