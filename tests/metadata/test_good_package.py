"""A complete fixture package loads into the expected frozen specs."""

from __future__ import annotations

import dataclasses
import json
import shutil
import zipfile
from datetime import date
from decimal import Decimal
from types import MappingProxyType

import pytest

from yunying.metadata.builder import DOCUMENT_KINDS, package_from_documents
from yunying.metadata.loader import load_package, load_packages, read_package_files
from yunying.metadata.spec import (
    ChildSpec, DictionaryItemSpec, EntitySpec, FieldSpec, IndexSpec, NumberingSpec,
    Requirement,
)
from yunying.platform.errors import InvalidPackage
from yunying.platform.i18n import Text

from metadata_paths import GOOD, MODULES

CLINIC, WARD = GOOD / "clinic", GOOD / "ward"


@pytest.fixture
def loaded(bundled):
    specs = load_packages([WARD, CLINIC], installed={"base": bundled["base"]})
    return {s.code: s for s in specs}


def test_packages_come_in_dependency_order():
    specs = load_packages([WARD, CLINIC, MODULES / "base"])
    assert [s.code for s in specs] == ["base", "clinic", "ward"]


def test_manifest(loaded):
    clinic = loaded["clinic"]
    assert (clinic.code, clinic.version) == ("clinic", "1.2.3")
    assert clinic.label == Text("门诊", "Clinic")
    assert clinic.description == Text("测试用的完整配置包", "A complete package for tests")
    assert clinic.requires == (Requirement("base", ">=1.0,<2"),)
    assert len(clinic.checksum) == 64
    assert [e.code for e in clinic.entities] == ["room", "visit"]


def test_room_entity_is_exactly_the_expected_spec(loaded):
    assert loaded["clinic"].entity("room") == EntitySpec(
        package="clinic", code="room", label=Text("诊室", "Consulting room"),
        fields=(
            FieldSpec("code", "string", Text("编码", "Code"), required=True, unique=True,
                      length=16, pattern="^[A-Z][0-9]{3}$"),
            FieldSpec("name", "string", Text("名称", "Name"), required=True, length=50,
                      min_length=2),
            FieldSpec("capacity", "integer", Text("容量", "Capacity"), default=10,
                      minimum=Decimal("1"), maximum=Decimal("500")),
            FieldSpec("area", "decimal", Text("面积", "Area"), precision=8, scale=2,
                      minimum=Decimal("0.5")),
        ),
        key_field="code", title_field="name")


def test_visit_entity_covers_every_field_type(loaded):
    visit = loaded["clinic"].entity("visit")
    by_code = {f.code: f for f in visit.fields}
    assert {f.type for f in visit.fields} == {
        "string", "text", "integer", "decimal", "money", "boolean", "date", "datetime",
        "enum", "reference", "user", "org_unit", "attachment"}
    assert by_code["fee"] == FieldSpec("fee", "money", Text("费用", "Fee"), default=Decimal("0"),
                                       precision=18, scale=2, minimum=Decimal("0"))
    assert by_code["ratio"].default == Decimal("0.5") and by_code["ratio"].maximum == Decimal(1)
    assert by_code["visit_date"].default == "today" and by_code["checked_in"].default == "now"
    assert by_code["first_seen"].default == date(2024, 2, 29)
    assert by_code["first_seen"].renamed_from == "first_visit"
    assert by_code["insured"].default is False
    assert by_code["visit_type"].dictionary == "clinic.visit_type"
    assert by_code["visit_type"].default == "OP"
    assert by_code["gender"].dictionary == "base.gender"
    assert by_code["room"].reference == "clinic.room"
    assert by_code["notes"].description == Text("自由文本", "Free text")
    assert by_code["patient"].indexed is True
    assert visit.description == Text("一次门诊就诊", "One outpatient visit")
    assert (visit.key_field, visit.title_field) == ("number", "number")
    assert visit.search_fields == ("number", "patient")
    assert visit.default_sort == ("-visit_date", "-id")
    assert (visit.org_dimension, visit.date_dimension) == ("department", "visit_date")
    assert visit.indexes == (IndexSpec(("department", "visit_date")),
                             IndexSpec(("patient", "visit_date"), unique=True))


def test_numbering_reset_defaults_to_the_finest_date_token(loaded):
    assert loaded["clinic"].entity("visit").numbering == NumberingSpec(
        "number", "MZ{yy}{mm}{dd}-{seq:3}", "day")


def test_child_tables_are_named_and_qualified(loaded):
    [items] = loaded["clinic"].entity("visit").children
    assert items == ChildSpec(
        code="items", label=Text("收费项目", "Charge items"), table_name="clinic_visit__items",
        fields=(
            FieldSpec("item_name", "string", Text("项目", "Item"), required=True, length=100),
            FieldSpec("quantity", "decimal", Text("数量", "Quantity"), precision=10, scale=3,
                      minimum=Decimal("0.001")),
            FieldSpec("amount", "money", Text("金额", "Amount"), precision=12, scale=2),
            FieldSpec("room", "reference", Text("诊室", "Room"), reference="clinic.room"),
        ))


def test_dictionary_items_with_parents_and_dates(loaded):
    [visit_type] = loaded["clinic"].dictionaries
    assert visit_type.qualified_code == "clinic.visit_type" and visit_type.hierarchical
    assert visit_type.items == (
        DictionaryItemSpec("OP", Text("门诊", "Outpatient"), sort=1),
        DictionaryItemSpec("OP.1", Text("普通门诊", "General clinic"), parent="OP", sort=2,
                           valid_from=date(2020, 1, 1)),
        DictionaryItemSpec("ER", Text("急诊", "Emergency"), sort=3, valid_to=date(2030, 12, 31),
                           active=False),
    )


def test_seed_and_demo_rows_are_frozen_with_decimals_never_floats(loaded):
    [seed] = loaded["clinic"].seeds
    assert (seed.package, seed.entity, seed.key, seed.file, seed.demo) == (
        "clinic", "clinic.room", "code", "seed/room.yaml", False)
    assert seed.rows[0] == {"code": "A101", "name": "一诊室", "capacity": 12,
                            "area": Decimal("18.25")}
    assert isinstance(seed.rows[0], MappingProxyType)
    [demo] = loaded["clinic"].demo
    assert (demo.entity, demo.key, demo.demo) == ("clinic.visit", "number", True)
    assert demo.rows[0]["visit_date"] == "2026-11-02"
    assert demo.rows[0]["items"] == ({"item_name": "挂号费", "quantity": 1,
                                      "amount": "5.00", "room": "A101"},)


def test_seed_key_of_another_packages_entity_is_resolved(loaded):
    ward = loaded["ward"]
    assert ward.requires == (Requirement("clinic", "~=1.2"),)
    assert [(s.entity, s.key) for s in ward.seeds] == [("clinic.room", "code")]
    bed = ward.entity("bed")
    assert bed.field("room").reference == "clinic.room"
    assert bed.field("kind").dictionary == "clinic.visit_type"


def test_documents_are_read_only_json_and_rebuild_the_same_spec(loaded):
    clinic = loaded["clinic"]
    docs = clinic.documents
    assert set(docs) == {"package", *DOCUMENT_KINDS}
    assert {"entity", "dictionary", "seed", "demo", "role", "org", "workflow", "posting",
            "indicator"} <= set(DOCUMENT_KINDS)
    assert list(docs["entity"]) == ["room", "visit"]
    assert list(docs["seed"]) == ["seed/room.yaml"] and list(docs["demo"]) == ["demo/visit.yaml"]
    with pytest.raises(TypeError):
        docs["entity"]["room"] = {}  # type: ignore[index]
    plain = {kind: docs[kind] if kind == "package" else dict(docs[kind]) for kind in docs}
    stored = json.loads(json.dumps(plain, ensure_ascii=False))
    assert stored["dictionary"]["visit_type"]["items"][1]["valid_from"] == "2020-01-01"
    rebuilt = package_from_documents(stored, checksum=clinic.checksum)
    assert rebuilt == clinic


def test_specs_are_frozen(loaded):
    with pytest.raises(dataclasses.FrozenInstanceError):
        loaded["clinic"].version = "9.9.9"  # type: ignore[misc]
    with pytest.raises(TypeError):
        loaded["clinic"].seeds[0].rows[0]["code"] = "X"  # type: ignore[index]


def _zip(folder, target, prefix=""):
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                out.write(path, prefix + path.relative_to(folder).as_posix())
        out.writestr(prefix + ".DS_Store", b"junk")
        out.writestr("__MACOSX/._package.yaml", b"junk")
    return target


@pytest.mark.parametrize("prefix", ["", "clinic-1.2.3/"])
def test_a_zip_loads_like_its_folder_with_the_same_checksum(tmp_path, bundled, prefix):
    archive = _zip(CLINIC, tmp_path / "clinic.zip", prefix)
    available = {"base": bundled["base"]}
    assert load_package(archive, available=available) == load_package(CLINIC, available=available)


def test_checksum_covers_paths_and_bytes_and_ignores_hidden_files(tmp_path):
    copy = shutil.copytree(CLINIC, tmp_path / "clinic")
    _, original, _ = read_package_files(CLINIC)
    (copy / ".hidden").write_text("ignored")
    assert read_package_files(copy)[1] == original
    (copy / "README.md").write_text("notes")
    assert read_package_files(copy)[1] != original
    (copy / "README.md").unlink()
    (copy / "seed" / "room.yaml").rename(copy / "seed" / "rooms.yaml")
    assert read_package_files(copy)[1] != original


def test_a_missing_requirement_is_reported_when_loaded_alone():
    with pytest.raises(InvalidPackage) as caught:
        load_package(WARD)
    assert [(i.code, i.path) for i in caught.value.issues] == [
        ("requirement_unsatisfied", "$.requires.clinic")]


def test_upgrading_a_package_beyond_what_installed_packages_accept_is_refused(tmp_path, loaded):
    newer = shutil.copytree(CLINIC, tmp_path / "clinic")
    manifest = newer / "package.yaml"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace("1.2.3", "2.0.0"),
                        encoding="utf-8")
    installed = {code: loaded[code] for code in ("clinic", "ward")}
    installed["base"] = load_package(MODULES / "base")
    with pytest.raises(InvalidPackage) as caught:
        load_packages([newer], installed=installed)
    [issue] = caught.value.issues
    assert (issue.code, issue.package, issue.file, issue.path, issue.line) == (
        "requirement_unsatisfied", "clinic", "package.yaml", "$.version", 2)
    assert "installed package ward requires clinic ~=1.2" in issue.message.en
    # loading the dependent together with the upgrade reports it there instead
    with pytest.raises(InvalidPackage) as caught:
        load_packages([newer, WARD], installed=installed)
    assert [(i.package, i.path) for i in caught.value.issues] == [
        ("ward", "$.requires.clinic")]


def test_loading_twice_gives_equal_specs(bundled):
    base = {"base": bundled["base"]}
    assert load_packages([CLINIC], installed=base) == load_packages([CLINIC], installed=base)
