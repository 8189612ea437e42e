"""Excel round trip in a real browser: export the catalogue list to .xlsx (a
download), give every exported item a new code (an import only creates
records), import the file back through the import page — upload, preview,
commit, result — and find the new items in the list."""

from __future__ import annotations

import re

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect

from browser_helpers import ADMIN, ITEM, login, shot

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

PREFIX = "RT-"


def _recode(path) -> int:
    """Prefix every item code of the exported workbook; the rows recoded.

    Row 1 holds the column names, the hidden row 2 the field codes, data
    starts in row 3 (the layout the import page documents)."""
    book = load_workbook(path)
    sheet = book.worksheets[0]
    codes = [cell.value for cell in sheet[2]]
    column = codes.index("code")
    recoded = 0
    for row in sheet.iter_rows(min_row=3):
        if row[column].value:
            row[column].value = PREFIX + row[column].value
            recoded += 1
    book.save(path)
    return recoded


def _finished(page, state: str) -> None:
    """Wait until the job reports ``state``: the page polls the progress with
    htmx and reloads itself when the job is done (a job done before the page
    was rendered shows its result at once)."""
    progress = page.get_by_test_id("import-progress")
    expect(progress).to_have_attribute("data-state", state, timeout=30_000)
    expect(progress).not_to_have_attribute("hx-get", re.compile(".*"))
    expect(page.get_by_test_id("import-result")).to_be_visible()


def test_export_then_reimport_the_catalogue(page, tmp_path):
    login(page, ADMIN)
    page.goto(f"/records/{ITEM}")
    expect(page.get_by_test_id("record-list")).to_be_visible()
    with page.expect_download() as download_info:
        page.get_by_test_id("export").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".xlsx")
    workbook = tmp_path / download.suggested_filename
    download.save_as(workbook)
    rows = _recode(workbook)
    assert rows >= 9            # the seeded catalogue

    page.get_by_test_id("import").click()
    page.get_by_test_id("import-file").set_input_files(str(workbook))
    page.get_by_test_id("import-upload").click()
    _finished(page, "ready")
    commit = page.get_by_test_id("import-commit")
    expect(commit).to_be_visible()
    expect(page.get_by_test_id("import-result")).to_contain_text(str(rows))
    expect(page.get_by_test_id("import-errors")).to_have_count(0)
    shot(page, "import-preview")

    commit.click()
    _finished(page, "committed")
    expect(page.get_by_test_id("import-result")).to_contain_text(f"已新建 {rows} 条")

    page.goto(f"/records/{ITEM}?q={PREFIX}BG-0002")
    listing = page.get_by_test_id("record-list")
    expect(listing).to_contain_text(f"{PREFIX}BG-0002")
    expect(listing).to_contain_text("中性笔")
