"""Metadata endpoints: entities, packages, dictionaries."""

from __future__ import annotations

from web_helpers import REQUISITION, error_of


def test_entity_list_names_every_installed_entity(client):
    body = client.get("/api/v1/meta/entities").get_json()
    by_code = {e["code"]: e for e in body["items"]}
    performance = {f"performance.{code}" for code in (
        "outpatient_visit", "discharge", "surgery", "revenue_line", "expense_line",
        "staff_count", "bed_count", "balance_sheet")}
    assert set(by_code) == {"materials.item", REQUISITION, "materials.supplier",
                            "materials.consumption"} | performance
    requisition = by_code[REQUISITION]
    assert requisition["package"] == "materials"
    assert requisition["name"] == {"zh-CN": "领用申请单", "en": "Material requisition"}
    assert requisition["fields"] == 10 and requisition["children"] == ["lines"]


def test_entity_description_is_complete(client):
    body = client.get(f"/api/v1/meta/entities/{REQUISITION}").get_json()
    fields = {f["code"]: f for f in body["fields"]}
    assert fields["number"]["type"] == "string" and fields["number"]["max_length"] == 32
    assert fields["number"]["unique"] is True
    urgency = fields["urgency"]
    assert urgency["dictionary"] == "materials.requisition_urgency"
    assert [i["code"] for i in urgency["items"]] == ["normal", "urgent"]
    assert urgency["items"][1]["name"]["en"] == "Urgent"
    assert urgency["default"] == "normal" and urgency["required"] is True
    assert fields["total_amount"]["precision"] == 18 and fields["total_amount"]["scale"] == 2
    assert fields["total_amount"]["minimum"] == "0"
    lines = body["children"][0]
    assert lines["code"] == "lines" and lines["name"]["zh-CN"] == "领用明细"
    line_fields = {f["code"]: f for f in lines["fields"]}
    assert line_fields["item"]["entity"] == "materials.item"
    assert line_fields["item"]["title_field"] == "name"
    assert line_fields["quantity"]["minimum"] == "0.01"
    assert body["numbering"] == {"field": "number", "pattern": "LY{yyyy}{mm}-{seq:4}",
                                 "reset": "month"}
    assert body["dimensions"] == {"org": "department", "date": "request_date"}
    assert body["search_fields"] == ["number", "reason"]
    assert body["menu"] == "documents"
    assert body["list"]["columns"][:2] == ["number", "department"]
    assert body["list"]["page_size"] == 20
    basics, lines_section = body["form"]["sections"]
    assert lines_section["children"] == ["lines"]
    urgent = next(f for f in basics["fields"] if f["field"] == "urgent_reason")
    assert urgent["visible_when"] == urgent["required_when"] == "urgency = 'urgent'"
    assert urgent["span"] == 2 and urgent["help"]["en"] == "Explain why the requisition is urgent"
    assert body["key_field"] == "number"


def test_packages_and_versions(client):
    items = client.get("/api/v1/meta/packages").get_json()["items"]
    assert [(p["code"], p["version"]) for p in items] == [
        ("base", "1.1.0"), ("finance", "1.0.0"), ("materials", "1.4.0"),
        ("performance", "1.0.0")]
    assert items[2]["name"]["en"] == "Materials management"
    assert items[0]["installed_by"] == "tester"


def test_dictionary_items(client):
    body = client.get("/api/v1/meta/dictionaries/base.uom").get_json()
    assert body["code"] == "base.uom"
    codes = [i["code"] for i in body["items"]]
    assert "box" in codes and "pcs" in codes
    box = next(i for i in body["items"] if i["code"] == "box")
    assert box["name"] == {"zh-CN": "盒", "en": "Box"}


def test_unknown_meta_items_are_404(client):
    for url in ("/api/v1/meta/entities/materials.nothing", "/api/v1/meta/dictionaries/uom",
                "/api/v1/meta/entities/" + "x" * 3000):
        response = client.get(url)
        assert response.status_code == 404
        assert len(error_of(response)["message"]) < 300
