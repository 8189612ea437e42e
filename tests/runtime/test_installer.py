"""Package install and upgrade: one transaction, plans, refusals, seeds."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, inspect, select, text

from yunying.metadata.store import MetadataStore
from yunying.platform.context import Context
from yunying.platform.dictionaries import list_items
from yunying.platform.errors import InvalidPackage, LossyChange
from yunying.platform.tables import metadata_version
from yunying.runtime.installer import bundled_package_paths, install_packages

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CTX = Context(actor="tester")
UPGRADE = FIXTURES / "packages" / "upgrade"


def _count(db, sql: str) -> int:
    with db.connect() as conn:
        return conn.execute(text(sql)).scalar()


def _versions(db) -> int:
    with db.connect() as conn:
        return conn.execute(select(func.count()).select_from(metadata_version)).scalar()


def test_bundled_packages_install_with_tables_dictionaries_and_seeds(db):
    report = install_packages(db, bundled_package_paths(), CTX)
    assert report.applied
    assert report.actions == {"base": "install", "finance": "install", "materials": "install",
                              "performance": "install"}
    tables = set(inspect(db.engine).get_table_names())
    assert {"materials_item", "materials_requisition", "materials_requisition__lines",
            "materials_supplier", "materials_consumption"} <= tables
    assert _count(db, "SELECT count(*) FROM materials_item") == 9
    assert _count(db, "SELECT count(*) FROM materials_requisition") == 0  # demo not asked
    with db.connect() as conn:
        codes = [i.code for i in list_items(conn, "base.uom")]
        installed = {p.code: p.version for p in MetadataStore().installed(conn)}
    assert "box" in codes
    assert installed == {"base": "1.1.0", "finance": "1.0.0", "materials": "1.4.0",
                         "performance": "1.0.0"}


def test_demo_rows_load_only_when_asked_and_get_numbers(db):
    install_packages(db, bundled_package_paths(), CTX, with_demo=True)
    with db.connect() as conn:
        numbers = conn.execute(text(
            "SELECT number FROM materials_requisition ORDER BY id")).scalars().all()
        lines = conn.execute(text(
            "SELECT count(*) FROM materials_requisition__lines")).scalar()
    assert len(numbers) == 2 and all(n.startswith("LY") for n in numbers)
    assert len(set(numbers)) == 2
    assert lines == 3


def test_reinstall_is_idempotent(db):
    install_packages(db, bundled_package_paths(), CTX, with_demo=True)
    with db.connect() as conn:
        before = conn.execute(text(
            "SELECT code, version FROM materials_item ORDER BY code")).all()
    report = install_packages(db, bundled_package_paths(), CTX, with_demo=True)
    assert report.actions == {"base": "reinstall", "finance": "reinstall",
                              "materials": "reinstall", "performance": "reinstall"}
    assert report.plan.ops == ()
    with db.connect() as conn:
        after = conn.execute(text(
            "SELECT code, version FROM materials_item ORDER BY code")).all()
    assert before == after  # no version bumps for unchanged seed rows
    assert _count(db, "SELECT count(*) FROM materials_requisition") == 2  # demo not twice


def test_dry_run_changes_nothing(db):
    report = install_packages(db, bundled_package_paths(), CTX, dry_run=True)
    assert not report.applied
    assert any(op.kind == "create_table" for op in report.plan.ops)
    assert "materials_item" not in inspect(db.engine).get_table_names()
    assert _versions(db) == 0


def test_upgrade_widens_adds_renames_and_keeps_data(db):
    install_packages(db, [UPGRADE / "v1"], CTX)
    report = install_packages(db, [UPGRADE / "v2"], CTX)
    assert report.actions == {"wardlog": "upgrade"}
    kinds = {op.kind for op in report.plan.ops}
    assert {"widen_type", "add_column", "rename_column", "add_index"} <= kinds
    with db.connect() as conn:
        rows = conn.execute(text(
            "SELECT code, new_name FROM wardlog_note ORDER BY code")).all()
    assert rows == [("N1", "甲"), ("N2", "乙"), ("N3", None)]
    assert _versions(db) == 2


def test_lossy_upgrade_is_refused_and_nothing_changes(db):
    install_packages(db, [UPGRADE / "v1"], CTX)
    install_packages(db, [UPGRADE / "v2"], CTX)
    with pytest.raises(LossyChange) as caught:
        install_packages(db, [UPGRADE / "v3_lossy"], CTX)
    refusals = caught.value.details["refusals"]
    assert [(r["table"], r["column"], r["rows"]) for r in refusals] == [
        ("wardlog_note", "title", 1)]  # only "Long enough title" exceeds 8
    columns = {c["name"]: c for c in inspect(db.engine).get_columns("wardlog_note")}
    assert columns["title"]["type"].length == 100
    with db.connect() as conn:
        assert MetadataStore().installed_versions(conn)["wardlog"] == "1.1.0"
    assert _versions(db) == 2


def test_narrowing_applies_when_existing_values_fit(db):
    install_packages(db, [UPGRADE / "v1"], CTX)
    install_packages(db, [UPGRADE / "v2"], CTX)
    with db.begin() as conn:
        conn.execute(text("UPDATE wardlog_note SET title = 'short'"))
    report = install_packages(db, [UPGRADE / "v3_lossy"], CTX)
    assert report.refusals == ()
    columns = {c["name"]: c for c in inspect(db.engine).get_columns("wardlog_note")}
    assert columns["title"]["type"].length == 8


def test_downgrade_is_refused(db):
    install_packages(db, [UPGRADE / "v1"], CTX)
    with pytest.raises(InvalidPackage) as caught:
        install_packages(db, [UPGRADE / "v0_downgrade"], CTX)
    assert [i.code for i in caught.value.issues] == ["downgrade"]


def test_bad_seed_rows_are_located_and_nothing_is_written(db):
    with pytest.raises(InvalidPackage) as caught:
        install_packages(db, [FIXTURES / "packages" / "bad_seed"], CTX)
    found = sorted((i.code, i.path) for i in caught.value.issues)
    assert found == [
        ("invalid_seed", "$.rows[1].price"),
        ("invalid_seed", "$.rows[2].parent"),
        ("invalid_seed", "$.rows[3].code"),
    ]
    assert all(i.file.endswith("drug.yaml") for i in caught.value.issues)
    assert "badseed_drug" not in inspect(db.engine).get_table_names()
    assert _versions(db) == 0
