"""The organisation model: as-of queries before and after re-parent, split,
merge and a location move; heads chain; refusals (SQLite and PostgreSQL)."""

from datetime import date

import pytest

from yunying.platform import org
from yunying.platform.errors import ValidationFailed
from yunying.platform.org import OrgCycle, OrgNotFound, OrgOverlap, OrgUnit, Head
from yunying.platform.org_changes import merge, reparent, split

D0, D1, D2 = date(2026, 1, 1), date(2026, 6, 1), date(2026, 9, 1)
ADM = "adm"


def _unit(code, kind="department"):
    return OrgUnit(code, f"{code}中文", code, kind, D0)


@pytest.fixture
def conn(db):
    """hosp → {med → {card, resp}, surg → {ortho}} in the administrative tree."""
    with db.begin(write=True) as c:
        org.add_tree(c, ADM, "行政", "Administrative", "administrative", D0)
        for code in ("hosp", "med", "surg", "card", "resp", "ortho"):
            org.add_unit(c, _unit(code))
        for parent, child in (("hosp", "med"), ("hosp", "surg"), ("med", "card"),
                              ("med", "resp"), ("surg", "ortho")):
            org.add_edge(c, ADM, parent, child, D0)
    with db.begin(write=True) as c:
        yield c


def test_descendants_and_ancestors(conn):
    assert org.descendants(conn, ADM, "hosp", D1) == ["med", "surg", "card", "ortho", "resp"]
    assert org.ancestors(conn, ADM, "card", D1) == ["med", "hosp"]
    assert org.descendants(conn, ADM, "hosp", date(2025, 1, 1)) == []


def test_children_and_parent_are_one_level_on_a_date(conn):
    assert org.children(conn, ADM, "hosp", D1) == ["med", "surg"]
    assert org.children(conn, ADM, "card", D1) == []
    assert org.parent(conn, ADM, "card", D1) == "med"
    assert org.parent(conn, ADM, "hosp", D1) is None
    reparent(conn, ADM, "card", "surg", D1)
    assert org.parent(conn, ADM, "card", D0) == "med"
    assert org.parent(conn, ADM, "card", D1) == "surg"
    assert org.children(conn, ADM, "surg", D1) == ["card", "ortho"]


def test_reparent_changes_only_from_its_date(conn):
    reparent(conn, ADM, "card", "surg", D1)
    assert org.ancestors(conn, ADM, "card", D0) == ["med", "hosp"]
    assert org.ancestors(conn, ADM, "card", D1) == ["surg", "hosp"]
    assert org.descendants(conn, ADM, "med", date(2026, 5, 31)) == ["card", "resp"]
    assert org.descendants(conn, ADM, "med", D1) == ["resp"]
    assert org.descendants(conn, ADM, "surg", D1) == ["card", "ortho"]


def test_reparent_under_own_descendant_is_refused(conn):
    with pytest.raises(OrgCycle) as err:
        reparent(conn, ADM, "med", "card", D1)
    assert "card" in err.value.message.en and "卡" not in err.value.message.zh
    with pytest.raises(OrgCycle):
        reparent(conn, ADM, "med", "med", D1)
    assert org.ancestors(conn, ADM, "med", D2) == ["hosp"]


def test_unknown_unit_and_tree(conn):
    with pytest.raises(OrgNotFound):
        org.descendants(conn, ADM, "nope", D1)
    with pytest.raises(OrgNotFound):
        org.descendants(conn, "nope", "hosp", D1)
    with pytest.raises(OrgNotFound):
        reparent(conn, ADM, "card", "nope", D1)


def test_second_parent_overlapping_is_refused(conn):
    with pytest.raises(OrgOverlap) as err:
        org.add_edge(conn, ADM, "surg", "card", D1)
    assert err.value.message.zh and err.value.message.en
    with pytest.raises(ValidationFailed):
        org.add_edge(conn, ADM, "surg", "ortho", D2, D1)


def test_moving_a_ward_is_one_link_change(conn):
    org.add_location(conn, "east", "东院", "East campus", "campus")
    org.add_location(conn, "b1", "1号楼", "Building 1", "building", "east")
    org.add_location(conn, "f3", "3楼", "Floor 3", "floor", "b1")
    org.add_location(conn, "f5", "5楼", "Floor 5", "floor", "b1")
    org.add_unit(conn, _unit("ward7", "ward"))
    org.add_edge(conn, ADM, "card", "ward7", D0)
    org.move_location(conn, "ward7", "f3", D0)
    org.move_location(conn, "ward7", "f5", D1)
    assert org.location_of(conn, "ward7", D0) == "f3"
    assert org.location_of(conn, "ward7", D1) == "f5"
    assert org.location_path(conn, "f5") == ["f5", "b1", "east"]
    assert org.ancestors(conn, ADM, "ward7", D2) == ["card", "med", "hosp"]
    with pytest.raises(OrgNotFound):
        org.move_location(conn, "ward7", "nowhere", D2)


def test_heads_chain_for_approvals(conn):
    org.set_head(conn, "card", "dr_li", D0)
    org.set_head(conn, "hosp", "dean", D0)
    org.set_head(conn, "med", "dr_wang", D0)
    org.set_head(conn, "med", "dr_zhao", D1)
    org.assign(conn, "nurse", "card", D0, primary=True)
    org.assign(conn, "nurse", "resp", D0)
    assert org.heads_above(conn, "nurse", ADM, D0) == [
        Head("card", "dr_li"), Head("med", "dr_wang"), Head("hosp", "dean")]
    assert org.heads_above(conn, "nurse", ADM, D1)[1] == Head("med", "dr_zhao")
    org.assign(conn, "dr_li", "card", D0, primary=True)
    assert org.heads_above(conn, "dr_li", ADM, D1) == [
        Head("med", "dr_zhao"), Head("hosp", "dean")]
    with pytest.raises(OrgOverlap):
        org.assign(conn, "nurse", "surg", D1, primary=True)
    with pytest.raises(OrgNotFound):
        org.heads_above(conn, "ghost", ADM, D1)


def test_split_closes_old_unit_and_moves_members_and_children(conn):
    org.add_location(conn, "east", "东院", "East campus", "campus")
    org.move_location(conn, "med", "east", D0)
    org.assign(conn, "ann", "med", D0, primary=True)
    org.assign(conn, "bob", "med", D0, primary=True)
    split(conn, "med", [OrgUnit("med_a", "内科一", "Medicine A", "department"),
                        OrgUnit("med_b", "内科二", "Medicine B", "department")], D1,
          reassign={"ann": "med_a", "bob": "med_b"},
          children={"card": "med_a", "resp": "med_b"})
    assert org.descendants(conn, ADM, "hosp", D0) == ["med", "surg", "card", "ortho", "resp"]
    assert org.descendants(conn, ADM, "hosp", D1) == [
        "med_a", "med_b", "surg", "card", "ortho", "resp"]
    assert org.ancestors(conn, ADM, "resp", D1) == ["med_b", "hosp"]
    assert org.primary_unit(conn, "ann", D0) == "med"
    assert org.primary_unit(conn, "ann", D1) == "med_a"
    assert org.location_of(conn, "med_b", D1) == "east"
    assert org.location_of(conn, "med", D1) is None


def test_split_without_a_target_for_every_member_is_refused(conn):
    org.assign(conn, "ann", "med", D0, primary=True)
    with pytest.raises(ValidationFailed) as err:
        split(conn, "med", [OrgUnit("med_a", "内科一", "Medicine A", "department")], D1,
              reassign={}, children={"card": "med_a", "resp": "med_a"})
    assert err.value.details["missing"] == ["ann"]
    assert org.descendants(conn, ADM, "med", D2) == ["card", "resp"]


def test_merge_into_existing_and_into_new(conn):
    org.assign(conn, "ann", "card", D0, primary=True)
    merge(conn, ["card", "resp"], "card", D1)
    assert org.descendants(conn, ADM, "med", D0) == ["card", "resp"]
    assert org.descendants(conn, ADM, "med", D1) == ["card"]
    merge(conn, ["med", "surg"], OrgUnit("clin", "临床", "Clinical", "department"), D2)
    assert org.descendants(conn, ADM, "hosp", D2) == ["clin", "card", "ortho"]
    assert org.primary_unit(conn, "ann", D2) == "card"
    assert org.descendants(conn, ADM, "hosp", D1) == ["med", "surg", "card", "ortho"]


def test_merge_of_nested_units_is_refused(conn):
    with pytest.raises(OrgCycle):
        merge(conn, ["med", "card"], "hosp", D1)


def test_refused_operation_leaves_nothing(db, conn):
    conn.commit()
    with pytest.raises(OrgCycle):
        with db.begin(write=True) as c:
            org.add_unit(c, _unit("extra"))
            reparent(c, ADM, "hosp", "card", D1)
    with db.begin() as c:
        with pytest.raises(OrgNotFound):
            org.ancestors(c, ADM, "extra", D1)
