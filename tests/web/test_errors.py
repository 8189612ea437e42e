"""The one error handler: status per error class, language choice, 500s."""

from __future__ import annotations

import logging

import pytest

from yunying.platform.errors import (
    ConfigurationError, Conflict, InvalidPackage, InvalidQuery, LossyChange, NotFound,
    PermissionDenied, StaleRecord, ValidationFailed, YunyingError,
)
from yunying.platform.i18n import Text
from yunying.runtime.api.errors import status_of
from web_helpers import ITEM, error_of

MESSAGE = Text("中文消息", "English message")


@pytest.mark.parametrize("error, status", [
    (InvalidQuery(MESSAGE), 400),
    (InvalidPackage([]), 422),
    (ValidationFailed(MESSAGE), 422),
    (NotFound(MESSAGE), 404),
    (StaleRecord(MESSAGE), 409),
    (Conflict(MESSAGE), 409),
    (LossyChange(MESSAGE), 409),
    (PermissionDenied(MESSAGE), 403),
    (ConfigurationError(MESSAGE), 400),
    (YunyingError(MESSAGE), 400),
])
def test_status_per_error_class(error, status):
    assert status_of(error) == status


def test_subclasses_inherit_their_parents_status():
    class VeryStale(StaleRecord):
        code = "very_stale"
    assert status_of(VeryStale(MESSAGE)) == 409


@pytest.mark.parametrize("headers, query, language", [
    ({}, "", "zh-CN"),
    ({"Accept-Language": "en-GB,en;q=0.8"}, "", "en"),
    ({"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}, "", "zh-CN"),
    ({"Accept-Language": "fr"}, "", "zh-CN"),
    ({"Accept-Language": "zh-CN"}, "&lang=en", "en"),
    ({"Accept-Language": "en"}, "&lang=zh-CN", "zh-CN"),
])
def test_message_language(client, headers, query, language):
    response = client.get(f"/api/v1/records/{ITEM}?filter=x:eq:1{query}", headers=headers)
    error = error_of(response)
    assert error["message"] == error["messages"][language]


def test_mapped_errors_through_http(app, client):
    def raiser(error):
        def view():
            raise error
        return view
    cases = {"/boom/package": (InvalidPackage([]), 422, "invalid_package"),
             "/boom/lossy": (LossyChange(MESSAGE, details={"ops": []}), 409, "lossy_change"),
             "/boom/denied": (PermissionDenied(MESSAGE), 403, "permission_denied")}
    for url, (error, _, _) in cases.items():
        app.add_url_rule(url, url, raiser(error))
    for url, (_, status, code) in cases.items():
        response = client.get(url)
        assert response.status_code == status
        assert error_of(response)["code"] == code


def test_unexpected_exceptions_are_500_generic_and_logged(app, client, caplog):
    @app.get("/boom/internal")
    def boom():
        raise RuntimeError("secret internals")

    with caplog.at_level(logging.ERROR):
        response = client.get("/boom/internal", headers={"X-Request-Id": "trace-1"})
    assert response.status_code == 500
    error = error_of(response)
    assert error["code"] == "internal_error"
    assert "secret" not in response.get_data(as_text=True)
    assert error["details"] == {"request_id": "trace-1"}
    assert "secret internals" in caplog.text and "trace-1" in caplog.text
