"""Dictionary items (code tables) in the database (platform layer).

Items live in ``yy_dictionary_item`` keyed by (qualified dictionary code,
item code). A package install syncs them: shipped items are inserted or
updated, items no longer shipped are deactivated — never deleted, because
records may still hold their codes. Items are effective-dated: ``valid_from``
and ``valid_to`` are both inclusive, ``None`` meaning open-ended.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass, fields
from datetime import date
from typing import Iterable

from sqlalchemy import Connection, insert, or_, select, update

from yunying.platform.errors import ValidationFailed
from yunying.platform.i18n import Text
from yunying.platform.tables import dictionary_item

__all__ = ["DictionaryItem", "sync_items", "list_items"]


@dataclass(frozen=True)
class DictionaryItem:
    """One item of a dictionary, as stored."""

    code: str
    name_zh: str
    name_en: str
    parent: str | None = None
    sort: int = 0
    valid_from: date | None = None
    valid_to: date | None = None
    active: bool = True

    @property
    def label(self) -> Text:
        return Text(self.name_zh, self.name_en)


_COLUMNS = tuple(f.name for f in fields(DictionaryItem))


def sync_items(conn: Connection, dictionary: str, items: Iterable[DictionaryItem]) -> None:
    """Make the stored items of ``dictionary`` match ``items``.

    Upserts by (dictionary, code); stored items missing from ``items`` are set
    inactive, never deleted. Raises ValidationFailed when ``items`` repeats a
    code (nothing is written then).
    """
    wanted: dict[str, DictionaryItem] = {}
    for item in items:
        if item.code in wanted:
            raise ValidationFailed(Text(
                f"字典 {dictionary} 中的字典项编码 {item.code} 重复",
                f"dictionary {dictionary} lists item {item.code!r} twice"),
                details={"dictionary": dictionary, "code": item.code})
        wanted[item.code] = item
    stored = {item.code: item for item in list_items(conn, dictionary, include_inactive=True)}
    new = [_row(dictionary, item) for code, item in wanted.items() if code not in stored]
    if new:
        conn.execute(insert(dictionary_item), new)
    for code, item in wanted.items():
        if code in stored and astuple(stored[code]) != astuple(item):
            conn.execute(update(dictionary_item)
                         .where(dictionary_item.c.dictionary == dictionary,
                                dictionary_item.c.code == code)
                         .values(_row(dictionary, item)))
    gone = [code for code, item in stored.items() if code not in wanted and item.active]
    if gone:
        conn.execute(update(dictionary_item)
                     .where(dictionary_item.c.dictionary == dictionary,
                            dictionary_item.c.code.in_(gone))
                     .values(active=False))


def list_items(conn: Connection, dictionary: str, *, as_of: date | None = None,
               include_inactive: bool = False) -> list[DictionaryItem]:
    """Items of ``dictionary`` ordered by sort, then code (code-point order).

    Inactive items only with ``include_inactive``; with ``as_of``, only items
    valid on that day.
    """
    table = dictionary_item
    query = select(*(table.c[name] for name in _COLUMNS)).where(table.c.dictionary == dictionary)
    if not include_inactive:
        query = query.where(table.c.active.is_(True))
    if as_of is not None:
        query = query.where(
            or_(table.c.valid_from.is_(None), table.c.valid_from <= as_of),
            or_(table.c.valid_to.is_(None), table.c.valid_to >= as_of))
    items = [DictionaryItem(*row) for row in conn.execute(query)]
    # sorted here, not in SQL: PostgreSQL collations would order codes differently
    return sorted(items, key=lambda item: (item.sort, item.code))


def _row(dictionary: str, item: DictionaryItem) -> dict:
    return {"dictionary": dictionary, **{name: getattr(item, name) for name in _COLUMNS}}
