"""Org data documents applied to the org model: a first apply, applying
again (nothing changes), a changed document (re-parents, moves, renames from
the install date), local changes kept on upgrade, and refusals that write
nothing (SQLite and PostgreSQL)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from types import MappingProxyType

import pytest
from sqlalchemy import func, select

from yunying.metadata.spec import (
    AssignmentSpec, LocationSpec, OrgDataSpec, OrgHeadSpec, OrgTreeSpec, OrgUnitSpec,
    OrgUserSpec, RoleGrantSpec,
)
from yunying.platform import identity, org
from yunying.platform.access import AccessControl, PolicyRow
from yunying.platform.context import Context
from yunying.platform.errors import InvalidPackage
from yunying.platform.i18n import Text
from yunying.platform.org import Head, OrgUnit
from yunying.platform.org_changes import reparent, split
from yunying.platform.tables import (
    location, org_assignment, org_edge, org_head, org_location, org_tree, org_unit, user,
)
from yunying.runtime.org_seed import TREES_SINCE, apply_org_data

CTX = Context(actor="tester")
START, INSTALL, LATER = date(2020, 1, 1), date(2026, 3, 1), date(2026, 9, 1)
CLERK = "hr.clerk"


def _unit(code, kind="department", *, location=None, since=START, **parents):
    return OrgUnitSpec(code, Text(f"{code}中文", code.title()), kind, since,
                       location=location, parents=MappingProxyType(parents))


def _document(**changes) -> OrgDataSpec:
    """hosp → {med → card, surg} (admin); card also under med in disc."""
    base = OrgDataSpec(
        package="hr", file="org/hospital.yaml",
        trees=(OrgTreeSpec("admin", Text("行政", "Administrative"), "administrative"),
               OrgTreeSpec("disc", Text("学科", "Discipline"), "discipline")),
        # children first: the loader orders parents before them
        locations=(LocationSpec("f3", Text("3楼", "Floor 3"), "floor", "b1"),
                   LocationSpec("f5", Text("5楼", "Floor 5"), "floor", "b1"),
                   LocationSpec("b1", Text("1号楼", "Building 1"), "building", "east"),
                   LocationSpec("east", Text("东院", "East campus"), "campus")),
        units=(_unit("hosp", "hospital", location="east"),
               _unit("med", admin="hosp"),
               _unit("card", "ward", location="f3", admin="med", disc="med"),
               _unit("surg", admin="hosp")),
        users=(OrgUserSpec("dean", Text("院长", "Dean")),
               OrgUserSpec("dr_li", Text("李医生", "Dr Li")),
               OrgUserSpec("nurse", Text("护士", "Nurse"))),
        heads=(OrgHeadSpec("hosp", "dean", START), OrgHeadSpec("card", "dr_li", START)),
        assignments=(AssignmentSpec("nurse", "card", START, True),
                     AssignmentSpec("nurse", "surg", START, False)),
        role_grants=(RoleGrantSpec("dean", CLERK, "hosp"),),
    )
    return replace(base, **changes)


@pytest.fixture
def access(db):
    control = AccessControl(db)
    with db.begin(write=True) as conn:  # the role exists once policies are synced
        control.replace_package_policies(conn, CTX, [
            PolicyRow.permission(CLERK, "hr.staff", "read")])
    return control


def _apply(db, access, docs, *, on=INSTALL, previous=()):
    with db.begin(write=True) as conn:
        return apply_org_data(conn, CTX, docs, access=access, on=on, previous=previous)


def _state(db) -> dict:
    """Every org row (ids left out), to compare two states."""
    tables = (org_tree, location, org_unit, org_location, org_edge, org_head, org_assignment)
    with db.connect() as conn:
        state = {t.name: sorted(tuple(str(v) for k, v in row._mapping.items() if k != "id")
                                for row in conn.execute(select(t))) for t in tables}
        state["users"] = sorted(conn.execute(select(user.c.code, user.c.name_en)).all())
    return state


def test_first_apply_builds_the_model(db, access):
    report = _apply(db, access, [_document()])
    assert report.documents == ("hr/org/hospital.yaml",)
    assert report.counts == {
        "trees_created": 2, "locations_created": 4, "units_created": 4,
        "users_created": 3, "locations_linked": 2, "edges_added": 4, "heads_set": 2,
        "assignments_made": 2, "roles_granted": 1}
    assert report.new_users == ("dean", "dr_li", "nurse")
    with db.connect() as conn:
        assert org.descendants(conn, "admin", "hosp", START) == ["med", "surg", "card"]
        assert org.ancestors(conn, "disc", "card", INSTALL) == ["med"]
        assert org.location_path(conn, org.location_of(conn, "card", START)) == [
            "f3", "b1", "east"]
        assert org.heads_above(conn, "nurse", "admin", INSTALL) == [
            Head("card", "dr_li"), Head("hosp", "dean")]
        assert org.primary_unit(conn, "nurse", START) == "card"
        trees = dict(conn.execute(select(org_tree.c.code, org_tree.c.valid_from)).all())
        assert trees == {"admin": TREES_SINCE, "disc": TREES_SINCE}
        assert [(a.role, a.domain) for a in access.assignments(conn, "dean")] == [
            (CLERK, "hosp")]
    # users shipped with org data have no password anyone knows
    with db.begin(write=True) as conn:
        assert identity.authenticate(conn, CTX, "dean", "dean") is None
        identity.set_password(conn, CTX, "dean", "a new secret")
        assert identity.authenticate(conn, CTX, "dean", "a new secret") is not None


def test_applying_twice_changes_nothing(db, access):
    _apply(db, access, [_document()])
    before = _state(db)
    again = _apply(db, access, [_document()], on=LATER)
    assert again.counts == {} and not again.changed and again.summary() == "unchanged"
    assert again.new_users == ()
    assert _state(db) == before


def test_existing_users_are_never_changed(db, access):
    with db.begin(write=True) as conn:
        identity.create_user(conn, CTX, "dean", Text("老院长", "Old dean"), "dean's secret")
    report = _apply(db, access, [_document()])
    assert report.new_users == ("dr_li", "nurse")
    with db.begin(write=True) as conn:
        assert identity.get_user(conn, "dean").name.en == "Old dean"
        assert identity.authenticate(conn, CTX, "dean", "dean's secret") is not None


def test_a_changed_document_reparents_moves_and_renames_from_the_install_date(db, access):
    v1 = _document()
    _apply(db, access, [v1])
    units = list(v1.units)
    units[2] = replace(_unit("card", "ward", location="f5", admin="surg", disc="med"),
                       label=Text("心内科", "Cardiology"))
    v2 = _document(units=tuple(units))
    report = _apply(db, access, [v2], on=LATER, previous=[v1])
    assert report.counts == {"units_updated": 1, "units_moved": 1, "units_reparented": 1}
    with db.connect() as conn:
        assert org.ancestors(conn, "admin", "card", INSTALL) == ["med", "hosp"]
        assert org.ancestors(conn, "admin", "card", LATER) == ["surg", "hosp"]
        assert org.ancestors(conn, "disc", "card", LATER) == ["med"]
        assert org.location_of(conn, "card", INSTALL) == "f3"
        assert org.location_of(conn, "card", LATER) == "f5"
        name = conn.execute(select(org_unit.c.name_en).where(org_unit.c.code == "card"))
        assert name.scalar() == "Cardiology"
    assert _apply(db, access, [v2], on=LATER, previous=[v2]).counts == {}
    assert _apply(db, access, [v2], on=LATER).counts == {}  # and without previous


def test_upgrades_keep_local_changes_the_package_did_not_make(db, access):
    v1 = _document()
    _apply(db, access, [v1])
    with db.begin(write=True) as conn:  # the hospital moves surgery under medicine
        reparent(conn, "admin", "surg", "med", date(2026, 4, 1))
        org.set_head(conn, "card", "dean", date(2026, 4, 1))
    v2 = _document(units=v1.units + (_unit("icu", "ward", admin="med"),))
    report = _apply(db, access, [v2], on=LATER, previous=[v1])
    assert report.counts == {"units_created": 1, "edges_added": 1}
    with db.connect() as conn:
        assert org.ancestors(conn, "admin", "surg", LATER) == ["med", "hosp"]
        assert org.heads_above(conn, "nurse", "admin", LATER)[0] == Head("card", "dean")
    # without the previous version, the document is the truth: surg goes back
    report = _apply(db, access, [v2], on=LATER)
    assert report.counts == {"units_reparented": 1}
    with db.connect() as conn:
        assert org.ancestors(conn, "admin", "surg", LATER) == ["hosp"]
        assert org.ancestors(conn, "admin", "surg", date(2026, 5, 1)) == ["med", "hosp"]


def test_a_primary_assignment_moves_the_users_primary_unit(db, access):
    v1 = _document()
    _apply(db, access, [v1])
    moved = AssignmentSpec("nurse", "med", date(2026, 6, 1), True)
    v2 = _document(assignments=v1.assignments + (moved,))
    assert _apply(db, access, [v2], previous=[v1]).counts == {"assignments_made": 1}
    with db.connect() as conn:
        assert org.primary_unit(conn, "nurse", date(2026, 5, 31)) == "card"
        assert org.primary_unit(conn, "nurse", date(2026, 6, 1)) == "med"
    assert _apply(db, access, [v2]).counts == {}


def test_closed_units_keep_their_history(db, access):
    _apply(db, access, [_document()])
    with db.begin(write=True) as conn:
        split(conn, "card", [OrgUnit("card_a", "心一", "Card A", "ward"),
                             OrgUnit("card_b", "心二", "Card B", "ward")], INSTALL,
              reassign={"nurse": "card_a"})
    before = _state(db)
    assert _apply(db, access, [_document()], on=LATER).counts == {}
    assert _state(db) == before


def test_declared_trees_start_early_enough_for_units_of_any_date(db, access):
    with db.begin(write=True) as conn:  # made through the API before the package came
        org.add_tree(conn, "disc", "学科", "Discipline", "discipline", INSTALL)
    old = replace(_unit("lab", "team", since=date(1950, 1, 1)), parents=MappingProxyType({}))
    later = _unit("lab2", "team", since=date(1951, 1, 1), admin="lab", disc="lab")
    report = _apply(db, access, [_document(units=(old, later), heads=(), assignments=(),
                                           role_grants=())])
    assert report.counts["trees_created"] == 1 and report.counts["trees_updated"] == 1
    with db.connect() as conn:
        assert org.descendants(conn, "disc", "lab", date(1951, 1, 1)) == ["lab2"]
        starts = set(conn.execute(select(org_tree.c.valid_from)).scalars())
    assert starts == {TREES_SINCE}


def test_documents_refer_to_each_other_in_any_order(db, access):
    base = _document()
    first = _document(file="org/wards.yaml", trees=(), locations=(), users=(), heads=(),
                      assignments=(), role_grants=(),
                      units=(_unit("icu", "ward", location="f5", admin="med"),))
    report = _apply(db, access, [first, base])
    assert report.documents == ("hr/org/wards.yaml", "hr/org/hospital.yaml")
    with db.connect() as conn:
        assert org.ancestors(conn, "admin", "icu", INSTALL) == ["med", "hosp"]


def _rows(db) -> int:
    tables = (org_tree, location, org_unit, org_edge, org_head, org_assignment, user)
    with db.connect() as conn:
        return sum(conn.execute(select(func.count()).select_from(t)).scalar() for t in tables)


def test_every_problem_is_located_and_nothing_is_written(db, access):
    units = (_unit("hosp", "hospital", location="nowhere"),
             _unit("med", admin="ghost"),
             _unit("bad code!", admin="hosp"))
    doc = _document(units=units, heads=(OrgHeadSpec("med", "stranger", START),),
                    assignments=(), role_grants=(RoleGrantSpec("dean", "hr.nobody"),))
    with pytest.raises(InvalidPackage) as err:
        _apply(db, access, [doc])
    found = {(i.package, i.file, i.path, i.code) for i in err.value.issues}
    assert found == {
        ("hr", "org/hospital.yaml", "$.units[0].location", "org_not_found"),
        ("hr", "org/hospital.yaml", "$.units[1].parents.admin", "org_not_found"),
        ("hr", "org/hospital.yaml", "$.units[2]", "validation_failed"),
        ("hr", "org/hospital.yaml", "$.units[2].parents.admin", "org_not_found"),
        ("hr", "org/hospital.yaml", "$.heads[0]", "not_found"),
        ("hr", "org/hospital.yaml", "$.role_grants[0]", "validation_failed"),
    }
    by_path = {i.path: i.message for i in err.value.issues}
    assert "nowhere" in by_path["$.units[0].location"].en
    assert by_path["$.units[1].parents.admin"].en.startswith("parent of org unit med in tree")
    assert "ghost" in by_path["$.units[1].parents.admin"].zh
    assert "stranger" in by_path["$.heads[0]"].en
    assert _rows(db) == 0


def test_a_location_cycle_and_a_cycle_of_units_are_refused(db, access):
    locations = (LocationSpec("a", Text("甲", "A"), "building", "b"),
                 LocationSpec("b", Text("乙", "B"), "building", "a"))
    units = (_unit("x", admin="y"), _unit("y", admin="x"))
    doc = OrgDataSpec("hr", "org/bad.yaml", trees=_document().trees,
                      locations=locations, units=units)
    with pytest.raises(InvalidPackage) as err:
        _apply(db, access, [doc])
    found = {(i.path, i.code) for i in err.value.issues}
    assert found == {("$.locations[0]", "org_cycle"), ("$.locations[1]", "org_cycle"),
                     ("$.units[1].parents.admin", "org_cycle")}
    assert _rows(db) == 0


def test_a_changed_location_parent_may_not_make_a_cycle(db, access):
    v1 = _document()
    _apply(db, access, [v1])
    with db.begin(write=True) as conn:  # a room added locally, inside floor 3
        org.add_location(conn, "annex", "附楼", "Annex", "area", "f3")
    moved = LocationSpec("east", Text("东院", "East campus"), "campus", "annex")
    v2 = _document(locations=v1.locations[:3] + (moved,))
    with pytest.raises(InvalidPackage) as err:
        _apply(db, access, [v2], previous=[v1])
    assert [(i.path, i.code) for i in err.value.issues] == [("$.locations[3]", "org_cycle")]
    assert "annex" in err.value.issues[0].message.en
