"""What a dashboard page shows, as plain values (runtime layer, HTTP edge —
the dashboards' view model).

From the page's parameters (:func:`parse_selection`: month, relation tree,
selected indicator, trend length; anything else is a located 400) and the
values of :class:`.dashboards_values.DashboardValues`, this module builds
the indicator **cards** (value, unit, colour against the thresholds,
环比 / 同比 change with an arrow whose tone follows the indicator's
direction, the version label when the period was computed with another
version than the current one, the 统计口径), the **trend** (last 12 or 36
months and the same months a year earlier, as an ECharts description and a
table) and a **drill level** (the children of a unit, or its doctors).
Nothing here renders HTML or reads the request.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from types import MappingProxyType
from typing import Any, Mapping, Sequence

from yunying.metadata.indicators import DEFINITION_PARTS, IndicatorSpec, IndicatorVersion
from yunying.platform.context import Context
from yunying.platform.errors import InvalidQuery, YunyingError
from yunying.platform.i18n import Text
from yunying.runtime.indicators.colours import colour
from yunying.runtime.indicators.periods import Period, period_of, period_range
from yunying.runtime.ui.dashboards_values import DashboardValues, Value
from yunying.runtime.ui.display import format_decimal

__all__ = ["VIEW_ACTION", "TRENDS", "LEVELS", "Selection", "Change", "Card", "may_view",
           "parse_selection", "change", "version_label", "cards", "trend", "definition"]

#: the platform action the dashboards need.
VIEW_ACTION = "view_indicators"
#: trend lengths (months) a page may ask for; the first is the default.
TRENDS = (12, 36)
#: drill levels: a unit's children, a unit's persons (doctors).
LEVELS = ("units", "persons")
_PERCENT = Decimal("0.1")
#: periods per year of each period kind (a trend of n months shows n × this / 12 periods).
_PER_YEAR = MappingProxyType({"month": 12, "quarter": 4, "half_year": 2, "year": 1})

#: the labels of the 统计口径 parts, in DEFINITION_PARTS order.
PART_LABELS: Mapping[str, Text] = MappingProxyType({
    "summary": Text("定义", "Definition"),
    "numerator": Text("分子", "Numerator"),
    "denominator": Text("分母", "Denominator"),
    "includes": Text("纳入范围", "Includes"),
    "excludes": Text("排除范围", "Excludes"),
    "source": Text("数据来源", "Data source"),
})


def may_view(context: Context) -> bool:
    """Whether ``context`` holds the platform action the dashboards need."""
    grants = context.grants
    return grants is None or grants.superuser or VIEW_ACTION in grants.platform


@dataclass(frozen=True)
class Selection:
    """What one dashboard request asks for."""

    tree: str
    period: Period | None          # None: the latest month with data
    indicator: str | None          # the indicator of the trend and the drill (qualified)
    months: int                    # trend length
    unit: str | None = None        # drill: the unit whose level is shown
    level: str | None = None       # drill: "units" | "persons"


def _bad(field: str, zh: str, en: str, value: Any) -> InvalidQuery:
    return InvalidQuery(Text(zh, en), details={"field": field, "value": str(value)[:100]})


def _period(text: str) -> Period:
    try:
        period = Period.parse(text)
    except YunyingError as exc:
        raise _bad("period", f"期间 {text[:20]!r} 无效：{exc.message.zh}",
                   f"invalid period {text[:20]!r}: {exc.message.en}", text) from exc
    if period.kind != "month":
        raise _bad("period", "看板按月显示：期间应写作 2025-03 这样的月份",
                   "dashboards show months: give the period as a month such as 2025-03", text)
    return period


def parse_selection(args: Mapping[str, str], *, trees: Sequence[str],
                    indicators: Sequence[str], allowed: Sequence[str]) -> Selection:
    """The page's parameters checked: ``period`` (a month), ``tree`` (one of
    ``trees``), ``indicator`` (one of ``indicators``), ``months`` (TRENDS),
    ``unit`` and ``level`` (LEVELS) where ``allowed`` names them. Anything
    else, or a bad value, is an :class:`InvalidQuery` naming the field."""
    for name in args:
        if name not in allowed:
            raise _bad(name, f"不支持的参数：{name[:40]}", f"unknown parameter: {name[:40]}", name)
    period = _period(args["period"]) if args.get("period") else None
    tree = args.get("tree") or (trees[0] if trees else "cost")
    if tree not in trees:
        raise _bad("tree", f"没有这棵组织树：{tree[:40]}", f"no such relation tree: {tree[:40]}", tree)
    indicator = args.get("indicator") or None
    if indicator is not None and indicator not in indicators:
        raise _bad("indicator", f"没有这个指标：{indicator[:80]}",
                   f"no such indicator: {indicator[:80]}", indicator)
    months = args.get("months") or str(TRENDS[0])
    if months not in {str(n) for n in TRENDS}:
        raise _bad("months", "趋势长度只能是 12 或 36 个月", "the trend covers 12 or 36 months", months)
    level = args.get("level") or None
    if level is not None and level not in LEVELS:
        raise _bad("level", "下钻层级只能是 units（科室）或 persons（医生）",
                   "the drill level is units or persons", level)
    return Selection(tree=tree, period=period, indicator=indicator, months=int(months),
                     unit=args.get("unit") or None, level=level)


@dataclass(frozen=True)
class Change:
    """A change against a base period: percent (1 decimal) and how it reads."""

    percent: Decimal | None
    arrow: str    # "up" | "down" | "flat" | "none"
    tone: str     # "good" | "bad" | "neutral"


_TONES = {("higher_better", "up"): "good", ("higher_better", "down"): "bad",
          ("lower_better", "up"): "bad", ("lower_better", "down"): "good"}


def change(current: Decimal | None, base: Decimal | None, direction: str) -> Change:
    """(current − base) / |base| in percent, rounded half-up to one decimal;
    none when either is missing or the base is zero."""
    if current is None or base is None or base == 0:
        return Change(None, "none", "neutral")
    percent = ((current - base) / abs(base) * 100).quantize(_PERCENT, rounding=ROUND_HALF_UP)
    arrow = "up" if percent > 0 else "down" if percent < 0 else "flat"
    return Change(percent, arrow, _TONES.get((direction, arrow), "neutral"))


def version_label(spec: IndicatorSpec, value: Value) -> Text | None:
    """How the value's version reads when it is not simply the current one:
    restated history, or an earlier version in force in its period."""
    current = spec.current
    if value.restated:
        return Text(f"以现行第 {current.version} 版口径重算",
                    f"restated with the current version {current.version}")
    used = spec.version(value.version) if value.version is not None else None
    if used is None or used.version == current.version:
        return None
    return Text(f"按 {used.effective_from.isoformat()} 起的第 {used.version} 版口径",
                f"by version {used.version}, in force from {used.effective_from.isoformat()}")


def definition(spec: IndicatorSpec, version: IndicatorVersion) -> dict[str, Any]:
    """The 统计口径 of ``version`` for the dialog: labelled parts, formulas, version, owner."""
    parts = [(PART_LABELS[name], getattr(version.definition, name)) for name in DEFINITION_PARTS
             if getattr(version.definition, name) is not None]
    return {"parts": parts, "formulas": dict(version.formulas), "version": version.version,
            "effective_from": version.effective_from.isoformat(), "note": version.note,
            "owner": spec.owner, "aliases": spec.aliases,
            "later": spec.current.version != version.version}


@dataclass(frozen=True)
class Card:
    """One indicator card."""

    code: str                   # qualified
    spec: IndicatorSpec
    period: Period              # the indicator's period holding the page's month
    value: Decimal | None
    display: str                # the value at its decimals, grouped; "—" for none
    colour: str | None
    mom: Change                 # 环比: against the previous period
    yoy: Change                 # 同比: against the same period a year earlier
    version_label: Text | None
    definition: dict[str, Any]


def card_period(spec: IndicatorSpec, month: Period) -> Period:
    """The period of ``spec`` (its finest kind) that holds ``month``."""
    return month if spec.period == "month" else period_of(spec.period, month.start)


def display(spec: IndicatorSpec, value: Decimal | None) -> str:
    return "—" if value is None else format_decimal(value, spec.decimals, grouped=True)


def cards(values: DashboardValues, specs: Sequence[IndicatorSpec], unit: str,
          month: Period) -> list[Card]:
    """The cards of ``specs`` for ``unit`` and ``month``: every value (the
    periods, their previous and last year's) from one snapshot read."""
    wanted = {}
    for spec in specs:
        period = card_period(spec, month)
        wanted[spec.qualified_code] = (period, period.shift(-1), period.last_year())
    found = values.totals_of(
        [(code, p) for code, periods in wanted.items() for p in periods], unit)
    result = []
    for spec in specs:
        code = spec.qualified_code
        period, previous, last_year = wanted[code]
        now = found[(code, period.code)]
        version = spec.version(now.version) if now.version is not None else None
        version = version or spec.version_on(period.start) or spec.versions[0]
        result.append(Card(
            code=code, spec=spec, period=period, value=now.value,
            display=display(spec, now.value), colour=colour(spec, now.value),
            mom=change(now.value, found[(code, previous.code)].value, spec.direction),
            yoy=change(now.value, found[(code, last_year.code)].value, spec.direction),
            version_label=version_label(spec, now), definition=definition(spec, version)))
    return result


def trend(values: DashboardValues, spec: IndicatorSpec, unit: str, month: Period,
          months: int, lang: str) -> dict[str, Any]:
    """The last ``months`` periods up to ``month`` and the same periods a year
    earlier: ``chart`` (the charts.js description), ``rows`` (for the table)."""
    last = card_period(spec, month)
    count = max(2, months * _PER_YEAR.get(spec.period, 12) // 12)
    periods = period_range(last.shift(-(count - 1)), last)
    earlier = [p.last_year() for p in periods]
    found = values.totals_of([(spec.qualified_code, p) for p in (*periods, *earlier)], unit)
    now = [found[(spec.qualified_code, p.code)].value for p in periods]
    before = [found[(spec.qualified_code, p.code)].value for p in earlier]
    names = (Text("本期", "This period").get(lang), Text("上年同期", "A year earlier").get(lang))
    chart = {"kind": "line", "labels": [p.code for p in periods],
             "unit": spec.unit.get(lang) if spec.unit else "",
             "series": [{"name": names[0], "values": [_plain(v) for v in now]},
                        {"name": names[1], "values": [_plain(v) for v in before],
                         "dashed": True}]}
    rows = [{"period": p.label(lang), "value": display(spec, a), "earlier": display(spec, b),
             "yoy": change(a, b, spec.direction)} for p, a, b in zip(periods, now, before)]
    return {"chart": chart, "rows": rows, "names": names}


def _plain(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")
