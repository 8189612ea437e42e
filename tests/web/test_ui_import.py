"""Excel import of the staff UI (runtime/ui/imports.py, excel_pages.py)
through the Flask test client: upload → background preview through the
record service (nothing written) → commit in one transaction (all or
nothing); round trips of exported files; located errors; hostile files
refused with a 4xx page; jobs private to their uploader; the htmx progress
partial — on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import os
import re
import zipfile
from datetime import datetime
from decimal import Decimal

import pytest
from flask import render_template
from sqlalchemy import text

from yunying.app import services
from yunying.runtime.ui.imports import JOBS_KEY, JobView
from ui_excel_helpers import (
    SAMPLE, admin_client, create, sample_body, user_with, xlt_app,
)
from ui_form_helpers import count
from ui_helpers import page_text, ui_client
from ui_workbook_helpers import book_bytes
from web_helpers import REQUISITION

IMPORTABLE = ("code", "title", "qty", "ratio", "amount", "flag", "day", "moment", "kind",
              "item", "owner", "unit", "note")
LINE_FIELDS = ("item", "count", "note")


app = pytest.fixture(xlt_app, name="app")
admin = pytest.fixture(admin_client, name="admin")


def upload(client, entity: str, data: bytes, filename: str = "data.xlsx"):
    c, token = client
    return c.post(f"/records/{entity}/import",
                  data={"csrf_token": token, "file": (io.BytesIO(data), filename)},
                  content_type="multipart/form-data")


def job_of(app, response) -> str:
    """The job an upload (or commit) redirected to, once its thread is done."""
    assert response.status_code == 303, page_text(response)[-3000:]
    job = re.fullmatch(r"/imports/([0-9a-f]{32})", response.headers["Location"]).group(1)
    assert app.extensions[JOBS_KEY].wait(job, 300)
    return job


def job_page(client, job: str, status: int = 200, query: str = "") -> str:
    response = client[0].get(f"/imports/{job}{query}")
    assert response.status_code == status, page_text(response)[-3000:]
    return page_text(response)


def commit(app, client, job: str) -> str:
    c, token = client
    response = c.post(f"/imports/{job}/commit", data={"csrf_token": token})
    return job_of(app, response)


def view(app, client, job: str) -> JobView:
    return app.extensions[JOBS_KEY].view(job, client_user(client))


def client_user(client) -> str:
    return client[0].get("/api/v1/session").get_json()["user"]["code"]


def importable(app, entity: str, record_id: int) -> dict:
    """A stored record's importable values (lines without ids)."""
    client = ui_client(app)
    record = client[0].get(f"/api/v1/records/{entity}/{record_id}").get_json()
    fields = IMPORTABLE if entity == SAMPLE else (
        "department", "requester", "request_date", "urgency", "reason", "total_amount")
    lines = ("parts", LINE_FIELDS) if entity == SAMPLE else ("lines", ("item", "quantity",
                                                                      "unit_price", "note"))
    out = {k: record[k] for k in fields}
    out[lines[0]] = [{k: line[k] for k in lines[1]} for line in record[lines[0]]]
    return out


def ids(app, table: str) -> list[int]:
    with services(app).db.connect() as conn:
        return list(conn.execute(text(f"SELECT id FROM {table} ORDER BY id")).scalars())


# ---------------------------------------------------------------- round trips

def test_round_trip_of_exported_samples(app, admin, item_ids):
    app.config["TIME_ZONE"] = "Asia/Shanghai"
    for n in range(4):
        create(admin, SAMPLE, sample_body(f"S-{n}", kind="ab"[n % 2], qty=n,
                                          item=item_ids["WS-0005"] if n else None,
                                          parts=[{"item": item_ids["WS-0001"], "count": f"{n}.5",
                                                  "note": f"line {n}"}] * (n % 3)))
    before = {importable(app, SAMPLE, rid)["code"]: importable(app, SAMPLE, rid)
              for rid in ids(app, "xlt_sample")}
    data = admin[0].get(f"/records/{SAMPLE}/export.xlsx?lang=en").get_data()
    c, token = admin
    for rid in ids(app, "xlt_sample"):
        version = c.get(f"/api/v1/records/{SAMPLE}/{rid}").get_json()["version"]
        assert c.delete(f"/api/v1/records/{SAMPLE}/{rid}?version={version}",
                        headers={"X-CSRFToken": token}).status_code == 204
    job = job_of(app, upload(admin, SAMPLE, data))
    page = job_page(admin, job)
    assert view(app, admin, job).state == "ready" and 'data-testid="import-commit"' in page
    assert 'data-testid="import-ignored"' in page and "单号" in page and "合计" in page
    assert count(app, "xlt_sample") == 0                     # the preview wrote nothing
    job = commit(app, admin, job)
    assert view(app, admin, job).state == "committed"
    assert 'data-testid="import-result"' in job_page(admin, job)
    after = {importable(app, SAMPLE, rid)["code"]: importable(app, SAMPLE, rid)
             for rid in ids(app, "xlt_sample")}
    assert after == before


def test_round_trip_of_requisitions_adds_equal_records(app, item_ids):
    client = ui_client(app)
    for n in range(3):
        create(client, REQUISITION, {
            "department": "HOSP", "urgency": "urgent" if n else "normal",
            "urgent_reason": "急用" if n else None, "reason": f"事由 {n}",
            "lines": [{"item": item_ids["WS-0002"], "quantity": "2.50", "note": "x"},
                      {"item": item_ids["SJ-0001"], "quantity": str(n + 1)}]})
    old = ids(app, "materials_requisition")
    data = client[0].get(f"/records/{REQUISITION}/export.xlsx").get_data()
    job = commit(app, client, job_of(app, upload(client, REQUISITION, data)))
    assert view(app, client, job).state == "committed"
    new = [rid for rid in ids(app, "materials_requisition") if rid not in old]
    assert len(new) == 3
    want = sorted((importable(app, REQUISITION, r) for r in old), key=repr)
    got = sorted((importable(app, REQUISITION, r) for r in new), key=repr)
    assert got == want


def test_hand_made_file_with_labels_and_friendly_values(app, admin):
    data = book_bytes(("样本", [
        ["Code", "名称", "kind", "金额", "Flag", "日期", "Item", "件数"],
        ["H-1", "手工一", "乙类", "12,345.60", "是", "2025/3/4", "WS-0001", 2.0],
        ["H-2", "手工二", "Alpha", 7, "no", datetime(2025, 1, 2), "WS-0002", None],
        [None, "", None, None, None, None, None, None],            # a blank row is skipped
    ]))
    job = commit(app, admin, job_of(app, upload(admin, SAMPLE, data)))
    assert view(app, admin, job).state == "committed"
    with services(app).db.connect() as conn:
        rows = conn.execute(text("SELECT code, kind, amount, flag, day, qty FROM xlt_sample "
                                 "ORDER BY code")).all()
    assert [(r.code, r.kind, Decimal(str(r.amount)), bool(r.flag), str(r.day), r.qty)
            for r in rows] == [("H-1", "b", Decimal("12345.60"), True, "2025-03-04", 2),
                               ("H-2", "a", Decimal("7.00"), False, "2025-01-02", None)]


# ---------------------------------------------------------------- errors

def test_preview_locates_every_row_error_and_writes_nothing(app, admin):
    data = book_bytes(
        ("Sample", [
            ["Code", "Title", "Kind", "Day", "Amount", "Item"],
            ["E-1", "good", "a", "2025-01-01", "1", "WS-0001"],
            ["E-2", "bad enum", "zzz", None, None, None],
            ["E-3", None, "a", None, None, None],                       # title missing
            ["E-4", "bad reference", "a", None, None, "NO-SUCH"],
            ["E-5", "bad date", "a", "2025-13-45", None, None],
            ["E-6", "bad number", "a", None, "twelve", None],
        ]),
        ("Parts", [["Main sheet row", "Item", "Count"],
                   [2, "WS-0002", "x"], [99, "WS-0002", 1]]))
    numbering = count(app, "yy_audit_event")
    job = job_of(app, upload(admin, SAMPLE, data))
    state = view(app, admin, job)
    assert state.state == "invalid" and state.total == 6
    located = {(e.sheet, e.row, e.column): e.message for e in state.errors}
    assert "zzz" in located[("Sample", 3, "C")].en
    assert "required" in located[("Sample", 4, "B")].en
    assert "NO-SUCH" in located[("Sample", 5, "F")].en and "物资" in located[("Sample", 5, "F")].zh
    assert "date" in located[("Sample", 6, "D")].en
    assert "number" in located[("Sample", 7, "E")].en
    assert "number" in located[("Parts", 2, "C")].en
    assert "main sheet" in located[("Parts", 3, "A")].en
    assert len(located) == 7
    page = job_page(admin, job, query="?lang=en")
    assert 'data-testid="import-errors"' in page and 'data-testid="import-commit"' not in page
    assert "NO-SUCH" in page and 'data-row="5" data-column="F"' in page
    assert count(app, "xlt_sample") == 0
    assert count(app, "yy_audit_event") == numbering
    refused = admin[0].post(f"/imports/{job}/commit", data={"csrf_token": admin[1]})
    assert refused.status_code == 409


def test_errors_are_paged(app, admin):
    rows = [["code", "title", "kind"]] + [[f"P-{n}", f"t{n}", "bad"] for n in range(120)]
    job = job_of(app, upload(admin, SAMPLE, book_bytes(("s", rows))))
    first = job_page(admin, job)
    assert first.count("<tr data-row=") == 50 and 'data-testid="pager-next"' in first
    last = job_page(admin, job, query="?page=3")
    assert last.count("<tr data-row=") == 20


def test_commit_is_all_or_nothing(app, admin):
    data = book_bytes(("s", [["code", "title", "kind"], ["C-1", "one", "a"], ["C-2", "two", "b"],
                             ["C-3", "three", "a"]]))
    job = job_of(app, upload(admin, SAMPLE, data))
    assert view(app, admin, job).state == "ready"
    create(admin, SAMPLE, {"code": "C-2", "title": "taken meanwhile", "kind": "a"})
    job = commit(app, admin, job)
    result = view(app, admin, job)
    assert result.state == "rejected" and result.created == 0
    assert [(e.row, e.column) for e in result.errors] == [(3, "A")]
    assert count(app, "xlt_sample") == 1
    page = job_page(admin, job)
    assert "已全部撤销" in page and 'data-testid="import-errors"' in page


def test_rows_are_created_with_the_importers_permissions(app):
    client = user_with(app, "imp.user", "xlt.importer")
    data = book_bytes(("s", [["code", "title", "kind", "item", "note"],
                             ["R-1", "one", "a", "WS-0001", "not for this user"]]))
    job = job_of(app, upload(client, SAMPLE, data))
    assert "备注" in page_text(client[0].get(f"/imports/{job}"))   # listed as ignored
    job = commit(app, client, job)
    assert view(app, client, job).state == "committed"
    with services(app).db.connect() as conn:
        row = conn.execute(text("SELECT created_by, note FROM xlt_sample")).one()
    assert tuple(row) == ("imp.user", None)


# ---------------------------------------------------------------- hostile files

def _dimension(data: bytes, ref: str) -> bytes:
    source, out = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            body = source.read(info.filename)
            if info.filename.startswith("xl/worksheets/sheet"):
                body, n = re.subn(rb'<dimension ref="[^"]*" ?/>',
                                  f'<dimension ref="{ref}"/>'.encode(), body)
                assert n == 1
            target.writestr(info, body)
    return out.getvalue()


def _zip(**members: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, body in members.items():
            archive.writestr(name, body)
    return out.getvalue()


_GOOD = [["code", "title", "kind"], ["G-1", "good", "a"]]


_HOSTILE = {
    "not a zip": (b"this is not a spreadsheet", "not a valid Excel workbook"),
    "empty": (b"", "not a valid Excel workbook"),
    "a zip that is not xlsx": (_zip(**{"hello.txt": "hi"}), "not a valid Excel workbook"),
    "a broken workbook part": (_zip(**{"[Content_Types].xml": "<x/>", "xl/workbook.xml": "<<<"}),
                               "not a valid Excel workbook"),
    "a huge dimension claim": (_dimension(book_bytes(("s", _GOOD)), "A1:XFD1048576"),
                               "too large"),
    "a formula": (book_bytes(("s", [*_GOOD, ["G-2", "=SUM(1,2)", "a"]])), "formula"),
    "a 10k-character text": (book_bytes(("s", [*_GOOD, ["G-2", "x" * 10_000, "a"]])),
                             "too long"),
    "an unknown header": (book_bytes(("s", [["code", "nonsense", "kind"], ["G-1", "x", "a"]])),
                          "headers"),
    "a required column missing": (book_bytes(("s", [["code", "kind"], ["G-1", "a"]])),
                                  "required columns missing"),
    "a column twice": (book_bytes(("s", [["code", "title", "code"], ["G-1", "x", "y"]])),
                       "twice"),
    "no data": (book_bytes(("s", [["code", "title", "kind"]])), "no data rows"),
    "an unknown sheet": (book_bytes(("s", _GOOD), ("other", [["x"]])), "not expected"),
    "a value without header": (book_bytes(("s", [*_GOOD, ["G-2", "x", "a", "stray"]])),
                               "no header"),
}


def test_hostile_files_are_refused_with_a_4xx_page(app, admin):
    folder = app.extensions[JOBS_KEY].directory
    for case, (data, words) in _HOSTILE.items():
        response = upload(admin, SAMPLE, data)
        assert response.status_code == 422, (case, page_text(response)[-2000:])
        assert response.mimetype == "text/html"
        assert 'data-testid="import-error"' in page_text(response), case
        english = page_text(admin[0].post(f"/records/{SAMPLE}/import?lang=en", data={
            "csrf_token": admin[1], "file": (io.BytesIO(data), "x.xlsx")},
            content_type="multipart/form-data"))
        assert words in english, (case, english[-2000:])
        assert not os.listdir(folder), case            # a refused upload is not kept
    assert count(app, "xlt_sample") == 0


def test_a_small_dimension_claim_hides_no_row(app, admin):
    rows = [["code", "title", "kind"], ["D-1", "one", "a"], ["D-2", "two", "b"]]
    data = _dimension(book_bytes(("s", rows)), "C3:C3")
    job = job_of(app, upload(admin, SAMPLE, data))
    assert view(app, admin, job).total == 2


def test_size_and_row_limits(app, admin):
    app.config.update(IMPORT_MAX_ROWS=5, IMPORT_MAX_BYTES=20_000)
    rows = [["code", "title", "kind"]] + [[f"L-{n}", "t", "a"] for n in range(6)]
    response = upload(admin, SAMPLE, book_bytes(("s", rows)))
    assert response.status_code == 422 and "最多 5 行数据" in page_text(response)
    response = upload(admin, SAMPLE, b"PK" + b"\0" * 30_000)
    assert response.status_code == 413 and "20000" not in page_text(response)
    response = admin[0].post(f"/records/{SAMPLE}/import", data={"csrf_token": admin[1]},
                             content_type="multipart/form-data")
    assert response.status_code == 400 and "请选择" in page_text(response)


def test_upload_needs_the_import_grant_and_csrf(app, admin):
    creator = user_with(app, "creator.user", "xlt.creator")
    response = upload(creator, SAMPLE, book_bytes(("s", _GOOD)))
    assert response.status_code == 403
    response = admin[0].post(f"/records/{SAMPLE}/import", data={
        "file": (io.BytesIO(book_bytes(("s", _GOOD))), "x.xlsx")},
        content_type="multipart/form-data")
    assert response.status_code == 403
    assert count(app, "xlt_sample") == 0


# ---------------------------------------------------------------- pages and jobs

def test_import_page_renders_in_both_languages(app, admin):
    page = page_text(admin[0].get(f"/records/{SAMPLE}/import"))
    for hook in ("import-file", "import-upload", "import-template"):
        assert f'data-testid="{hook}"' in page
    assert '<label class="field-label" for="import-file">' in page and "上传并预览" in page
    assert 'enctype="multipart/form-data"' in page and 'name="csrf_token"' in page
    english = page_text(admin[0].get(f"/records/{SAMPLE}/import?lang=en"))
    assert "Upload and preview" in english and "Parts" in english


def test_jobs_belong_to_their_uploader(app, admin):
    job = job_of(app, upload(admin, SAMPLE, book_bytes(("s", _GOOD))))
    other = user_with(app, "imp.user", "xlt.importer")
    for url in (f"/imports/{job}", f"/imports/{job}/progress"):
        assert other[0].get(url).status_code == 404
    assert other[0].post(f"/imports/{job}/commit",
                         data={"csrf_token": other[1]}).status_code == 404
    assert admin[0].get("/imports/not-a-job").status_code == 404
    assert admin[0].get(f"/imports/{'0' * 32}").status_code == 404
    assert count(app, "xlt_sample") == 0
    job = commit(app, admin, job)
    assert view(app, admin, job).created == 1


def test_progress_partial(app, admin):
    job = job_of(app, upload(admin, SAMPLE, book_bytes(("s", _GOOD))))
    response = admin[0].get(f"/imports/{job}/progress", headers={"HX-Request": "true"})
    partial = page_text(response)
    assert response.status_code == 200 and response.headers["HX-Refresh"] == "true"
    assert partial.lstrip().startswith('<div id="import-progress"')
    assert 'data-testid="import-progress"' in partial and "<progress" in partial
    assert "hx-trigger" not in partial and 'value="1"' in partial
    assert "HX-Refresh" not in admin[0].get(f"/imports/{job}/progress").headers
    running = JobView(job, SAMPLE, "x.xlsx", "previewing", 3, 10, 0, (), (), 0.0)
    with app.test_request_context(f"/imports/{job}"):
        polled = render_template("_import_progress.html", job=running)
    assert f'hx-get="/imports/{job}/progress"' in polled
    assert 'hx-trigger="every 1s"' in polled and 'hx-swap="outerHTML"' in polled
    assert 'max="10" value="3"' in polled
