"""The `yunying` command: init, package validate / install / list, demo."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, inspect, text

from yunying.cli import cli
from yunying.runtime.installer import bundled_package_paths

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "packages"


@pytest.fixture
def run(database_url, tmp_path, monkeypatch):
    monkeypatch.setenv("YUNYING_DATABASE_URL", database_url)
    monkeypatch.setenv("YUNYING_INSTANCE", str(tmp_path / "instance"))
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(cli, list(args), catch_exceptions=False)
    return invoke


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_init_creates_platform_tables(run, database_url):
    result = run("init")
    assert result.exit_code == 0, result.output
    assert "revision 0001" in result.output
    assert "yy_metadata_item" in _tables(database_url)


def test_validate_reports_ok_for_bundled_packages(run):
    result = run("package", "validate", *bundled_package_paths())
    assert result.exit_code == 0, result.output
    assert "ok  materials 1.0.0" in result.output


def test_validate_reports_every_issue_and_exits_1(run):
    result = run("package", "validate", str(FIXTURES / "upgrade" / "v0_downgrade"),
                 str(FIXTURES / "bad_seed" / "seed"))
    assert result.exit_code == 1
    assert "missing_manifest" in result.output


def test_install_dry_run_prints_the_plan_and_changes_nothing(run, database_url):
    run("init")
    result = run("package", "install", "--dry-run", *bundled_package_paths())
    assert result.exit_code == 0, result.output
    assert "materials_requisition" in result.output
    assert "dry run: nothing changed" in result.output
    assert "materials_item" not in _tables(database_url)


def test_install_then_list(run, database_url):
    run("init")
    result = run("package", "install", *bundled_package_paths())
    assert result.exit_code == 0, result.output
    assert "seeded" in result.output
    listed = run("package", "list")
    assert "materials" in listed.output and "1.0.0" in listed.output
    assert "materials_requisition__lines" in _tables(database_url)


def test_lossy_install_fails_with_row_counts_and_exit_1(run, database_url):
    run("init")
    assert run("package", "install", str(FIXTURES / "upgrade" / "v1")).exit_code == 0
    assert run("package", "install", str(FIXTURES / "upgrade" / "v2")).exit_code == 0
    result = run("package", "install", str(FIXTURES / "upgrade" / "v3_lossy"))
    assert result.exit_code == 1
    assert "lossy_change" in result.output and "title" in result.output


def test_demo_without_serving_loads_demo_rows(run, database_url):
    result = run("demo", "--no-serve")
    assert result.exit_code == 0, result.output
    engine = create_engine(database_url)
    with engine.connect() as conn:
        count = conn.execute(text("SELECT count(*) FROM materials_requisition")).scalar()
    engine.dispose()
    assert count == 2
