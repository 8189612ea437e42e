"""The generated OpenAPI 3.1 document: valid, complete, and matching the
responses the API actually sends."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import jsonschema
import pytest
from openapi_spec_validator import validate

from yunying.app import services
from yunying.runtime.api.openapi import build_document
from web_helpers import ITEM, REQUISITION


@pytest.fixture
def document(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def _validator(document, component: str) -> jsonschema.Draft202012Validator:
    schema = {"$ref": f"#/components/schemas/{component}",
              "components": document["components"]}
    return jsonschema.Draft202012Validator(schema)


def test_document_is_valid_openapi_3_1(document):
    assert document["openapi"] == "3.1.0"
    validate(document)


def test_document_lists_every_installed_entity(app, document):
    entities = services(app).runtime().registry.entities
    schemas = document["components"]["schemas"]
    for code in entities:
        assert f"/api/v1/records/{code}" in document["paths"]
        assert f"/api/v1/records/{code}/{{id}}" in document["paths"]
        for suffix in ("", ".Input", ".Patch", ".Page"):
            assert code + suffix in schemas
    assert f"{REQUISITION}.lines" in schemas and f"{REQUISITION}.lines.Input" in schemas


def test_schemas_carry_types_and_constraints(document):
    schemas = document["components"]["schemas"]
    item = schemas[f"{ITEM}.Input"]
    assert item["properties"]["code"]["maxLength"] == 32
    assert item["properties"]["code"]["pattern"] == "^[A-Z0-9-]+$"
    assert {"code", "name", "category", "uom", "unit_price"} <= set(item["required"])
    price = item["properties"]["unit_price"]
    assert set(price["type"]) == {"string", "number"} and price["minimum"] == 0
    assert schemas[ITEM]["properties"]["unit_price"]["type"] == "string"
    assert "box" in item["properties"]["uom"]["enum"]
    requisition = schemas[f"{REQUISITION}.Input"]["properties"]
    assert requisition["request_date"]["format"] == "date"
    assert requisition["lines"]["items"] == {
        "$ref": f"#/components/schemas/{REQUISITION}.lines.Input"}
    line = schemas[f"{REQUISITION}.lines.Input"]["properties"]
    assert line["quantity"]["minimum"] == Decimal("0.01")  # a JSON number, read exactly
    assert schemas[REQUISITION]["properties"]["created_at"]["format"] == "date-time"
    patch = schemas[f"{REQUISITION}.Patch"]
    assert patch["required"] == ["version"]
    listing = document["paths"][f"/api/v1/records/{REQUISITION}"]["get"]
    names = {p["$ref"].rsplit("/", 1)[1] for p in listing["parameters"]}
    assert {"filter", "sort", "page", "page_size", "search"} <= names
    assert listing["responses"]["400"] == {"$ref": "#/components/responses/Error400"}


def test_real_responses_match_the_document(client, document, item_ids):
    body = {"department": "0301", "lines": [{"item": item_ids["WS-0001"], "quantity": 2}]}
    _validator(document, f"{REQUISITION}.Input").validate(body)
    created = client.post(f"/api/v1/records/{REQUISITION}", json=body)
    _validator(document, REQUISITION).validate(created.get_json())
    listing = client.get(f"/api/v1/records/{ITEM}?page_size=50").get_json()
    _validator(document, f"{ITEM}.Page").validate(listing)
    error = client.get(f"/api/v1/records/{ITEM}?filter=x:eq:1").get_json()
    _validator(document, "Error").validate(error)
    with pytest.raises(jsonschema.ValidationError):
        _validator(document, f"{REQUISITION}.Input").validate({"lines": []})


def test_document_is_cached_per_metadata_version(app, client):
    first = client.get("/api/v1/openapi.json").get_json()
    cache = app.extensions["yunying.openapi"]
    registry = services(app).runtime().registry
    assert cache.document(registry) is cache.document(registry)
    assert first["info"]["x-metadata-version"] == registry.metadata_version
    assert app.json.loads(app.json.dumps(build_document(registry))) == first


def test_a_new_metadata_version_rebuilds_the_document(app):
    cache = app.extensions["yunying.openapi"]
    registry = services(app).runtime().registry
    old = cache.document(registry)
    newer = replace(registry, metadata_version=registry.metadata_version + 1)
    rebuilt = cache.document(newer)
    assert rebuilt is not old
    assert rebuilt["info"]["x-metadata-version"] == registry.metadata_version + 1
