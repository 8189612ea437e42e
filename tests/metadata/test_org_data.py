"""Org data documents (org/*.yaml): exact specs, exact issues, the store round trip."""

from __future__ import annotations

import json
from datetime import date, datetime
from types import MappingProxyType

import pytest

from yunying.metadata.builder import package_from_documents
from yunying.metadata.loader import load_packages
from yunying.metadata.org_data import UNIT_TYPES, org_from_document
from yunying.metadata.schema_check import schema_document
from yunying.metadata.spec import (
    AssignmentSpec, LocationSpec, OrgDataSpec, OrgHeadSpec, OrgTreeSpec, OrgUnitSpec,
    OrgUserSpec, RoleGrantSpec,
)
from yunying.metadata.store import MetadataStore
from yunying.platform.i18n import Text
from yunying.platform.org import LOCATION_KINDS, TREE_KINDS
from yunying.runtime.formula.package_check import FORMULA_CHECKS

from metadata_paths import GOOD
from package_variants import codes_of, issues_of, variant

LAB = GOOD / "lab"
ORG = "org/zz_extra.yaml"   # after the fixture's own org documents
D = date(2024, 1, 1)


@pytest.fixture
def lab(bundled):
    [spec] = load_packages([LAB], installed=bundled, checks=FORMULA_CHECKS)
    return spec


def _parents(**parents: str) -> MappingProxyType:
    return MappingProxyType(parents)


# -- good documents ------------------------------------------------------------

def test_base_ships_the_three_trees_and_a_demo_hospital(bundled):
    demo, trees = bundled["base"].org
    assert trees == OrgDataSpec("base", "org/trees.yaml", trees=(
        OrgTreeSpec("admin", Text("行政", "Administrative"), "administrative"),
        OrgTreeSpec("discipline", Text("学科", "Discipline"), "discipline"),
        OrgTreeSpec("cost", Text("核算", "Cost accounting"), "cost")))
    assert (demo.file, demo.demo, demo.trees, demo.role_grants) == (
        "org/demo_hospital.yaml", True, (), ())
    units = {u.code: u for u in demo.units}
    assert [(u.code, u.type) for u in demo.units if u.type in ("hospital", "campus")] == [
        ("HOSP", "hospital"), ("EAST", "campus"), ("WEST", "campus")]
    assert units["CARD-W1"] == OrgUnitSpec(
        "CARD-W1", Text("心内一病区", "Cardiology ward 1"), "ward", D.replace(year=2020),
        location="C-E-B1-F3", parents=_parents(admin="CARD", cost="CARD"))
    assert units["MED"].parents == _parents()          # {discipline: null}: a root
    assert units["CARD"].parents == _parents(admin="EAST", discipline="MED", cost="HOSP")
    assert [loc.kind for loc in demo.locations if loc.parent is None] == ["campus", "campus"]
    assert len(demo.users) == 8 and "admin" not in {u.code for u in demo.users}
    assert OrgHeadSpec("CARD", "zhang.wei", date(2020, 1, 1)) in demo.heads
    assert AssignmentSpec("wang.fang", "LOGI", date(2022, 3, 1), primary=False) in (
        demo.assignments)


def test_materials_grants_its_roles_in_demo_data(bundled):
    [grants] = bundled["materials"].org
    assert (grants.file, grants.demo, grants.units, grants.users) == (
        "org/demo_grants.yaml", True, (), ())
    assert grants.role_grants[:2] == (
        RoleGrantSpec("zhang.wei", "materials.requester", "HOSP"),
        RoleGrantSpec("li.na", "materials.requester", "EAST"))
    assert RoleGrantSpec("chen.jing", "materials.auditor", "*") in grants.role_grants


def test_the_lab_org_documents_are_exactly_these(lab):
    assert lab.org == (
        OrgDataSpec(
            "lab", "org/demo_lab.yaml", demo=True,
            units=(OrgUnitSpec("LAB-CARD", Text("心内检验组", "Cardiology laboratory team"),
                               "team", date(2024, 6, 1), location="C-E-B1-F3-NS",
                               parents=_parents(admin="CARD", emergency="LAB")),),
            heads=(OrgHeadSpec("LAB-CARD", "zhang.wei", date(2024, 6, 1)),),
            assignments=(AssignmentSpec("zhang.wei", "LAB-CARD", date(2024, 6, 1), False),
                         AssignmentSpec("lab.admin", "LAB-CARD", date(2024, 7, 1), False)),
            role_grants=(RoleGrantSpec("li.na", "lab.technician", "HOSP"),
                         RoleGrantSpec("zhang.wei", "materials.viewer", "EAST"),
                         RoleGrantSpec("li.na", "lab.reader", "*"))),
        OrgDataSpec(
            "lab", "org/lab.yaml",
            trees=(OrgTreeSpec("emergency", Text("应急指挥", "Emergency command"), "temporary"),),
            locations=(LocationSpec("LAB-BLDG", Text("检验楼", "Laboratory building"), "building"),
                       LocationSpec("LAB-F1", Text("检验楼 1 层", "Laboratory floor 1"), "floor",
                                    "LAB-BLDG")),
            units=(OrgUnitSpec("LAB", Text("检验科", "Laboratory"), "department", D,
                               date(2030, 1, 1), "LAB-F1", _parents()),),
            users=(OrgUserSpec("lab.admin", Text("检验管理员", "Lab administrator")),),
            assignments=(AssignmentSpec("lab.admin", "LAB", date(2024, 2, 1)),),
            role_grants=(RoleGrantSpec("lab.admin", "platform.admin"),)),
    )


def test_org_from_document_takes_dates_as_strings_or_dates():
    name = {"zh": "甲", "en": "A"}
    as_text = {"units": [{"code": "U", "name": name, "type": "team", "valid_from": "2024-01-01",
                          "valid_to": None, "parents": {"admin": "P", "cost": None}}],
               "heads": [{"unit": "U", "user": "u", "valid_from": "2024-01-01"}],
               "role_grants": [{"user": "u", "role": "clerk"}]}
    as_dates = json.loads(json.dumps(as_text))
    as_dates["units"][0]["valid_from"] = D
    as_dates["heads"][0]["valid_from"] = D
    built = org_from_document("lab", "org/x.yaml", as_text)
    assert built == org_from_document("lab", "org/x.yaml", as_dates)
    assert built == OrgDataSpec(
        "lab", "org/x.yaml", units=(OrgUnitSpec("U", Text("甲", "A"), "team", D,
                                                parents=_parents(admin="P")),),
        heads=(OrgHeadSpec("U", "u", D),), role_grants=(RoleGrantSpec("u", "lab.clerk", "*"),))


def test_the_schema_enumerates_the_platform_kinds_and_unit_types():
    schema = schema_document("org.schema.json")["$defs"]
    assert schema["tree"]["properties"]["kind"]["enum"] == list(TREE_KINDS)
    assert schema["location"]["properties"]["kind"]["enum"] == list(LOCATION_KINDS)
    assert schema["unit"]["properties"]["type"]["enum"] == list(UNIT_TYPES)


def test_org_data_round_trips_through_json_documents(lab):
    stored = json.loads(json.dumps({k: dict(v) for k, v in lab.documents.items()}))
    assert list(stored["org"]) == ["org/demo_lab.yaml", "org/lab.yaml"]
    assert package_from_documents(stored, checksum=lab.checksum) == lab


def test_an_installed_packages_org_data_comes_back_from_the_store(db, bundled, lab):
    store = MetadataStore()
    with db.begin() as conn:
        for spec in (bundled["base"], bundled["materials"], lab):
            store.record(conn, spec, actor="admin", now=datetime(2026, 11, 25), plan=[])
    with db.connect() as conn:
        installed = {s.code: s for s in store.installed(conn)}
        history = store.history(conn, "lab")
    assert installed["lab"].org == lab.org
    assert installed["base"].org == bundled["base"].org
    assert {"kind": "org", "code": "org/lab.yaml"} in history[0]["diff"]["added"]


# -- bad documents ---------------------------------------------------------------

def _doc(body: str, *, demo: bool = False) -> str:
    return ("demo: true\n" if demo else "") + body


UNIT = "{code: %s, name: {zh: 单元, en: Unit}, type: %s, valid_from: 2024-01-01%s}"


def _units(*units: str, demo: bool = False) -> str:
    return _doc("units:\n" + "".join(f"  - {u}\n" for u in units), demo=demo)


def _unit(code: str, rest: str = "", kind: str = "team") -> str:
    return UNIT % (code, kind, rest)


BAD_ORG = [
    pytest.param(_units(_unit("X1", ", parents: {nowhere: null}")),
                 [["unknown_tree", ORG, "$.units[0].parents.nowhere"]], id="unknown-tree"),
    pytest.param(_units(_unit("X1", ", parents: {emergency: GHOST}")),
                 [["unknown_unit", ORG, "$.units[0].parents.emergency"]], id="unknown-parent"),
    pytest.param(_units(_unit("X1", ", location: NOWHERE")),
                 [["unknown_location", ORG, "$.units[0].location"]], id="unknown-location"),
    pytest.param(_doc("locations:\n  - {code: L1, name: {zh: 甲, en: A}, kind: area, "
                      "parent: NOWHERE}\n"),
                 [["unknown_location", ORG, "$.locations[0].parent"]], id="unknown-loc-parent"),
    pytest.param(_doc("locations:\n  - {code: L1, name: {zh: 甲, en: A}, kind: building, "
                      "parent: LAB-F1}\n  - {code: L2, name: {zh: 乙, en: B}, kind: floor, "
                      "parent: L2}\n"),
                 [["invalid_location", ORG, "$.locations[0].parent"],
                  ["invalid_location", ORG, "$.locations[1].parent"]], id="location-kinds"),
    pytest.param(_doc("locations:\n  - {code: L1, name: {zh: 甲, en: A}, kind: wing}\n"),
                 [["schema", ORG, "$.locations[0].kind"]], id="schema-location-kind"),
    pytest.param(_units(_unit("X1", ", parents: {emergency: X2}"),
                        _unit("X2", ", parents: {emergency: X3}"),
                        _unit("X3", ", parents: {emergency: X1}")),
                 [["org_cycle", ORG, "$.units[0].parents.emergency"],
                  ["org_cycle", ORG, "$.units[1].parents.emergency"],
                  ["org_cycle", ORG, "$.units[2].parents.emergency"]], id="cycle"),
    pytest.param(_units(_unit("X1", ", parents: {emergency: X1}")),
                 [["org_cycle", ORG, "$.units[0].parents.emergency"]], id="own-parent"),
    pytest.param(_units(_unit("X1", ", parents: {emergency: X2}"),
                        _unit("X2", ", parents: {emergency: X1}"),
                        _unit("X3", ", parents: {emergency: X1}")),
                 [["org_cycle", ORG, "$.units[0].parents.emergency"],
                  ["org_cycle", ORG, "$.units[1].parents.emergency"]], id="cycle-above"),
    pytest.param(_units(_unit("X1", kind="clinic")),
                 [["schema", ORG, "$.units[0].type"]], id="schema-unit-type"),
    pytest.param(_units(_unit("X1", ", valid_to: 2024-01-01")),
                 [["invalid_period", ORG, "$.units[0].valid_to"]], id="empty-period"),
    pytest.param(_units(_unit("X1", ", valid_to: 2023-12-31")),
                 [["invalid_period", ORG, "$.units[0].valid_to"]], id="reversed-period"),
    pytest.param(_units("{code: X1, name: {zh: 单元, en: Unit}, type: team, "
                        "valid_from: 2023-06-01, parents: {emergency: LAB}}"),
                 [["invalid_period", ORG, "$.units[0].parents.emergency"]],
                 id="parent-not-yet"),
    pytest.param(_units("{code: X1, name: {zh: 单元, en: Unit}, type: team, "
                        "valid_from: 2024-02-30}"),
                 [["schema", ORG, "$.units[0].valid_from"]], id="schema-date"),
    pytest.param(_doc("heads: [{unit: LAB, user: lab.admin, valid_from: 2023-01-01}]\n"),
                 [["invalid_period", ORG, "$.heads[0].valid_from"]], id="head-before-unit"),
    pytest.param(_doc("assignments: [{user: lab.admin, unit: LAB, primary: false, "
                      "valid_from: 2030-01-01}]\n"),
                 [["invalid_period", ORG, "$.assignments[0].valid_from"]],
                 id="assignment-after-unit"),
    pytest.param(_doc("heads: [{unit: GHOST, user: nobody, valid_from: 2024-01-01}]\n"),
                 [["unknown_unit", ORG, "$.heads[0].unit"],
                  ["unknown_user", ORG, "$.heads[0].user"]], id="head-unknowns"),
    pytest.param(_doc("assignments: [{user: nobody, unit: GHOST, valid_from: 2024-01-01}]\n"),
                 [["unknown_unit", ORG, "$.assignments[0].unit"],
                  ["unknown_user", ORG, "$.assignments[0].user"]], id="assignment-unknowns"),
    pytest.param(_doc("role_grants: [{user: nobody, role: ghost, domain: GHOST}]\n"),
                 [["unknown_unit", ORG, "$.role_grants[0].domain"],
                  ["unknown_role", ORG, "$.role_grants[0].role"],
                  ["unknown_user", ORG, "$.role_grants[0].user"]], id="grant-unknowns"),
    pytest.param(_doc("role_grants: [{user: lab.admin, role: clinic.nurse}]\n"),
                 [["undeclared_dependency", ORG, "$.role_grants[0].role"]], id="undeclared"),
    pytest.param(_doc("role_grants: [{user: lab.admin, role: reader, domain: LAB}]\n"),
                 [["invalid_domain", ORG, "$.role_grants[0].domain"]], id="domain-type"),
    pytest.param(_doc("role_grants: [{user: zhang.wei, role: reader, domain: HOSP}]\n"),
                 [["unknown_unit", ORG, "$.role_grants[0].domain"],
                  ["unknown_user", ORG, "$.role_grants[0].user"]], id="demo-only"),
    pytest.param(_doc("role_grants: [{user: lab.admin, role: reader, domain: HOSP}]\n",
                      demo=True), [], id="demo-sees-demo"),
    pytest.param(_units(_unit("LAB"), _unit("X1"), _unit("X1")),
                 [["duplicate_code", ORG, "$.units[0].code"],
                  ["duplicate_code", ORG, "$.units[2].code"]], id="duplicate-units"),
    pytest.param(_units(_unit("HOSP"), demo=True),
                 [["duplicate_code", ORG, "$.units[0].code"]], id="duplicate-across-packages"),
    pytest.param(_doc("trees: [{code: admin, name: {zh: 甲, en: A}, kind: cost}]\n"
                      "users: [{code: lab.admin, name: {zh: 甲, en: A}}]\n"),
                 [["duplicate_code", ORG, "$.trees[0].code"],
                  ["duplicate_code", ORG, "$.users[0].code"]], id="duplicate-tree-user"),
    pytest.param(_doc("heads:\n  - {unit: LAB, user: lab.admin, valid_from: 2024-01-01}\n"
                      "  - {unit: LAB, user: lab.admin, valid_from: 2024-01-01}\n"
                      "  - {unit: LAB, user: lab.admin, valid_from: 2025-01-01}\n"),
                 [["duplicate_code", ORG, "$.heads[1]"]], id="duplicate-head"),
    pytest.param(_doc("assignments:\n"
                      "  - {user: lab.admin, unit: LAB, primary: false, valid_from: 2024-01-01}\n"
                      "  - {user: lab.admin, unit: LAB, primary: false, valid_from: 2025-01-01}\n"),
                 [["duplicate_code", ORG, "$.assignments[1].unit"]], id="duplicate-assignment"),
    pytest.param(_units(_unit("X1"), _unit("X2")) +
                 "assignments:\n  - {user: lab.admin, unit: X1, valid_from: 2024-01-01}\n"
                 "  - {user: lab.admin, unit: X2, valid_from: 2024-01-01}\n",
                 [["duplicate_code", ORG, "$.assignments[1].primary"]], id="two-primaries"),
    pytest.param(_doc("role_grants:\n  - {user: lab.admin, role: reader}\n"
                      "  - {user: lab.admin, role: lab.reader, domain: '*'}\n"),
                 [["duplicate_code", ORG, "$.role_grants[1]"]], id="duplicate-grant"),
    pytest.param(_doc("users: [{code: x, name: {zh: 甲, en: A}, password: secret}]\n"),
                 [["schema", ORG, "$.users[0].password"]], id="no-passwords"),
]


@pytest.mark.parametrize("text, expected", BAD_ORG)
def test_a_bad_org_document_reports_exactly_its_issues(tmp_path, bundled, text, expected):
    root = variant(tmp_path, LAB, {ORG: text})
    if expected:
        assert codes_of([root], bundled) == expected
    else:
        assert load_packages([root], installed=bundled, checks=FORMULA_CHECKS)


def test_a_non_demo_document_is_told_the_code_is_only_demo_data(tmp_path, bundled):
    root = variant(tmp_path, LAB, {ORG: _units(_unit("X1", ", parents: {admin: CARD}"))})
    [issue] = issues_of([root], bundled)
    assert (issue.code, issue.path) == ("unknown_unit", "$.units[0].parents.admin")
    assert "base/org/demo_hospital.yaml" in issue.message.en and "demo" in issue.message.en
    assert "演示数据" in issue.message.zh


def test_org_data_of_a_package_not_required_is_unknown(tmp_path, bundled):
    other = tmp_path / "other"
    (other / "org").mkdir(parents=True)
    (other / "package.yaml").write_text(
        "code: other\nversion: 1.0.0\nname: {zh: 其他, en: Other}\n", encoding="utf-8")
    (other / "org" / "units.yaml").write_text(
        _units(_unit("OTH")) + "users: [{code: someone, name: {zh: 某人, en: Someone}}]\n",
        encoding="utf-8")
    root = variant(tmp_path, LAB, {
        ORG: _doc("assignments: [{user: someone, unit: OTH, valid_from: 2024-01-01}]\n")})
    assert codes_of([root, other], bundled) == [
        ["unknown_unit", ORG, "$.assignments[0].unit"],
        ["unknown_user", ORG, "$.assignments[0].user"]]


def test_codes_of_a_broken_org_document_are_not_reported_unknown(tmp_path, bundled):
    root = variant(tmp_path, LAB, {
        "org/broken.yaml": _units("{code: X9, type: team}"),
        ORG: _units(_unit("X1", ", parents: {emergency: X9}"))})
    assert codes_of([root], bundled) == [
        ["schema", "org/broken.yaml", "$.units[0].name"],
        ["schema", "org/broken.yaml", "$.units[0].valid_from"]]


def test_a_required_package_that_is_missing_hides_nothing_else(tmp_path, bundled):
    root = variant(tmp_path, LAB, {})
    issues = codes_of([root], {"base": bundled["base"]})
    assert issues == [["requirement_unsatisfied", "package.yaml", "$.requires.materials"]]
