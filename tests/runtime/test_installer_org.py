"""Org data in package installs: applied with the install (demo documents
only with demo data on a first install), upgrades change what the package
changed and keep local changes, and a refusal rolls the whole install back."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from yunying.platform import org, org_admin
from yunying.platform.access import AccessControl
from yunying.platform.context import Context
from yunying.platform.errors import InvalidPackage
from yunying.platform.org import OrgUnit
from yunying.platform.tables import metadata_version, org_tree, org_unit
from yunying.runtime.installer import bundled_package_paths, install_packages

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "packages" / "org_upgrade"
INSTALL_DAY = date(2026, 3, 1)
CTX = Context(actor="tester", clock=lambda: datetime(2026, 3, 1, 9, 30))


def _units(db) -> list[str]:
    with db.connect() as conn:
        return conn.execute(select(org_unit.c.code).order_by(org_unit.c.code)).scalars().all()


def test_org_data_is_applied_and_demo_documents_only_when_asked(db):
    said: list[str] = []
    report = install_packages(db, [FIXTURE / "v1"], CTX, progress=said.append)
    assert report.org is not None
    assert report.org.documents == ("orgfix/org/hospital.yaml",)
    assert report.org.counts["units_created"] == 3 and report.org.new_users == ("u1",)
    assert "org data: 1 trees created, 2 locations created, 3 units created" in "\n".join(said)
    assert any("yunying user set-password u1" in line for line in said)
    assert _units(db) == ["D1", "D2", "H"]
    with db.connect() as conn:
        assert org.descendants(conn, "fx_admin", "H", date(2020, 1, 1)) == ["D1", "D2"]
        assert org.location_of(conn, "D1", date(2020, 1, 1)) == "L1"
        assert [(a.role, a.domain) for a in AccessControl(db).assignments(conn, "u1")] == [
            ("platform.admin", "*")]
    # demo data on a reinstall is not a first install: still no demo unit
    again = install_packages(db, [FIXTURE / "v1"], CTX, with_demo=True)
    assert again.org is not None and not again.org.changed
    assert "DEMO" not in _units(db)


def test_demo_org_data_on_a_first_install(db):
    report = install_packages(db, [FIXTURE / "v1"], CTX, with_demo=True)
    assert report.org is not None
    assert report.org.documents == ("orgfix/org/demo.yaml", "orgfix/org/hospital.yaml")
    with db.connect() as conn:
        assert org.ancestors(conn, "fx_admin", "DEMO", INSTALL_DAY) == ["H"]


def test_an_upgrade_changes_what_the_package_changed_and_keeps_local_changes(db):
    install_packages(db, [FIXTURE / "v1"], CTX)
    with db.begin(write=True) as conn:  # the hospital's own changes
        org.move_location(conn, "D2", "L1", date(2026, 1, 1))
        org.set_head(conn, "H", "local.head", date(2026, 1, 1))
        org_admin.update_unit(conn, "H", name_en="Local Hospital")
    report = install_packages(db, [FIXTURE / "v2"], CTX)
    assert report.actions == {"orgfix": "upgrade"}
    assert report.org is not None
    assert report.org.counts == {"units_updated": 1, "units_moved": 1, "units_reparented": 1}
    before, after = date(2026, 2, 28), INSTALL_DAY
    with db.connect() as conn:
        assert org.ancestors(conn, "fx_admin", "D2", before) == ["H"]
        assert org.ancestors(conn, "fx_admin", "D2", after) == ["D1", "H"]
        assert org.location_of(conn, "D1", before) == "L1"
        assert org.location_of(conn, "D1", after) == "L2"
        assert org.location_of(conn, "D2", after) == "L1"     # local, kept
        heads = org.heads_above(conn, "u1", "fx_admin", after)
        assert [h.user for h in heads] == ["local.head"]      # local, kept
        names = dict(conn.execute(select(org_unit.c.code, org_unit.c.name_en)).all())
    assert names == {"H": "Local Hospital", "D1": "First department",  # H: local, kept
                     "D2": "Department 2"}


def test_bundled_packages_bring_their_trees_and_a_demo_hospital(db):
    install_packages(db, bundled_package_paths(), CTX)
    with db.connect() as conn:
        trees = conn.execute(select(org_tree.c.code, org_tree.c.valid_from)).all()
    assert sorted(trees) == [("admin", date(1900, 1, 1)), ("cost", date(1900, 1, 1)),
                             ("discipline", date(1900, 1, 1))]
    assert _units(db) == []


def test_bundled_demo_hospital_with_role_grants(db):
    # today's clock: the demo requisitions may not lie in the future
    report = install_packages(db, bundled_package_paths(), Context(actor="tester"),
                              with_demo=True)
    assert report.org is not None and report.org.counts["roles_granted"] >= 1
    with db.connect() as conn:
        assert "CARD-W1" in org.descendants(conn, "admin", "HOSP", INSTALL_DAY)
        held = AccessControl(db).assignments(conn, "li.na")
    assert [(a.role, a.domain) for a in held] == [("materials.requester", "EAST")]


def test_a_refused_org_item_rolls_the_whole_install_back(db):
    with db.begin(write=True) as conn:  # made locally: H will have a head from 2030
        org.add_unit(conn, OrgUnit("H", "医院", "Hospital", "hospital", date(2020, 1, 1)))
        org.set_head(conn, "H", "future.head", date(2030, 1, 1))
    with pytest.raises(InvalidPackage) as err:
        install_packages(db, [FIXTURE / "v1"], CTX)
    issue, = err.value.issues
    assert (issue.package, issue.file, issue.path, issue.code) == (
        "orgfix", "org/hospital.yaml", "$.heads[0]", "org_overlap")
    assert issue.message.en.startswith("head of H: ")
    assert _units(db) == ["H"]
    with db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(metadata_version)).scalar() == 0
