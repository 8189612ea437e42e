"""A posting rule evaluated over a stored record → journal lines (runtime layer,
posting rules).

The record is read as stored (its main row and, for ``each`` lines, its
child lines in order), whatever the acting user may see: posting is an
effect of the business event, not a read by the user. Values reached
through references (``item.unit_price``) are read once per scope for every
row at once. Each rule line gives one journal line (one per child line with
``each``): the amount is money — a Decimal rounded half-up to the cent; a
zero amount gives no line; NULL, negative, non-finite or too large amounts
refuse the posting, as does a formula that fails to evaluate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Context, Decimal
from types import MappingProxyType
from typing import Any, Iterator, Mapping

from sqlalchemy import Connection, select

from yunying.platform.errors import NotFound
from yunying.platform.i18n import Text
from yunying.runtime.formula.errors import FormulaError
from yunying.runtime.posting.compiled import CompiledLine, CompiledRule
from yunying.runtime.posting.problems import Where, posting_failed
from yunying.runtime.registry import Registry

__all__ = ["JournalLine", "Clock", "evaluate_rule", "CENT", "MAX_AMOUNT_DIGITS", "LIMITS"]

CENT = Decimal("0.01")
#: integer digits an amount may have (the journal's Numeric(18, 2) column).
MAX_AMOUNT_DIGITS = 16
#: column lengths of the journal line's text values.
LIMITS: Mapping[str, int] = MappingProxyType({"unit": 64, "project": 64, "memo": 300})
_ROUNDING = Context(prec=1000, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Clock:
    """The moment formulas see (TODAY(), NOW()) and accounts are checked on."""

    today: date
    now: datetime


@dataclass(frozen=True)
class JournalLine:
    """One evaluated line, not yet written: ``index`` is the rule line it came
    from, ``child_line`` the child line's ``line_no`` for ``each`` lines."""

    index: int
    side: str
    account: str | None
    amount: Decimal
    purpose: str | None = None
    unit: str | None = None
    project: str | None = None
    memo: str | None = None
    child_line: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, for error details and audit."""
        found = {"line": self.index, "side": self.side, "account": self.account,
                 "amount": str(self.amount), "purpose": self.purpose, "unit": self.unit,
                 "project": self.project}
        if self.child_line is not None:
            found["child_line"] = self.child_line
        return found


def evaluate_rule(conn: Connection, compiled: CompiledRule, registry: Registry,
                  record_id: int, clock: Clock) -> list[JournalLine]:
    """The journal lines of ``compiled`` for the stored record ``record_id``.

    Raises NotFound when there is no such record, TransitionRejected
    (``posting_failed``) when a line cannot be evaluated.
    """
    tables = registry.tables(compiled.entity.qualified_code)
    assert tables is not None  # compile_rule found the entity in this registry
    header = conn.execute(select(tables.table).where(tables.table.c.id == record_id)).first()
    if header is None:
        label = compiled.entity.label
        raise NotFound(Text(f"{label.zh} 中没有 id 为 {record_id} 的记录",
                            f"{label.en}: there is no record with id {record_id}"),
                       details={"entity": compiled.entity.qualified_code, "id": record_id})
    record = dict(header._mapping)
    envs = {None: [_with_paths(conn, compiled, None, [record])[0]]}
    for child in compiled.children:
        table = tables.children[child]
        rows = [{**record, **dict(r._mapping)} for r in conn.execute(
            select(table).where(table.c.parent_id == record_id).order_by(table.c.line_no))]
        envs[child] = _with_paths(conn, compiled, child, rows)
    return [line for compiled_line in compiled.lines
            for line in _lines(compiled, compiled_line, envs[compiled_line.spec.each], clock)]


def _with_paths(conn: Connection, compiled: CompiledRule, scope: str | None,
                rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each row with the reference paths its scope's formulas read."""
    plan = compiled.paths.get(scope)
    if not plan or not rows:
        return rows
    # deferred: the record service imports this package to post on create
    from yunying.runtime.records.paths import read_paths
    values = read_paths(conn, [(plan, row) for row in rows])
    return [{**row, **found} for row, found in zip(rows, values)]


def _lines(compiled: CompiledRule, line: CompiledLine, envs: list[dict[str, Any]],
           clock: Clock) -> Iterator[JournalLine]:
    for env in envs:
        child_line = env.get("line_no") if line.spec.each else None
        where = Where(compiled.rule.qualified_code, line.index, child_line)
        amount = _amount(_run(line, "amount", env, clock, where), where)
        if amount.is_zero():
            continue
        spec = line.spec
        account = spec.account if spec.account is not None else \
            _run(line, "account_formula", env, clock, where)
        yield JournalLine(
            index=line.index, side=spec.side, account=account, amount=amount,
            purpose=spec.purpose,
            unit=_text("unit", _run(line, "unit", env, clock, where), where),
            project=_text("project", _run(line, "project", env, clock, where), where),
            memo=_text("memo", spec.memo.zh if spec.memo else None, where),
            child_line=child_line)


def _run(line: CompiledLine, slot: str, env: Mapping[str, Any], clock: Clock,
         where: Where) -> Any:
    formula = line.formulas.get(slot)
    if formula is None:
        return None
    try:
        return formula.evaluate(env, today=clock.today, now=clock.now)
    except FormulaError as exc:
        raise posting_failed(where, "formula", exc.message, formula=slot,
                             issues=[i.as_dict() for i in exc.issues]) from exc


def _amount(value: Any, where: Where) -> Decimal:
    """The amount rounded half-up to the cent; refuses NULL, negative, non-numbers."""
    if value is None:
        raise posting_failed(where, "null_amount")
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        raise posting_failed(where, "not_a_number")
    value = Decimal(value)
    if not value.is_finite():
        raise posting_failed(where, "not_a_number")
    if value < 0:
        raise posting_failed(where, "negative_amount", str(value), amount=str(value))
    rounded = _ROUNDING.quantize(value, CENT)
    if not rounded.is_zero() and rounded.adjusted() >= MAX_AMOUNT_DIGITS:
        raise posting_failed(where, "amount_too_large", str(rounded), amount=str(rounded))
    return rounded


def _text(name: str, value: Any, where: Where) -> str | None:
    if value is None:
        return None
    text = str(value)
    if len(text) > LIMITS[name]:
        raise posting_failed(where, "too_long", name, field=name, max=LIMITS[name])
    return text
