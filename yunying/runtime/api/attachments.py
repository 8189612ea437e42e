"""Attachment upload and download (runtime layer, HTTP edge).

Files are stored content-addressed under ``ATTACHMENT_DIR``
(``<sha256[:2]>/<sha256>``), written to a temporary file first and moved into
place, so a file is either whole or absent; one ``yy_attachment`` row per
upload names it. The upload size limit is Flask's ``MAX_CONTENT_LENGTH``
(exceeding it is a 413 JSON error).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from typing import IO, Any

from flask import Blueprint, Response, current_app, request, send_file, url_for
from sqlalchemy import Connection, insert, select
from werkzeug.datastructures import FileStorage

from yunying.platform.context import Context
from yunying.platform.errors import NotFound, YunyingError
from yunying.platform.i18n import Text
from yunying.platform.tables import attachment
from yunying.runtime.api.context import request_context, services

__all__ = ["blueprint", "store_file", "save_upload"]

blueprint = Blueprint("attachments", __name__, url_prefix="/api/v1/attachments")

_CHUNK = 1024 * 1024
_INT32_MAX = 2 ** 31 - 1
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_MIMETYPE = re.compile(r"[A-Za-z0-9!#$&^_.+-]{1,60}/[A-Za-z0-9!#$&^_.+-]{1,59}")
_DEFAULT_TYPE = "application/octet-stream"


def _filename(raw: str | None) -> str:
    """The client's file name without directories or control characters."""
    name = _CONTROL.sub("", (raw or "").replace("\\", "/").rsplit("/", 1)[-1]).strip()
    if name in ("", ".", ".."):
        return "file"
    return name[:255]


def _content_type(raw: str | None) -> str:
    value = (raw or "").split(";", 1)[0].strip().lower()
    return value if _MIMETYPE.fullmatch(value) else _DEFAULT_TYPE


def store_file(directory: str, stream: IO[bytes]) -> tuple[str, int, str]:
    """Copy ``stream`` into ``directory`` by its sha256; returns
    ``(sha256, size, storage_key)``. Storing the same bytes twice is harmless."""
    os.makedirs(directory, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    fd, temp = tempfile.mkstemp(prefix=".upload-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in iter(lambda: stream.read(_CHUNK), b""):
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
        sha = digest.hexdigest()
        key = f"{sha[:2]}/{sha}"
        os.makedirs(os.path.join(directory, sha[:2]), exist_ok=True)
        os.replace(temp, os.path.join(directory, key))
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise
    return sha, size, key


def _upload() -> FileStorage:
    files = request.files.getlist("file")
    if len(files) != 1:
        raise YunyingError(Text(
            "请以 multipart/form-data 上传且只上传一个文件，字段名为 file",
            "upload exactly one file as multipart/form-data, in the field named 'file'"),
            code="missing_file", details={"field": "file", "count": len(files)})
    return files[0]


def save_upload(conn: Connection, ctx: Context, file: FileStorage) -> dict[str, Any]:
    """Store an uploaded ``file`` and add its ``yy_attachment`` row on ``conn``
    (the caller's transaction); returns the row with its new ``id``. Used by
    this API and the staff UI's forms."""
    sha, size, key = store_file(current_app.config["ATTACHMENT_DIR"], file.stream)
    row: dict[str, Any] = {
        "filename": _filename(file.filename), "content_type": _content_type(file.mimetype),
        "size": size, "sha256": sha, "storage_key": key,
        "created_at": ctx.now(), "created_by": ctx.actor,
    }
    row["id"] = conn.execute(insert(attachment).values(**row)
                             .returning(attachment.c.id)).scalar_one()
    return row


@blueprint.post("")
def upload() -> Response:
    file = _upload()
    with services().db.begin() as conn:
        row = save_upload(conn, request_context(), file)
    body = {k: row[k] for k in ("id", "filename", "size", "content_type")}
    body["sha256"] = row["sha256"]
    response = current_app.json.response(body)
    response.status_code = 201
    response.headers["Location"] = url_for("attachments.download", attachment_id=row["id"])
    return response


def _missing(attachment_id: int) -> NotFound:
    return NotFound(Text(f"附件（id {attachment_id}）不存在",
                         f"there is no attachment with id {attachment_id}"),
                    details={"id": attachment_id})


@blueprint.get("/<int:attachment_id>")
def download(attachment_id: int) -> Response:
    if not 1 <= attachment_id <= _INT32_MAX:
        raise _missing(attachment_id)
    with services().db.connect() as conn:
        row = conn.execute(select(attachment).where(
            attachment.c.id == attachment_id)).first()
    if row is None:
        raise _missing(attachment_id)
    path = os.path.abspath(os.path.join(current_app.config["ATTACHMENT_DIR"], row.storage_key))
    if not os.path.isfile(path):
        raise _missing(attachment_id)
    return send_file(path, mimetype=row.content_type, as_attachment=True,
                     download_name=row.filename, etag=row.sha256, conditional=True)
