"""Workbooks written cell by cell, for the Excel import tests (imported as a
plain module; it imports no other test module, so tests/runtime uses it as
``web.ui_workbook_helpers``)."""

from __future__ import annotations

import io

from openpyxl import Workbook

__all__ = ["book_bytes"]


def book_bytes(*sheets) -> bytes:
    """The .xlsx bytes of a workbook of ``(title, rows)`` sheets, every cell
    written as given (no template, no styles)."""
    book = Workbook()
    book.remove(book.active)
    for title, rows in sheets:
        ws = book.create_sheet(title)
        for row in rows:
            ws.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
