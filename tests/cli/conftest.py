"""CLI fixtures: ``run`` invokes ``yunying`` on a fresh, initialised
database; ``database`` opens that database directly for assertions."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from yunying.cli import cli
from yunying.platform.database import Database


@pytest.fixture
def run(database_url, tmp_path, monkeypatch):
    monkeypatch.setenv("YUNYING_DATABASE_URL", database_url)
    monkeypatch.setenv("YUNYING_INSTANCE", str(tmp_path / "instance"))
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(cli, list(args), input=input, catch_exceptions=False)
    assert invoke("init").exit_code == 0
    return invoke


@pytest.fixture
def database(database_url):
    database = Database(database_url)
    yield database
    database.dispose()
