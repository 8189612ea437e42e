"""How stored values read on a page (runtime layer, HTTP edge).

:func:`format_value` turns one field's value into the text a list, a detail
page or the inbox shows, in the page's language: money with thousands
separators at the field's scale (``12,345.60``, rounded half-up), decimals
at their scale, dates ``YYYY-MM-DD``, datetimes ``YYYY-MM-DD HH:MM`` in the
display zone (:func:`display_zone`; stored timestamps are naive UTC),
booleans 是/否 or Yes/No, and codes and ids as names: enum items by their
dictionary label, references by the target's title (or key) field, users
and org units by their names, attachments by their file names.

Names come from a :class:`Labels`, filled in bulk for a page of rows
(:meth:`Labels.for_rows`): one query per referenced table, one for users,
one for org units, one for attachments — never one query per cell.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, timezone, tzinfo
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any, Callable, Iterable, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app
from sqlalchemy import Connection, select

from yunying.metadata.spec import EntitySpec, FieldSpec
from yunying.platform.errors import ConfigurationError
from yunying.platform.i18n import Text
from yunying.platform.tables import attachment, org_unit, user
from yunying.runtime.entity.tables import MONEY_SCALE
from yunying.runtime.registry import Registry

__all__ = ["Labels", "format_value", "format_decimal", "display_zone", "to_local", "to_utc"]

#: scale of a decimal field declaring none (the column's default scale).
DECIMAL_SCALE = 2
#: ids or codes per ``IN (...)`` of a label query.
_CHUNK = 500
#: the system columns holding a user code.
_USER_COLUMNS = ("created_by", "updated_by")
_BOOLEAN = MappingProxyType({True: Text("是", "Yes"), False: Text("否", "No")})
_EMPTY: Mapping = MappingProxyType({})


# ---------------------------------------------------------------- zone

def display_zone() -> tzinfo:
    """The zone datetimes are shown (and typed) in: the app's ``TIME_ZONE``
    setting (an IANA name such as ``Asia/Shanghai``), else UTC."""
    name = current_app.config.get("TIME_ZONE")
    if not name:
        return timezone.utc
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigurationError(Text(
            f"配置项 TIME_ZONE 不是已知时区：{name!r}（例如 Asia/Shanghai）",
            f"setting TIME_ZONE is not a known time zone: {name!r} "
            "(for example Asia/Shanghai)")) from exc


def to_local(moment: datetime, zone: tzinfo) -> datetime:
    """A stored (naive UTC) moment as naive local time in ``zone``."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(zone).replace(tzinfo=None)


def to_utc(moment: datetime, zone: tzinfo) -> datetime:
    """A naive local time typed in ``zone`` as the naive UTC moment stored."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


# ---------------------------------------------------------------- labels

@dataclass(frozen=True)
class Labels:
    """Names of the codes and ids on one page, looked up in bulk."""

    registry: Registry | None
    lang: str = "zh-CN"
    zone: tzinfo = timezone.utc
    users: Mapping[str, Text] = field(default_factory=lambda: _EMPTY)
    units: Mapping[str, Text] = field(default_factory=lambda: _EMPTY)
    #: (qualified entity, id) → the record's title
    references: Mapping[tuple[str, int], str] = field(default_factory=lambda: _EMPTY)
    attachments: Mapping[int, str] = field(default_factory=lambda: _EMPTY)

    @classmethod
    def empty(cls, registry: Registry | None, lang: str, *,
              zone: tzinfo | None = None) -> "Labels":
        """Labels without lookups (users, units and references show their codes)."""
        return cls(registry, lang, zone or timezone.utc)

    @classmethod
    def load(cls, conn: Connection, registry: Registry, lang: str, *,
             users: Iterable[str] = (), units: Iterable[str] = (),
             references: Mapping[str, Iterable[Any]] | None = None,
             attachments: Iterable[Any] = (), zone: tzinfo | None = None) -> "Labels":
        """Look up the given users, org units, records (``{qualified entity:
        ids}``) and attachments: one query per kind and referenced table."""
        titles: dict[tuple[str, int], str] = {}
        for entity, ids in (references or {}).items():
            titles.update(_titles(conn, registry, entity, _ids(ids)))
        return cls(registry, lang, zone or timezone.utc,
                   users=MappingProxyType(_names(conn, user, user.c.code, _codes(users))),
                   units=MappingProxyType(_names(conn, org_unit, org_unit.c.code,
                                                 _codes(units))),
                   references=MappingProxyType(titles),
                   attachments=MappingProxyType(_files(conn, _ids(attachments))))

    @classmethod
    def for_rows(cls, conn: Connection, registry: Registry, entity: EntitySpec,
                 rows: Iterable[Mapping[str, Any]], lang: str, *,
                 zone: tzinfo | None = None) -> "Labels":
        """The labels of ``rows`` of ``entity`` (their child lines, when a row
        holds them under the child's code, included)."""
        wanted = _Wanted()
        for row in rows:
            wanted.add(entity.fields, row)
            wanted.users.update(row.get(c) for c in _USER_COLUMNS)
            for child in entity.children:
                for line in row.get(child.code) or ():
                    if isinstance(line, Mapping):
                        wanted.add(child.fields, line)
        return cls.load(conn, registry, lang, users=wanted.users, units=wanted.units,
                        references=wanted.references, attachments=wanted.attachments,
                        zone=zone)

    # -- names ------------------------------------------------------------

    def user(self, code: Any) -> str:
        name = self.users.get(code)
        return name.get(self.lang) if name is not None else str(code)

    def unit(self, code: Any) -> str:
        name = self.units.get(code)
        return name.get(self.lang) if name is not None else str(code)

    def reference(self, entity: str | None, record_id: Any) -> str:
        title = self.references.get((entity or "", _as_int(record_id)))
        return title if title is not None else f"#{record_id}"

    def attachment(self, attachment_id: Any) -> str:
        name = self.attachments.get(_as_int(attachment_id))
        return name if name is not None else f"#{attachment_id}"

    def enum(self, dictionary: str | None, code: Any) -> str:
        spec = self.registry.dictionary(dictionary or "") if self.registry else None
        item = spec.item(str(code)) if spec is not None else None
        return item.label.get(self.lang) if item is not None else str(code)


class _Wanted:
    """The codes and ids a page's rows name, by kind."""

    def __init__(self) -> None:
        self.users: set[Any] = set()
        self.units: set[Any] = set()
        self.attachments: set[Any] = set()
        self.references: dict[str, set[Any]] = {}

    def add(self, fields: Iterable[FieldSpec], row: Mapping[str, Any]) -> None:
        for spec in fields:
            value = row.get(spec.code)
            if value is None:
                continue
            kind = spec.value_type
            if kind == "reference" and spec.reference:
                self.references.setdefault(spec.reference, set()).add(value)
            elif kind == "user":
                self.users.add(value)
            elif kind == "org_unit":
                self.units.add(value)
            elif kind == "attachment":
                self.attachments.add(value)


def _codes(values: Iterable[Any]) -> list[str]:
    return sorted({v for v in values if isinstance(v, str) and v})


def _ids(values: Iterable[Any]) -> list[int]:
    return sorted({i for i in map(_as_int, values) if i is not None})


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit() and len(value) < 19:
        return int(value)
    return None


def _chunks(values: list) -> Iterable[list]:
    for start in range(0, len(values), _CHUNK):
        yield values[start:start + _CHUNK]


def _names(conn: Connection, table: Any, key: Any, codes: list[str]) -> dict[str, Text]:
    found: dict[str, Text] = {}
    for chunk in _chunks(codes):
        for code, zh, en in conn.execute(select(key, table.c.name_zh, table.c.name_en)
                                         .where(key.in_(chunk))):
            found[code] = Text(zh, en)
    return found


def _files(conn: Connection, ids: list[int]) -> dict[int, str]:
    found: dict[int, str] = {}
    for chunk in _chunks(ids):
        found.update(conn.execute(select(attachment.c.id, attachment.c.filename)
                                  .where(attachment.c.id.in_(chunk))).all())
    return found


def _titles(conn: Connection, registry: Registry, entity: str,
            ids: list[int]) -> dict[tuple[str, int], str]:
    """Titles of records of ``entity``: its title field, else its key field."""
    spec, tables = registry.entity(entity), registry.tables(entity)
    title = (spec.title_field or spec.key_field) if spec is not None else None
    if tables is None or title is None or not ids:
        return {}
    found: dict[tuple[str, int], str] = {}
    table = tables.table
    for chunk in _chunks(ids):
        for rid, value in conn.execute(select(table.c.id, table.c[title])
                                       .where(table.c.id.in_(chunk))):
            if value is not None:
                found[(entity, rid)] = str(value)
    return found


# ---------------------------------------------------------------- values

def format_decimal(value: Any, scale: int | None, *, grouped: bool) -> str:
    """``value`` at ``scale`` decimals (half-up; as given when None), with
    thousands separators when ``grouped``."""
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
        if scale is not None:
            number = number.quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError):
        return str(value)
    if not number.is_finite():
        return str(value)
    return format(number, ",f" if grouped else "f")


def _money(spec: FieldSpec, value: Any, labels: Labels) -> str:
    return format_decimal(value, spec.scale if spec.scale is not None else MONEY_SCALE,
                          grouped=True)


def _decimal(spec: FieldSpec, value: Any, labels: Labels) -> str:
    return format_decimal(value, spec.scale if spec.scale is not None else DECIMAL_SCALE,
                          grouped=False)


def _integer(spec: FieldSpec, value: Any, labels: Labels) -> str:
    return str(value) if isinstance(value, bool) else format_decimal(value, 0, grouped=False)


def _date(spec: FieldSpec, value: Any, labels: Labels) -> str:
    if isinstance(value, datetime):
        return to_local(value, labels.zone).date().isoformat()
    return value.isoformat() if isinstance(value, date) else str(value)


def _datetime(spec: FieldSpec, value: Any, labels: Labels) -> str:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime):
        return to_local(value, labels.zone).strftime("%Y-%m-%d %H:%M")
    return value.isoformat() if isinstance(value, date) else str(value)


def _boolean(spec: FieldSpec, value: Any, labels: Labels) -> str:
    return _BOOLEAN[bool(value)].get(labels.lang)


_FORMATS: Mapping[str, Callable[[FieldSpec, Any, Labels], str]] = MappingProxyType({
    "money": _money,
    "decimal": _decimal,
    "integer": _integer,
    "date": _date,
    "datetime": _datetime,
    "boolean": _boolean,
    "enum": lambda spec, value, labels: labels.enum(spec.dictionary, value),
    "reference": lambda spec, value, labels: labels.reference(spec.reference, value),
    "user": lambda spec, value, labels: labels.user(value),
    "org_unit": lambda spec, value, labels: labels.unit(value),
    "attachment": lambda spec, value, labels: labels.attachment(value),
})


def format_value(field: FieldSpec, value: Any, *, lang: str, labels: Labels) -> str:
    """The text of ``field``'s ``value`` on a page in ``lang`` ('' for None)."""
    if value is None:
        return ""
    if lang != labels.lang:
        labels = replace(labels, lang=lang)
    render = _FORMATS.get(field.value_type)
    return render(field, value, labels) if render is not None else str(value)
