"""The metadata store: record versions, rebuild installed specs, diff, local layer."""

from __future__ import annotations

import json
import shutil
from datetime import datetime

import pytest
from sqlalchemy import insert, select

from yunying.metadata.loader import load_package, load_packages
from yunying.metadata.store import MetadataStore
from yunying.platform.tables import metadata_item, metadata_version, package

from metadata_paths import GOOD, MODULES

NOW = datetime(2026, 11, 25, 9, 30)
LATER = datetime(2026, 12, 1, 8, 0)
PLAN = [{"kind": "create_table", "table": "clinic_room"}]


def _record_all(db, specs, *, now=NOW):
    store = MetadataStore()
    with db.begin() as conn:
        return [store.record(conn, spec, actor="admin", now=now, plan=PLAN) for spec in specs]


@pytest.fixture
def specs():
    """base, clinic, finance, materials, ward — in dependency order."""
    return load_packages([MODULES / "base", MODULES / "finance", MODULES / "materials",
                          GOOD / "clinic", GOOD / "ward"])


@pytest.fixture
def bundled_specs(specs):
    """base, finance and materials."""
    return [s for s in specs if s.code in ("base", "finance", "materials")]


def test_an_empty_store(db):
    store = MetadataStore()
    with db.connect() as conn:
        assert store.installed(conn) == []
        assert store.installed_versions(conn) == {}
        assert store.current_version(conn) == 0


def test_recorded_packages_are_rebuilt_into_equal_specs(db, specs):
    assert _record_all(db, specs) == [1, 2, 3, 4, 5]
    store = MetadataStore()
    with db.connect() as conn:
        installed = store.installed(conn)
        assert installed == specs
        assert [s.code for s in installed] == ["base", "clinic", "finance", "materials", "ward"]
        assert store.installed_versions(conn) == {
            "base": "1.1.0", "finance": "1.0.0", "materials": "1.4.0", "clinic": "1.2.3",
            "ward": "0.1.0"}
        assert store.current_version(conn) == 5


def test_installed_specs_come_in_dependency_order(db, specs):
    _record_all(db, reversed(specs))
    with db.connect() as conn:
        order = [s.code for s in MetadataStore().installed(conn)]
    assert order.index("base") < order.index("materials")
    assert order.index("base") < order.index("clinic") < order.index("ward")


def test_first_record_is_an_install_with_everything_added(db, bundled_specs):
    _record_all(db, bundled_specs)
    with db.connect() as conn:
        rows = conn.execute(select(metadata_version).order_by(metadata_version.c.id)).all()
        pkg = conn.execute(select(package).where(package.c.code == "materials")).one()
        items = conn.execute(select(metadata_item.c.kind, metadata_item.c.code,
                                    metadata_item.c.metadata_version)
                             .where(metadata_item.c.package == "materials")
                             .order_by(metadata_item.c.id)).all()
    assert [(r.package, r.package_version, r.action, r.created_by, r.created_at)
            for r in rows] == [("base", "1.1.0", "install", "admin", NOW),
                               ("finance", "1.0.0", "install", "admin", NOW),
                               ("materials", "1.4.0", "install", "admin", NOW)]
    assert json.loads(rows[2].plan) == PLAN
    expected = [("package", "materials"),
                ("entity", "consumption"), ("entity", "item"), ("entity", "requisition"),
                ("entity", "supplier"),
                ("dictionary", "material_category"), ("dictionary", "requisition_urgency"),
                ("dictionary", "visit_type"),
                ("seed", "seed/item.yaml"),
                ("demo", "demo/consumption.yaml"), ("demo", "demo/requisition.yaml"),
                ("demo", "demo/supplier.yaml"),
                ("role", "auditor"), ("role", "manager"), ("role", "requester"),
                ("role", "storekeeper"), ("role", "viewer"),
                ("org", "org/demo_grants.yaml"),
                ("workflow", "requisition_large"), ("workflow", "requisition_standard"),
                ("posting", "spd_consumption")]
    assert json.loads(rows[2].diff) == {
        "added": [{"kind": kind, "code": code} for kind, code in expected],
        "changed": [], "removed": []}
    assert (pkg.version, pkg.name_zh, pkg.name_en, pkg.installed_by, pkg.metadata_version,
            pkg.installed_at, pkg.checksum) == (
        "1.4.0", "物资管理", "Materials management", "admin", 3, NOW, bundled_specs[2].checksum)
    assert sorted(items) == sorted((kind, code, 3) for kind, code in expected)


def _upgraded_clinic(tmp_path):
    """clinic 1.3.0: room gains a field, a dictionary is added, the demo file is gone."""
    root = shutil.copytree(GOOD / "clinic", tmp_path / "clinic")
    manifest = root / "package.yaml"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace("1.2.3", "1.3.0"),
                        encoding="utf-8")
    room = root / "entities" / "room.yaml"
    room.write_text(room.read_text(encoding="utf-8") +
                    "  - {code: phone, type: string, length: 20, name: {zh: 电话, en: Phone}}\n",
                    encoding="utf-8")
    (root / "dictionaries" / "shift.yaml").write_text(
        "code: shift\nname: {zh: 班次, en: Shift}\nitems:\n"
        "  - {code: am, name: {zh: 上午, en: Morning}}\n", encoding="utf-8")
    (root / "demo" / "visit.yaml").unlink()
    return root


def test_an_upgrade_records_the_diff_and_replaces_the_items(db, tmp_path):
    base = load_package(MODULES / "base")
    clinic = load_package(GOOD / "clinic", available={"base": base})
    _record_all(db, [base, clinic])
    newer = load_package(_upgraded_clinic(tmp_path), available={"base": base})
    store = MetadataStore()
    with db.begin() as conn:
        version = store.record(conn, newer, actor="upgrader", now=LATER, plan=[])
    with db.connect() as conn:
        [first, second] = store.history(conn, "clinic")
        installed = {s.code: s for s in store.installed(conn)}
        pkg = conn.execute(select(package).where(package.c.code == "clinic")).one()
        kinds = conn.execute(select(metadata_item.c.kind, metadata_item.c.code)
                             .where(metadata_item.c.package == "clinic")).all()
    assert version == 3
    assert (first["action"], second["action"], second["package_version"]) == (
        "install", "upgrade", "1.3.0")
    assert second["diff"] == {
        "added": [{"kind": "dictionary", "code": "shift"}],
        "changed": [{"kind": "package", "code": "clinic"}, {"kind": "entity", "code": "room"}],
        "removed": [{"kind": "demo", "code": "demo/visit.yaml"}],
    }
    assert second["plan"] == [] and second["created_by"] == "upgrader"
    assert installed["clinic"] == newer and installed["base"] == base
    assert (pkg.version, pkg.metadata_version, pkg.installed_by, pkg.installed_at,
            pkg.checksum) == ("1.3.0", 3, "upgrader", LATER, newer.checksum)
    assert ("demo", "demo/visit.yaml") not in set(kinds)


def test_recording_the_same_version_again_changes_nothing_in_the_items(db, specs):
    _record_all(db, specs[:1])
    _record_all(db, specs[:1], now=LATER)
    with db.connect() as conn:
        history = MetadataStore().history(conn, "base")
        assert MetadataStore().installed(conn) == specs[:1]
    assert [h["action"] for h in history] == ["install", "upgrade"]
    assert history[1]["diff"] == {"added": [], "changed": [], "removed": []}


def test_local_layer_rows_are_left_alone_and_not_part_of_the_package(db, bundled_specs):
    local = {"package": "materials", "kind": "entity", "code": "item", "layer": "local",
             "document": json.dumps({"fields": [{"code": "extra"}]}), "metadata_version": 0}
    with db.begin() as conn:
        conn.execute(insert(metadata_item).values(**local))
    _record_all(db, bundled_specs)
    _record_all(db, bundled_specs, now=LATER)
    with db.connect() as conn:
        rows = conn.execute(select(metadata_item.c.layer, metadata_item.c.document,
                                   metadata_item.c.metadata_version)
                            .where(metadata_item.c.package == "materials",
                                   metadata_item.c.kind == "entity",
                                   metadata_item.c.code == "item")
                            .order_by(metadata_item.c.layer)).all()
        assert MetadataStore().installed(conn) == bundled_specs
    assert [(r.layer, r.metadata_version) for r in rows] == [("local", 0), ("package", 6)]
    assert rows[0].document == local["document"]


def test_a_failed_transaction_records_nothing(db, specs):
    store = MetadataStore()
    with pytest.raises(RuntimeError):
        with db.begin() as conn:
            store.record(conn, specs[0], actor="admin", now=NOW, plan=[])
            raise RuntimeError("the schema plan failed")
    with db.connect() as conn:
        assert store.current_version(conn) == 0
        assert store.installed(conn) == []
