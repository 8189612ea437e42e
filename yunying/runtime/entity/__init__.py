"""Entity specs turned into SQLAlchemy tables (runtime layer)."""
