"""Fixtures and spec builders for the record-service tests.

The specs mirror the bundled ``base`` and ``materials`` packages (item
catalogue, requisition with ``lines``, numbering ``LY{yyyy}{mm}-{seq:4}``)
plus a ``lab.sample`` entity carrying one field of every type. They are built
directly in Python, independent of the package loader. Test modules import
the fixtures they use from here (there is no conftest in tests/runtime).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import insert

from yunying.metadata.spec import (
    ChildSpec, DictionaryItemSpec, DictionarySpec, EntitySpec, FieldSpec, IndexSpec,
    NumberingSpec, PackageSpec,
)
from yunying.platform.context import Context
from yunying.platform.i18n import Text
from yunying.platform.tables import attachment
from yunying.runtime.records import RecordService
from yunying.runtime.registry import Registry

NOW = datetime(2026, 11, 25, 9, 30, 0)
TODAY = NOW.date()
CTX = Context(actor="tester", clock=lambda: NOW)
REQ = "materials.requisition"
ITEM = "materials.item"
SAMPLE = "lab.sample"


def at(moment: datetime, actor: str = "tester", language: str = "zh-CN") -> Context:
    """A context whose clock is fixed at ``moment``."""
    return Context(actor=actor, language=language, clock=lambda: moment)


def F(code: str, type_: str, zh: str, en: str, **kw) -> FieldSpec:
    kw = {k: Decimal(str(v)) if k in ("minimum", "maximum") else v for k, v in kw.items()}
    return FieldSpec(code=code, type=type_, label=Text(zh, en), **kw)


def _items(*rows) -> tuple[DictionaryItemSpec, ...]:
    return tuple(DictionaryItemSpec(code=r[0], label=Text(r[1], r[2]),
                                    **(r[3] if len(r) > 3 else {})) for r in rows)


def base_package() -> PackageSpec:
    uom = DictionarySpec("base", "uom", Text("计量单位", "Units of measure"), _items(
        ("pcs", "个", "Piece"), ("box", "盒", "Box"), ("bottle", "瓶", "Bottle"),
        ("ream", "令", "Ream"),
        ("dozen", "打", "Dozen", {"active": False}),
        ("jin", "斤", "Jin", {"valid_to": date(2020, 12, 31)}),
        ("kit", "套件", "Kit", {"valid_from": date(2027, 1, 1)}),
    ))
    return PackageSpec(code="base", version="1.0.0", label=Text("基础", "Base"),
                       dictionaries=(uom,))


def item_entity() -> EntitySpec:
    return EntitySpec(
        package="materials", code="item", label=Text("物资", "Material item"),
        key_field="code", title_field="name", search_fields=("code", "name", "spec"),
        default_sort=("code",),
        fields=(
            F("code", "string", "物资编码", "Item code", length=32, pattern="^[A-Z0-9-]+$",
              required=True, unique=True),
            F("name", "string", "物资名称", "Item name", length=100, required=True, indexed=True),
            F("spec", "string", "规格型号", "Specification", length=100),
            F("category", "enum", "物资分类", "Category", dictionary="materials.material_category",
              required=True),
            F("uom", "enum", "计量单位", "Unit of measure", dictionary="base.uom", required=True),
            F("unit_price", "money", "单价", "Unit price", scale=4, minimum=0, required=True),
            F("high_value", "boolean", "高值耗材", "High-value item", default=False),
            F("active", "boolean", "启用", "Active", default=True),
        ))


def requisition_entity() -> EntitySpec:
    lines = ChildSpec(code="lines", label=Text("领用明细", "Lines"),
                      table_name="materials_requisition__lines", fields=(
        F("item", "reference", "物资", "Item", reference=ITEM, required=True),
        F("quantity", "decimal", "数量", "Quantity", precision=12, scale=2, minimum="0.01",
          required=True),
        F("unit_price", "money", "单价", "Unit price", scale=4, minimum=0),
        F("amount", "money", "金额", "Amount", minimum=0),
        F("note", "string", "备注", "Note", length=200),
    ))
    return EntitySpec(
        package="materials", code="requisition", label=Text("领用申请单", "Material requisition"),
        key_field="number", title_field="number", search_fields=("number", "reason"),
        default_sort=("-request_date", "-id"), org_dimension="department",
        date_dimension="request_date",
        numbering=NumberingSpec(field="number", pattern="LY{yyyy}{mm}-{seq:4}", reset="month"),
        fields=(
            F("number", "string", "单号", "Number", length=32, unique=True),
            F("department", "org_unit", "申请科室", "Requesting department", required=True),
            F("requester", "user", "申请人", "Requester"),
            F("request_date", "date", "申请日期", "Request date", required=True, default="today"),
            F("urgency", "enum", "紧急程度", "Urgency",
              dictionary="materials.requisition_urgency", required=True, default="normal"),
            F("reason", "text", "申请事由", "Reason"),
            F("attachment", "attachment", "附件", "Attachment"),
            F("total_amount", "money", "合计金额", "Total amount", minimum=0),
        ),
        indexes=(IndexSpec(fields=("department", "request_date")),),
        children=(lines,),
    )


def materials_package() -> PackageSpec:
    category = DictionarySpec("materials", "material_category", Text("物资分类", "Material category"),
                              _items(("0101", "低值耗材", "Low-value consumables"),
                                     ("0102", "高值耗材", "High-value consumables"),
                                     ("02", "办公用品", "Office supplies")),
                              hierarchical=True)
    urgency = DictionarySpec("materials", "requisition_urgency", Text("紧急程度", "Urgency"),
                             _items(("normal", "普通", "Normal"), ("urgent", "紧急", "Urgent")))
    return PackageSpec(code="materials", version="1.0.0", label=Text("物资管理", "Materials"),
                       entities=(item_entity(), requisition_entity()),
                       dictionaries=(category, urgency))


def sample_entity() -> EntitySpec:
    """One field of every type, for validation and list-query tests."""
    entries = ChildSpec(code="entries", label=Text("记录行", "Entries"),
                        table_name="lab_sample__entries", fields=(
        F("tag", "string", "标签", "Tag", length=20, unique=True),
        F("value", "integer", "数值", "Value", minimum=0),
    ))
    return EntitySpec(
        package="lab", code="sample", label=Text("样本", "Sample"),
        key_field="code", search_fields=("code", "title", "notes"), default_sort=("code",),
        fields=(
            F("code", "string", "编号", "Code", length=12, min_length=3, pattern="^S-[0-9]+$",
              required=True, unique=True),
            F("title", "string", "标题", "Title", length=40),
            F("notes", "text", "备注", "Notes", min_length=2),
            F("count", "integer", "数量", "Count", minimum=1, maximum=100),
            F("ratio", "decimal", "比例", "Ratio", precision=6, scale=3, minimum="-10", maximum=99),
            F("price", "money", "价格", "Price"),
            F("flag", "boolean", "标志", "Flag"),
            F("day", "date", "日期", "Day"),
            F("moment", "datetime", "时间", "Moment"),
            F("uom", "enum", "单位", "Unit", dictionary="base.uom"),
            F("item", "reference", "物资", "Item", reference=ITEM),
            F("owner", "user", "负责人", "Owner"),
            F("dept", "org_unit", "科室", "Department"),
            F("file", "attachment", "附件", "File"),
            F("slot", "integer", "槽位", "Slot"),
            F("rack", "string", "架号", "Rack", length=8),
        ),
        indexes=(IndexSpec(fields=("rack", "slot"), unique=True),),
        children=(entries,),
    )


def lab_package() -> PackageSpec:
    return PackageSpec(code="lab", version="1.0.0", label=Text("检验", "Lab"),
                       entities=(sample_entity(),))


def make_registry() -> Registry:
    return Registry.from_packages([base_package(), materials_package(), lab_package()])


def create_tables(db, registry: Registry) -> None:
    with db.begin() as conn:
        registry.model.metadata.create_all(conn)


def add_attachment(db, name: str = "a.pdf") -> int:
    with db.begin() as conn:
        return conn.execute(insert(attachment).values(
            filename=name, content_type="application/pdf", size=3, sha256="0" * 64,
            storage_key=name, created_at=NOW, created_by="tester",
        ).returning(attachment.c.id)).scalar_one()


ITEM_ROWS = [
    {"code": "WS-0001", "name": "一次性使用无菌注射器", "spec": "5ml", "category": "0101",
     "uom": "box", "unit_price": "32.5000"},
    {"code": "WS-0002", "name": "医用外科口罩", "spec": "17.5×9.5cm", "category": "0101",
     "uom": "box", "unit_price": "18.0000"},
    {"code": "BG-0001", "name": "A4复印纸", "spec": "70g 500张", "category": "02",
     "uom": "ream", "unit_price": "24.0000"},
]


@pytest.fixture
def registry() -> Registry:
    return make_registry()


@pytest.fixture
def service(registry) -> RecordService:
    return RecordService(registry)


@pytest.fixture
def tables(db, registry):
    """The platform tables plus every entity table; returns the Database."""
    create_tables(db, registry)
    return db


@pytest.fixture
def items(tables, service) -> dict[str, int]:
    """The three catalogue items, by code → id."""
    ids = {}
    with tables.begin() as conn:
        for row in ITEM_ROWS:
            ids[row["code"]] = service.create(conn, CTX, ITEM, row)["id"]
    return ids


def requisition(items: dict[str, int], **overrides) -> dict:
    data = {"department": "0301", "requester": "zhangsan", "reason": "月度领用",
            "lines": [{"item": items["WS-0001"], "quantity": "20", "unit_price": "32.5",
                       "amount": "650.00"},
                      {"item": items["WS-0002"], "quantity": 10}]}
    data.update(overrides)
    return data


def field_errors(exc) -> dict:
    """``{path: [codes]}`` of a ValidationFailed."""
    return {path: [e["code"] for e in errors] for path, errors in exc.details["fields"].items()}
