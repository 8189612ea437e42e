"""Helpers of the Excel export and import tests (imported as a plain module).

The fixture package ``xlt`` (written to a temporary folder) has an entity of
every field type with a child table, and the roles the tests need;
:func:`xlt_app` is an app over a pristine copy of the bundled packages
with ``xlt`` installed (see ui_db_helpers.Templates).
"""

from __future__ import annotations

import io
import textwrap
from pathlib import Path
from typing import Iterator

from flask import Flask
from openpyxl import load_workbook

from yunying.app import services
from yunying.platform.access import ANY_DOMAIN
from yunying.runtime.installer import bundled_package_paths, install_packages
from ui_db_helpers import Templates
from ui_helpers import copied_app, page_text, ui_client
from web_helpers import INSTALLER, ensure_user

__all__ = ["SAMPLE", "PASSWORD", "XLSX", "XLT", "install_sample", "xlt_app", "admin_client", "user_with",
           "create", "workbook", "values", "column_of", "sample_body"]

SAMPLE = "xlt.sample"
PASSWORD = "excel-tests-secret-1"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

_FILES = {
    "package.yaml": """
        code: xlt
        version: 1.0.0
        name: {zh: 导入导出测试, en: Excel tests}
        requires:
          materials: ">=1.0,<2"
        """,
    "dictionaries/kind.yaml": """
        code: kind
        name: {zh: 种类, en: Kind}
        items:
          - {code: a, name: {zh: 甲类, en: Alpha}, sort: 1}
          - {code: b, name: {zh: 乙类, en: Beta}, sort: 2}
        """,
    "entities/sample.yaml": """
        code: sample
        name: {zh: 样本, en: Sample}
        key_field: code
        title_field: title
        search_fields: [code, title]
        default_sort: [code]
        numbering: {field: number, pattern: "YB{yyyy}-{seq:4}"}
        fields:
          - {code: code, type: string, length: 32, required: true, unique: true,
             name: {zh: 编码, en: Code}}
          - {code: number, type: string, length: 32, unique: true, name: {zh: 单号, en: Number}}
          - {code: title, type: string, length: 100, required: true, name: {zh: 名称, en: Title}}
          - {code: qty, type: integer, min: 0, name: {zh: 件数, en: Count}}
          - {code: ratio, type: decimal, precision: 10, scale: 3, name: {zh: 比例, en: Ratio}}
          - {code: amount, type: money, min: 0, name: {zh: 金额, en: Amount}}
          - {code: flag, type: boolean, default: false, name: {zh: 标记, en: Flag}}
          - {code: day, type: date, name: {zh: 日期, en: Day}}
          - {code: moment, type: datetime, name: {zh: 时刻, en: Moment}}
          - {code: kind, type: enum, dictionary: kind, required: true, name: {zh: 种类, en: Kind}}
          - {code: item, type: reference, entity: materials.item, name: {zh: 物资, en: Item}}
          - {code: owner, type: user, name: {zh: 负责人, en: Owner}}
          - {code: unit, type: org_unit, name: {zh: 科室, en: Unit}}
          - {code: note, type: text, name: {zh: 备注, en: Note}}
          - {code: total, type: computed, formula: "amount * qty", result: money,
             name: {zh: 合计, en: Total}}
        children:
          - code: parts
            name: {zh: 部件, en: Parts}
            fields:
              - {code: item, type: reference, entity: materials.item, required: true,
                 name: {zh: 物资, en: Item}}
              - {code: count, type: decimal, precision: 12, scale: 2, min: 0.01, required: true,
                 name: {zh: 数量, en: Count}}
              - {code: note, type: string, length: 50, name: {zh: 说明, en: Note}}
              - {code: double, type: computed, formula: "count * 2", result: decimal,
                 precision: 12, scale: 2, name: {zh: 双倍, en: Double}}
        """,
    "roles/exporter.yaml": """
        code: exporter
        name: {zh: 导出者, en: Exporter}
        grants:
          - entity: sample
            actions: [read, export]
            scope: formula
            filter: "kind = 'a'"
            fields: {amount: hidden, parts.note: hidden}
        """,
    "roles/importer.yaml": """
        code: importer
        name: {zh: 导入者, en: Importer}
        grants:
          - entity: sample
            actions: [read, create, import, export]
            fields: {note: read_only}
          - {entity: materials.item, actions: [read]}
        """,
    "roles/creator.yaml": """
        code: creator
        name: {zh: 录入者, en: Creator}
        grants:
          - {entity: sample, actions: [read, create]}
          - {entity: materials.item, actions: [read]}
        """,
}


#: the template kind of the bundled packages with ``xlt`` (see ui_db_helpers).
XLT = "xlt"


def install_sample(app: Flask) -> None:
    """Write the ``xlt`` package to the app's instance folder and install it
    with the bundled packages."""
    root = Path(app.instance_path) / "xlt"
    for name, text in _FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    install_packages(services(app).db, [*bundled_package_paths(), str(root)], INSTALLER)


def user_with(app, code: str, *roles: str):
    """A UI client signed in as ``code`` holding ``roles`` (everywhere)."""
    ensure_user(app, code, PASSWORD)
    with services(app).db.begin(write=True) as conn:
        for role in roles:
            services(app).access.grant_role(conn, INSTALLER, code, role, ANY_DOMAIN)
    return ui_client(app, code, PASSWORD)


def create(client, entity: str, body: dict) -> int:
    """A record created through the JSON API (the UI client's session + CSRF)."""
    c, token = client
    response = c.post(f"/api/v1/records/{entity}", json=body, headers={"X-CSRFToken": token})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def workbook(response):
    """The workbook of an .xlsx response (asserting the response)."""
    assert response.status_code == 200, page_text(response)[-2000:]
    assert response.mimetype == XLSX
    assert "attachment" in response.headers["Content-Disposition"]
    return load_workbook(io.BytesIO(response.get_data()))


def values(ws) -> list[list]:
    return [list(row) for row in ws.iter_rows(values_only=True)]


def column_of(ws, code: str) -> int:
    """The 1-based column whose hidden code (row 2) is ``code``."""
    codes = [cell.value for cell in ws[2]]
    return codes.index(code) + 1


def sample_body(code: str, **extra) -> dict:
    body = {"code": code, "title": f"样本 {code}", "qty": 3, "ratio": "0.125",
            "amount": "12345.60", "flag": True, "day": "2025-03-04",
            "moment": "2025-03-04T08:30:00", "kind": "a", "owner": "admin", "unit": "HOSP",
            "note": "=1+2 stays text", "parts": [{"item": 1, "count": "2.50", "note": "n1"},
                                                  {"item": 2, "count": "1"}]}
    body.update(extra)
    return body


def xlt_app(ui_templates: Templates, tmp_path: Path) -> Iterator[Flask]:
    """The Excel tests' ``app`` fixture, the bundled packages and ``xlt`` in a
    database of the test's own: ``app = pytest.fixture(xlt_app, name="app")``."""
    with copied_app(ui_templates, XLT, install_sample, tmp_path) as app:
        yield app


def admin_client(app: Flask):
    """The Excel tests' ``admin`` fixture: the superuser's UI client and its
    CSRF token."""
    return ui_client(app)
