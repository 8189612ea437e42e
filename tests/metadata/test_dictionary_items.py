"""Platform dictionary items: sync by code, deactivate instead of delete, effective dates."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from yunying.platform.dictionaries import DictionaryItem, list_items, sync_items
from yunying.platform.errors import ValidationFailed
from yunying.platform.i18n import Text
from yunying.platform.tables import dictionary_item

UOM = [
    DictionaryItem("box", "盒", "Box", sort=2),
    DictionaryItem("pcs", "个", "Piece", sort=1),
    DictionaryItem("kg", "千克", "Kilogram", sort=2),
]


def _codes(conn, dictionary="base.uom", **kwargs):
    return [i.code for i in list_items(conn, dictionary, **kwargs)]


def test_items_are_listed_by_sort_then_code(db):
    with db.begin() as conn:
        sync_items(conn, "base.uom", UOM)
        sync_items(conn, "base.other", [DictionaryItem("x", "甲", "X")])
    with db.connect() as conn:
        assert _codes(conn) == ["pcs", "box", "kg"]
        assert list_items(conn, "base.uom")[0] == UOM[1]
        assert list_items(conn, "base.uom")[0].label == Text("个", "Piece")
        assert _codes(conn, "base.other") == ["x"]
        assert _codes(conn, "base.none") == []


def test_sync_updates_changed_items_and_deactivates_missing_ones_without_deleting(db):
    with db.begin() as conn:
        sync_items(conn, "base.uom", UOM)
    renamed = DictionaryItem("box", "箱", "Crate", sort=5, valid_from=date(2024, 1, 1))
    with db.begin() as conn:
        sync_items(conn, "base.uom", [renamed, UOM[1]])
    with db.connect() as conn:
        assert list_items(conn, "base.uom") == [UOM[1], renamed]
        everything = list_items(conn, "base.uom", include_inactive=True)
        assert [(i.code, i.active) for i in everything] == [
            ("pcs", True), ("kg", False), ("box", True)]
        count = conn.execute(select(func.count()).select_from(dictionary_item)).scalar()
    assert count == 3


def test_a_shipped_item_comes_back_active(db):
    with db.begin() as conn:
        sync_items(conn, "base.uom", UOM)
        sync_items(conn, "base.uom", UOM[:1])
        sync_items(conn, "base.uom", UOM)
    with db.connect() as conn:
        assert _codes(conn) == ["pcs", "box", "kg"]


def test_as_of_filters_by_inclusive_effective_dates(db):
    items = [
        DictionaryItem("always", "总是", "Always"),
        DictionaryItem("old", "旧", "Old", valid_to=date(2023, 12, 31)),
        DictionaryItem("new", "新", "New", valid_from=date(2024, 1, 1)),
        DictionaryItem("q1", "一季度", "Q1", valid_from=date(2024, 1, 1),
                       valid_to=date(2024, 3, 31)),
        DictionaryItem("off", "停用", "Off", active=False),
    ]
    with db.begin() as conn:
        sync_items(conn, "fin.period", items)
    with db.connect() as conn:
        assert _codes(conn, "fin.period", as_of=date(2023, 12, 31)) == ["always", "old"]
        assert _codes(conn, "fin.period", as_of=date(2024, 3, 31)) == ["always", "new", "q1"]
        assert _codes(conn, "fin.period", as_of=date(2024, 4, 1)) == ["always", "new"]
        assert _codes(conn, "fin.period") == ["always", "new", "old", "q1"]
        assert _codes(conn, "fin.period", include_inactive=True, as_of=date(2025, 1, 1)) == [
            "always", "new", "off"]


def test_a_repeated_code_is_refused_and_nothing_is_written(db):
    with pytest.raises(ValidationFailed) as caught:
        with db.begin() as conn:
            sync_items(conn, "base.uom", [*UOM, DictionaryItem("box", "又", "Again")])
    assert "box" in caught.value.message.en and "box" in caught.value.message.zh
    with db.connect() as conn:
        assert _codes(conn, include_inactive=True) == []


def test_resyncing_unchanged_items_is_a_no_op(db):
    with db.begin() as conn:
        sync_items(conn, "base.uom", UOM)
        before = conn.execute(select(dictionary_item.c.id, dictionary_item.c.code)
                              .order_by(dictionary_item.c.id)).all()
        sync_items(conn, "base.uom", list(reversed(UOM)))
        after = conn.execute(select(dictionary_item.c.id, dictionary_item.c.code)
                             .order_by(dictionary_item.c.id)).all()
    assert before == after
