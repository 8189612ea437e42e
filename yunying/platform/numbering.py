"""Document numbering: patterns, reset periods and counters (platform layer).

A numbering rule is a pattern such as ``LY{yyyy}{mm}-{seq:4}`` plus a reset
period. Counters live in ``yy_number_sequence``, one row per rule and period,
and are advanced with one atomic upsert in the *caller's* transaction, so a
number is unique under concurrency and a rolled-back write uses no number.
This module knows nothing of entities: callers pass the pattern and the rule
key (the record service uses the entity's qualified code).
"""

from __future__ import annotations

import re
from datetime import datetime
from types import MappingProxyType
from typing import Callable, Mapping

from sqlalchemy import Connection, bindparam
from sqlalchemy.dialects.postgresql import insert as _pg_insert
from sqlalchemy.dialects.sqlite import insert as _sqlite_insert

from yunying.platform.errors import ConfigurationError
from yunying.platform.i18n import Text
from yunying.platform.tables import number_sequence

__all__ = [
    "RESETS",
    "format_number",
    "period_key",
    "default_reset",
    "pattern_problems",
    "next_value",
]

#: reset periods, coarsest first.
RESETS = ("never", "year", "month", "day")

_TOKEN = re.compile(r"\{([^{}]*)\}")
_SEQ = re.compile(r"seq:([1-9][0-9]?)")

_DATE_TOKENS: Mapping[str, Callable[[datetime], str]] = MappingProxyType({
    "yyyy": lambda when: f"{when.year:04d}",
    "yy": lambda when: f"{when.year % 100:02d}",
    "mm": lambda when: f"{when.month:02d}",
    "dd": lambda when: f"{when.day:02d}",
})

#: the reset period a date token implies (the finest token wins).
_TOKEN_RESET = MappingProxyType({"yyyy": "year", "yy": "year", "mm": "month", "dd": "day"})

_PERIODS: Mapping[str, Callable[[datetime], str]] = MappingProxyType({
    "never": lambda when: "",
    "year": lambda when: f"{when.year:04d}",
    "month": lambda when: f"{when.year:04d}{when.month:02d}",
    "day": lambda when: f"{when.year:04d}{when.month:02d}{when.day:02d}",
})


def format_number(pattern: str, when: datetime, seq: int) -> str:
    """Fill ``pattern`` with the date parts of ``when`` and ``seq``.

    ``{seq:N}`` pads to N digits; a sequence wider than N is kept whole,
    never truncated. Raises ConfigurationError for an unknown token.
    """
    def fill(match: re.Match) -> str:
        token = match.group(1)
        date_part = _DATE_TOKENS.get(token)
        if date_part is not None:
            return date_part(when)
        seq_match = _SEQ.fullmatch(token)
        if seq_match is None:
            raise _bad_pattern(pattern, token)
        return f"{seq:0{int(seq_match.group(1))}d}"

    return _TOKEN.sub(fill, pattern)


def period_key(reset: str, when: datetime) -> str:
    """The counter period of ``when``: "" (never), "2026", "202611" or "20261125"."""
    key = _PERIODS.get(reset)
    if key is None:
        raise ConfigurationError(Text(
            f"未知的编号重置周期 {reset!r}（可选：{'、'.join(RESETS)}）",
            f"unknown numbering reset {reset!r} (one of: {', '.join(RESETS)})"),
            code="invalid_numbering", details={"reset": reset})
    return key(when)


def default_reset(pattern: str) -> str:
    """The reset period implied by the finest date token of ``pattern``."""
    found = [_TOKEN_RESET[t] for t in _TOKEN.findall(pattern) if t in _TOKEN_RESET]
    return max(found, key=RESETS.index, default="never")


def pattern_problems(pattern: str, reset: str | None = None) -> list[Text]:
    """Every problem of a numbering pattern (and optional reset); [] when valid.

    A pattern needs exactly one ``{seq:N}``, only known tokens, and a reset
    no finer than its finest date token (else numbers would repeat).
    """
    problems: list[Text] = []
    tokens = _TOKEN.findall(pattern)
    unknown = [t for t in tokens if t not in _DATE_TOKENS and not _SEQ.fullmatch(t)]
    problems += [Text(f"编号规则含未知占位符 {{{t}}}", f"unknown numbering token {{{t}}}")
                 for t in unknown]
    seqs = sum(1 for t in tokens if _SEQ.fullmatch(t))
    if seqs != 1:
        problems.append(Text(
            f"编号规则必须恰好包含一个 {{seq:N}}，实际 {seqs} 个",
            f"a numbering pattern needs exactly one {{seq:N}}, found {seqs}"))
    if reset is not None:
        if reset not in RESETS:
            problems.append(Text(f"未知的编号重置周期 {reset!r}",
                                 f"unknown numbering reset {reset!r}"))
        elif RESETS.index(reset) > RESETS.index(default_reset(pattern)):
            problems.append(Text(
                f"重置周期 {reset} 比编号规则中的日期更细，编号会重复",
                f"reset {reset} is finer than the pattern's date tokens; numbers would repeat"))
    return problems


def next_value(conn: Connection, rule: str, period: str) -> int:
    """Allocate the next sequence value of ``rule`` in ``period`` (1, 2, 3 …).

    One ``INSERT … ON CONFLICT DO UPDATE … RETURNING`` in the caller's
    transaction: concurrent callers serialise on the counter row, and a
    rollback gives the value back.
    """
    stmt = _UPSERTS.get(conn.dialect.name)
    if stmt is None:
        raise ConfigurationError(Text(
            f"编号计数器不支持数据库 {conn.dialect.name}",
            f"numbering counters do not support the {conn.dialect.name} database"))
    return int(conn.execute(stmt, {"rule": rule, "period": period}).scalar_one())


def _upsert(insert):
    table = number_sequence
    return insert(table).values(
        rule=bindparam("rule"), period=bindparam("period"), value=1,
    ).on_conflict_do_update(
        index_elements=[table.c.rule, table.c.period],
        set_={"value": table.c.value + 1},
    ).returning(table.c.value)


#: the counter upsert per dialect, built once (statements are immutable).
_UPSERTS = MappingProxyType({"sqlite": _upsert(_sqlite_insert),
                             "postgresql": _upsert(_pg_insert)})


def _bad_pattern(pattern: str, token: str) -> ConfigurationError:
    return ConfigurationError(Text(
        f"编号规则 {pattern!r} 含未知占位符 {{{token}}}",
        f"numbering pattern {pattern!r} has an unknown token {{{token}}}"),
        code="invalid_numbering", details={"pattern": pattern, "token": token})
