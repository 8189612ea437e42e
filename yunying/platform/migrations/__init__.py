"""Alembic migrations of the platform's own tables (run by ``yunying init``)."""
