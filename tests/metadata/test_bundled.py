"""The bundled packages (base, finance, materials) load into the expected specs."""

from __future__ import annotations

from decimal import Decimal

import pytest

from yunying.metadata.loader import load_package, load_packages
from yunying.metadata.spec import (
    ChildSpec, FieldSpec, IndexSpec, NumberingSpec, Requirement,
)
from yunying.platform.errors import InvalidPackage
from yunying.platform.i18n import Text

from metadata_paths import MODULES


def test_all_load_together_in_dependency_order():
    specs = load_packages([MODULES / "materials", MODULES / "finance", MODULES / "base"])
    assert [(s.code, s.version) for s in specs] == [
        ("base", "1.1.0"), ("finance", "1.0.0"), ("materials", "1.4.0")]


def test_base_holds_the_shared_dictionaries(bundled):
    base = bundled["base"]
    assert base.requires == () and base.entities == () and base.seeds == ()
    assert base.label == Text("基础数据", "Base data")
    assert [(d.code, len(d.items), d.hierarchical) for d in base.dictionaries] == [
        ("gender", 3, False), ("staff_category", 8, True), ("uom", 9, False),
        ("yes_no", 2, False)]
    staff = base.dictionary("staff_category")
    assert [(i.code, i.parent) for i in staff.items[:3]] == [
        ("10", None), ("11", "10"), ("12", "10")]
    assert base.dictionary("yes_no").item("Y").label == Text("是", "Yes")


def test_materials_item_entity(bundled):
    materials = bundled["materials"]
    assert materials.requires == (Requirement("base", ">=1.1,<2"),
                                  Requirement("finance", ">=1.0,<2"))
    assert [d.qualified_code for d in materials.dictionaries] == [
        "materials.material_category", "materials.requisition_urgency", "materials.visit_type"]
    item = materials.entity("item")
    assert (item.table_name, item.key_field, item.title_field) == ("materials_item", "code", "name")
    assert item.search_fields == ("code", "name", "spec") and item.default_sort == ("code",)
    assert [(f.code, f.type) for f in item.fields] == [
        ("code", "string"), ("name", "string"), ("spec", "string"), ("category", "enum"),
        ("uom", "enum"), ("unit_price", "money"), ("high_value", "boolean"),
        ("active", "boolean")]
    assert item.field("category").dictionary == "materials.material_category"
    assert item.field("uom").dictionary == "base.uom"
    assert item.field("unit_price") == FieldSpec(
        "unit_price", "money", Text("单价", "Unit price"), required=True, precision=18, scale=4,
        minimum=Decimal("0"))
    assert item.field("active").default is True


def test_materials_requisition_with_lines_and_numbering(bundled):
    requisition = bundled["materials"].entity("requisition")
    assert requisition.numbering == NumberingSpec("number", "LY{yyyy}{mm}-{seq:4}", "month")
    assert (requisition.org_dimension, requisition.date_dimension) == (
        "department", "request_date")
    assert requisition.default_sort == ("-request_date", "-id")
    assert requisition.indexes == (IndexSpec(("department", "request_date")),)
    assert requisition.field("urgency").default == "normal"
    assert requisition.field("request_date").default == "today"
    [lines] = requisition.children
    assert isinstance(lines, ChildSpec)
    assert lines.table_name == "materials_requisition__lines"
    assert lines.field("item").reference == "materials.item"
    assert lines.field("quantity").minimum == Decimal("0.01")
    assert [f.code for f in lines.fields] == ["item", "quantity", "unit_price", "amount", "note"]


def test_materials_seed_and_demo(bundled):
    materials = bundled["materials"]
    [seed] = materials.seeds
    assert (seed.entity, seed.key, seed.file, len(seed.rows)) == (
        "materials.item", "code", "seed/item.yaml", 9)
    assert seed.rows[4]["high_value"] is True and seed.rows[4]["unit_price"] == "590.0000"
    demo = {d.entity: d for d in materials.demo}["materials.requisition"]
    assert (demo.entity, demo.key, demo.demo) == ("materials.requisition", "number", True)
    assert [len(row["lines"]) for row in demo.rows] == [2, 1]
    assert demo.rows[1]["request_date"] == "2026-11-05"


def test_materials_needs_base_and_finance():
    with pytest.raises(InvalidPackage) as caught:
        load_package(MODULES / "materials")
    assert [(i.code, i.path) for i in caught.value.issues] == [
        ("requirement_unsatisfied", "$.requires.base"),
        ("requirement_unsatisfied", "$.requires.finance")]


def test_materials_loads_against_an_installed_base_and_finance(bundled):
    alone = load_package(MODULES / "materials", available={
        "base": bundled["base"], "finance": bundled["finance"]})
    assert alone == bundled["materials"]
