"""Attachment upload and download through HTTP."""

from __future__ import annotations

import hashlib
import io
import os

from sqlalchemy import func, select

from yunying.app import services
from yunying.platform.tables import attachment
from web_helpers import REQUISITION, error_of

URL = "/api/v1/attachments"


def _upload(client, content: bytes, name: str = "报告.pdf",
            content_type: str = "application/pdf"):
    return client.post(URL, data={"file": (io.BytesIO(content), name, content_type)},
                       content_type="multipart/form-data")


def _rows(app) -> int:
    with services(app).db.connect() as conn:
        return conn.execute(select(func.count()).select_from(attachment)).scalar_one()


def test_upload_then_download(app, client):
    content = "领用凭证 — scan".encode() * 100
    response = _upload(client, content)
    assert response.status_code == 201
    body = response.get_json()
    sha = hashlib.sha256(content).hexdigest()
    assert body == {"id": body["id"], "filename": "报告.pdf", "size": len(content),
                    "content_type": "application/pdf", "sha256": sha}
    stored = os.path.join(app.config["ATTACHMENT_DIR"], sha[:2], sha)
    with open(stored, "rb") as handle:
        assert handle.read() == content
    download = client.get(response.headers["Location"])
    assert download.status_code == 200
    assert download.get_data() == content
    assert download.mimetype == "application/pdf"
    assert "attachment" in download.headers["Content-Disposition"]


def test_same_bytes_twice_are_two_rows_one_file(app, client):
    first = _upload(client, b"same").get_json()
    second = _upload(client, b"same", name="copy.txt", content_type="text/plain").get_json()
    assert first["id"] != second["id"] and first["sha256"] == second["sha256"]
    assert _rows(app) == 2
    folder = os.path.join(app.config["ATTACHMENT_DIR"], first["sha256"][:2])
    assert os.listdir(folder) == [first["sha256"]]
    assert client.get(f"{URL}/{second['id']}").get_data() == b"same"


def test_hostile_file_names_and_types_are_neutralised(app, client):
    body = _upload(client, b"x", name="../../etc/pa\x01sswd", content_type="bad type").get_json()
    assert body["filename"] == "passwd"
    assert body["content_type"] == "application/octet-stream"
    assert _upload(client, b"y", name="..").get_json()["filename"] == "file"
    empty = _upload(client, b"", name="empty.bin").get_json()
    assert empty["size"] == 0
    assert client.get(f"{URL}/{empty['id']}").get_data() == b""


def test_missing_or_extra_files_are_400(app, client):
    for response in (
            client.post(URL, data={"other": "x"}, content_type="multipart/form-data"),
            client.post(URL, json={"file": "x"}),
            client.post(URL, data={"file": [(io.BytesIO(b"a"), "a.txt"),
                                            (io.BytesIO(b"b"), "b.txt")]},
                        content_type="multipart/form-data")):
        assert response.status_code == 400
        assert error_of(response)["code"] == "missing_file"
    assert _rows(app) == 0


def test_upload_over_the_limit_is_413_json(app, client):
    app.config["MAX_CONTENT_LENGTH"] = 2048
    response = _upload(client, b"x" * 10_000)
    assert response.status_code == 413
    assert error_of(response)["code"] == "payload_too_large"
    assert _rows(app) == 0


def test_unknown_attachment_is_404(client):
    for url in (f"{URL}/4242", f"{URL}/0", f"{URL}/99999999999999999999"):
        response = client.get(url)
        assert response.status_code == 404
        assert error_of(response)["code"] == "not_found"


def test_records_reference_uploaded_attachments(client, item_ids):
    stored = _upload(client, b"scan").get_json()
    lines = [{"item": item_ids["WS-0001"], "quantity": "1"}]
    created = client.post(f"/api/v1/records/{REQUISITION}", json={
        "department": "0301", "attachment": stored["id"], "lines": lines})
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["attachment"] == stored["id"]
    refused = client.post(f"/api/v1/records/{REQUISITION}", json={
        "department": "0301", "attachment": stored["id"] + 100, "lines": lines})
    assert refused.status_code == 422
    assert error_of(refused)["details"]["fields"]["attachment"][0]["code"] == "attachment"
