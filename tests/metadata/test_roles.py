"""Role documents (roles/*.yaml): exact specs, exact issues, the store round trip."""

from __future__ import annotations

import json
from datetime import datetime
from types import MappingProxyType

import pytest

from yunying.metadata.builder import package_from_documents
from yunying.metadata.loader import load_packages
from yunying.metadata.roles import role_from_document
from yunying.metadata.schema_check import schema_document
from yunying.metadata.spec import (
    DATA_SCOPES, ENTITY_ACTIONS, FIELD_ACCESS, PLATFORM_ACTIONS, GrantSpec, RoleSpec,
)
from yunying.metadata.store import MetadataStore
from yunying.platform.i18n import Text
from yunying.runtime.formula.package_check import FORMULA_CHECKS

from metadata_paths import GOOD, MODULES
from package_variants import codes_of, issues_of, variant

LAB = GOOD / "lab"
ROLE = "roles/extra.yaml"
_HEAD = "code: extra\nname: {zh: 额外, en: Extra}\n"


def _grants(*lines: str) -> str:
    return _HEAD + "grants:\n" + "".join(f"  - {line}\n" for line in lines)


@pytest.fixture
def lab(bundled):
    [spec] = load_packages([LAB], installed=bundled, checks=FORMULA_CHECKS)
    return spec


def _mapping(**items: str) -> MappingProxyType:
    return MappingProxyType(items)


# -- good documents ------------------------------------------------------------

def test_the_bundled_materials_roles_are_exactly_these(bundled):
    materials = bundled["materials"]
    item, requisition = "materials.item", "materials.requisition"
    supplier, consumption = "materials.supplier", "materials.consumption"
    assert materials.roles == (
        RoleSpec("materials", "auditor", Text("审计", "Auditor"), grants=(
            GrantSpec(item, ("read", "export")),
            GrantSpec(requisition, ("read", "export")),
            GrantSpec(supplier, ("read", "export")),
            GrantSpec(consumption, ("read", "export"))),
            description=materials.role("auditor").description),
        RoleSpec("materials", "manager", Text("物资管理员", "Materials manager"), grants=(
            GrantSpec(item, ("delete", "import")),
            GrantSpec(requisition, ("delete",), scope="own_records")),
            platform=("design",), inherits=("materials.storekeeper",),
            description=materials.role("manager").description),
        RoleSpec("materials", "requester", Text("科室申领员", "Department requester"), grants=(
            GrantSpec(requisition, ("read", "create", "update", "submit"), scope="unit_tree",
                      fields=_mapping(**{"lines.unit_price": "read_only"})),
            GrantSpec(item, ("read",))),
            description=materials.role("requester").description),
        RoleSpec("materials", "storekeeper", Text("库管员", "Storekeeper"), grants=(
            GrantSpec(item, ("read", "create", "update")),
            GrantSpec(requisition, ("read", "approve", "export")),
            GrantSpec(supplier, ("read", "create", "update")),
            GrantSpec(consumption, ("read", "create", "export"))),
            inherits=("materials.requester",),
            description=materials.role("storekeeper").description),
        RoleSpec("materials", "viewer", Text("查询员", "Viewer"), grants=(
            GrantSpec(item, ("read",), fields=_mapping(unit_price="hidden")),
            GrantSpec(requisition, ("read",), scope="formula", filter="urgency = 'urgent'",
                      fields=_mapping(**{"total_amount": "hidden", "lines.unit_price": "hidden",
                                         "lines.amount": "hidden"}))),
            description=materials.role("viewer").description),
    )
    assert materials.role("requester").qualified_code == "materials.requester"
    assert bundled["base"].roles == ()


def test_the_lab_roles_are_qualified_and_exactly_these(lab):
    assert lab.roles == (
        RoleSpec("lab", "reader", Text("查阅", "Reader"), grants=(
            GrantSpec("lab.sample", ("read",), scope="formula", filter="status = 'done'"),)),
        RoleSpec("lab", "technician", Text("检验技师", "Laboratory technician"), grants=(
            GrantSpec("lab.sample", ("read", "update"), scope="unit_tree", tree="discipline",
                      fields=_mapping(cost="read_only", **{"results.value": "hidden"})),
            GrantSpec("lab.sample", ("create",), scope="own_unit"),
            GrantSpec("lab.analyser", ("read",), scope="own_records"),
            GrantSpec("materials.item", ("read", "export"), scope="formula",
                      filter="high_value AND active")),
            platform=("design", "manage_users"),
            inherits=("lab.reader", "materials.requester"),
            description=Text("处理本学科的标本", "Handles the samples of the own discipline")),
    )
    assert lab.role("technician").grants[1].tree == "admin"   # the default, unused
    with pytest.raises(TypeError):
        lab.role("technician").grants[0].fields["cost"] = "hidden"  # type: ignore[index]


def test_role_from_document_defaults():
    assert role_from_document("lab", {"code": "x", "name": {"zh": "甲", "en": "X"}}) == RoleSpec(
        "lab", "x", Text("甲", "X"))
    built = role_from_document("lab", {
        "code": "x", "name": {"zh": "甲", "en": "X"}, "inherits": ["y", "base.z"],
        "grants": [{"entity": "materials.item", "actions": ["read"]}]})
    assert built.inherits == ("lab.y", "base.z")
    assert built.grants == (GrantSpec("materials.item", ("read",), "all", "admin", None,
                                      MappingProxyType({})),)


def test_the_schema_enumerates_exactly_the_spec_constants():
    schema = schema_document("role.schema.json")
    grant = schema["$defs"]["grant"]["properties"]
    assert grant["actions"]["items"]["enum"] == list(ENTITY_ACTIONS)
    assert grant["scope"]["enum"] == list(DATA_SCOPES)
    assert grant["fields"]["additionalProperties"]["enum"] == list(FIELD_ACCESS)
    assert schema["properties"]["platform"]["items"]["enum"] == list(PLATFORM_ACTIONS)


def test_roles_round_trip_through_json_documents(lab):
    stored = json.loads(json.dumps({k: dict(v) for k, v in lab.documents.items()}))
    assert list(stored["role"]) == ["reader", "technician"]
    assert package_from_documents(stored, checksum=lab.checksum) == lab


def test_an_installed_packages_roles_come_back_from_the_store(db, bundled, lab):
    store = MetadataStore()
    specs = [bundled["base"], bundled["materials"], lab]
    with db.begin() as conn:
        for spec in specs:
            store.record(conn, spec, actor="admin", now=datetime(2026, 11, 25), plan=[])
    with db.connect() as conn:
        installed = {s.code: s for s in store.installed(conn)}
    assert installed["lab"].roles == lab.roles
    assert installed["materials"].roles == bundled["materials"].roles
    assert installed["lab"] == lab


# -- bad documents ---------------------------------------------------------------

BAD_ROLES = [
    pytest.param(_grants("{entity: ghost, actions: [read]}"),
                 [["unknown_entity", ROLE, "$.grants[0].entity"]], id="unknown-entity"),
    pytest.param(_grants("{entity: clinic.room, actions: [read]}"),
                 [["undeclared_dependency", ROLE, "$.grants[0].entity"]], id="undeclared"),
    pytest.param(_grants("{entity: sample, actions: [read], fields: {nope: hidden}}"),
                 [["unknown_field", ROLE, "$.grants[0].fields.nope"]], id="unknown-field"),
    pytest.param(_grants("{entity: sample, actions: [read], fields: {results.nope: hidden}}"),
                 [["unknown_field", ROLE, "$.grants[0].fields['results.nope']"]],
                 id="unknown-child-field"),
    pytest.param(_grants("{entity: sample, actions: [read], fields: {lines.value: hidden}}"),
                 [["unknown_field", ROLE, "$.grants[0].fields['lines.value']"]],
                 id="unknown-child"),
    pytest.param(_grants("{entity: analyser, actions: [read], scope: own_unit}"),
                 [["invalid_scope", ROLE, "$.grants[0].scope"]], id="own-unit-no-dimension"),
    pytest.param(_grants("{entity: materials.item, actions: [read], scope: unit_tree}"),
                 [["invalid_scope", ROLE, "$.grants[0].scope"]], id="unit-tree-no-dimension"),
    pytest.param(_grants("{entity: sample, actions: [read], scope: formula}"),
                 [["invalid_scope", ROLE, "$.grants[0].filter"]], id="formula-no-filter"),
    pytest.param(_grants("{entity: sample, actions: [read], filter: cost > 0}"),
                 [["invalid_scope", ROLE, "$.grants[0].filter"]], id="filter-without-formula"),
    pytest.param(_grants("{entity: sample, actions: [read], scope: own_unit, tree: admin}"),
                 [["invalid_scope", ROLE, "$.grants[0].tree"]], id="tree-without-unit-tree"),
    pytest.param(_grants("{entity: sample, actions: [read], scope: unit_tree, tree: nowhere}"),
                 [["unknown_tree", ROLE, "$.grants[0].tree"]], id="unknown-tree"),
    pytest.param(_grants("{entity: sample, actions: [read, update]}",
                         "{entity: sample, actions: [delete]}",
                         "{entity: sample, actions: [export, update], scope: own_records}"),
                 [["duplicate_grant", ROLE, "$.grants[2].actions"]], id="duplicate-grant"),
    pytest.param(_HEAD + "inherits: [ghost]\n",
                 [["unknown_role", ROLE, "$.inherits[0]"]], id="unknown-role"),
    pytest.param(_HEAD + "inherits: [reader, materials.ghost]\n",
                 [["unknown_role", ROLE, "$.inherits[1]"]], id="unknown-role-elsewhere"),
    pytest.param(_HEAD + "inherits: [platform.admin]\n",
                 [["unknown_role", ROLE, "$.inherits[0]"]], id="builtin-not-inherited"),
    pytest.param(_HEAD + "inherits: [clinic.nurse]\n",
                 [["undeclared_dependency", ROLE, "$.inherits[0]"]], id="undeclared-role"),
    pytest.param(_HEAD + "inherits: [extra]\n",
                 [["role_cycle", ROLE, "$.inherits[0]"]], id="self-inherit"),
    pytest.param(_grants("{entity: sample, actions: [read], scope: formula, filter: cost}"),
                 [["formula_type", ROLE, "$.grants[0].filter"]], id="filter-not-boolean"),
    pytest.param(_grants("{entity: sample, actions: [read], scope: formula, filter: statu = 'a'}"),
                 [["formula_unknown_name", ROLE, "$.grants[0].filter"]], id="filter-name"),
    pytest.param(_grants("{entity: sample, actions: [read], scope: formula, filter: 'cost >'}"),
                 [["formula_syntax", ROLE, "$.grants[0].filter"]], id="filter-syntax"),
    pytest.param(_grants("{entity: sample, actions: [fly]}"),
                 [["schema", ROLE, "$.grants[0].actions[0]"]], id="schema-action"),
    pytest.param(_grants("{entity: sample, actions: []}"),
                 [["schema", ROLE, "$.grants[0].actions"]], id="schema-no-actions"),
    pytest.param(_grants("{entity: sample, actions: [read], scope: mine}"),
                 [["schema", ROLE, "$.grants[0].scope"]], id="schema-scope"),
    pytest.param(_grants("{entity: sample, actions: [read], fields: {cost: secret}}"),
                 [["schema", ROLE, "$.grants[0].fields.cost"]], id="schema-access"),
    pytest.param(_HEAD + "platform: [root]\n",
                 [["schema", ROLE, "$.platform[0]"]], id="schema-platform"),
    pytest.param("code: Extra\nname: {zh: 额外, en: Extra}\n",
                 [["schema", ROLE, "$.code"]], id="schema-code"),
]


@pytest.mark.parametrize("text, expected", BAD_ROLES)
def test_a_bad_role_reports_exactly_its_issue(tmp_path, bundled, text, expected):
    root = variant(tmp_path, LAB, {ROLE: text})
    assert codes_of([root], bundled) == expected


def test_roles_inheriting_each_other_report_the_cycle_on_each(tmp_path, bundled):
    root = variant(tmp_path, LAB, {
        "roles/a_first.yaml": "code: a_first\nname: {zh: 甲, en: A}\ninherits: [b_second]\n",
        "roles/b_second.yaml": "code: b_second\nname: {zh: 乙, en: B}\n"
                               "inherits: [reader, c_third]\n",
        "roles/c_third.yaml": "code: c_third\nname: {zh: 丙, en: C}\ninherits: [a_first]\n"})
    issues = issues_of([root], bundled)
    assert [[i.code, i.file, i.path] for i in issues] == [
        ["role_cycle", "roles/a_first.yaml", "$.inherits[0]"],
        ["role_cycle", "roles/b_second.yaml", "$.inherits[1]"],
        ["role_cycle", "roles/c_third.yaml", "$.inherits[0]"]]
    ring = "lab.a_first → lab.b_second → lab.c_third → lab.a_first"
    assert all(ring in i.message.en and ring in i.message.zh for i in issues)


def test_a_tree_declared_only_by_demo_data_cannot_scope_a_role(tmp_path, bundled):
    root = variant(tmp_path, LAB, {
        "org/drill.yaml": "demo: true\ntrees: [{code: drill, name: {zh: 演练, en: Drill}, "
                          "kind: temporary}]\n",
        ROLE: _grants("{entity: sample, actions: [read], scope: unit_tree, tree: drill}")})
    assert codes_of([root], bundled) == [["unknown_tree", ROLE, "$.grants[0].tree"]]


def test_a_duplicate_role_code_is_reported_on_the_later_file(tmp_path, bundled):
    root = variant(tmp_path, LAB, {"roles/zz.yaml": "code: reader\nname: {zh: 又, en: Again}\n"})
    assert codes_of([root], bundled) == [["duplicate_code", "roles/zz.yaml", "$.code"]]


def test_a_role_that_failed_its_schema_is_not_reported_unknown_again(tmp_path, bundled):
    root = variant(tmp_path, LAB, {
        "roles/broken.yaml": "code: broken\n",
        ROLE: _HEAD + "inherits: [broken]\n"})
    assert codes_of([root], bundled) == [["schema", "roles/broken.yaml", "$.name"]]


def test_the_package_code_platform_is_reserved(tmp_path, bundled):
    manifest = (LAB / "package.yaml").read_text(encoding="utf-8")
    root = variant(tmp_path, LAB, {"package.yaml": manifest.replace("code: lab", "code: platform")})
    assert codes_of([root], bundled) == [["reserved_code", "package.yaml", "$.code"]]


def test_an_upgrade_that_drops_an_inherited_role_is_refused(tmp_path, bundled, lab):
    materials = variant(tmp_path, MODULES / "materials", {"roles/requester.yaml": None})
    installed = {**bundled, "lab": lab}
    issues = issues_of([materials], installed)
    # the storekeeper, the workflows' transitions and the demo grants still name
    # it, and the installed lab's technician
    assert [[i.code, i.file, i.path] for i in issues] == [
        ["unknown_role", "roles/storekeeper.yaml", "$.inherits[0]"],
        ["unknown_role", "workflows/requisition_large.yaml", "$.transitions[0].roles[0]"],
        ["unknown_role", "workflows/requisition_large.yaml", "$.transitions[3].roles[0]"],
        ["unknown_role", "workflows/requisition_standard.yaml", "$.transitions[0].roles[0]"],
        ["unknown_role", "workflows/requisition_standard.yaml", "$.transitions[3].roles[0]"],
        ["unknown_role", "org/demo_grants.yaml", "$.role_grants[0].role"],
        ["unknown_role", "org/demo_grants.yaml", "$.role_grants[1].role"],
        ["unknown_role", "org/demo_grants.yaml", "$.role_grants[2].role"],
        ["unknown_role", "package.yaml", "$"],
    ]
    lost = next(i for i in issues if i.file == "package.yaml")
    assert "lab" in lost.message.en and "materials.requester" in lost.message.en
