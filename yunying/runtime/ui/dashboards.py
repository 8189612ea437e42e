"""The dashboards of the staff UI: 院长视窗 and 科室透视 (runtime layer, HTTP edge).

``GET /dashboards`` shows every indicator of the installed packages as a
card for the top unit of a relation tree (``DASHBOARD_UNIT`` in the config,
else the first root of the tree; tree ``DASHBOARD_TREE``, default ``cost``)
and a month (the latest the snapshot holds, else the current one); the
trend of the selected indicator (12 or 36 months, drawn by ECharts from the
separate ``charts.js`` bundle, and as a table); and a drill-down table:
clicking a card's value loads (htmx) ``GET /dashboards/drill`` — the
unit's departments, whose values drill to their doctors. ``GET
/dashboards/unit/<code>`` (科室透视) is the same page for one unit, drilling
straight to its doctors. The 口径 of each card opens in a dialog.

Everything needs the platform action ``view_indicators`` (else the 403
page). Parameters are checked (:func:`.dashboards_model.parse_selection`):
an unknown one or a bad value is the 400 page, an unknown unit the 404 page.
Values come from the snapshot with live computation of what it lacks
(:mod:`.dashboards_values`).
"""

from __future__ import annotations

import json
from typing import Any, Mapping
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, render_template, request
from sqlalchemy import Connection

from yunying.platform.errors import InvalidQuery, NotFound, YunyingError
from yunying.platform.i18n import Text
from yunying.platform.org import parent
from yunying.platform.org_admin import list_trees
from yunying.runtime.access.grants import require_platform
from yunying.runtime.indicators.colours import colour
from yunying.runtime.indicators.periods import period_of
from yunying.runtime.indicators.snapshot import tree_roots
from yunying.runtime.ui import dashboards_model as model
from yunying.runtime.ui.dashboards_values import (
    DashboardValues, latest_period, unit_exists,
)
from yunying.runtime.ui.display import Labels
from yunying.runtime.ui.web import ctx, lang, login_required, render, runtime_of, services

__all__ = ["blueprint", "PAGE_PARAMS", "DRILL_PARAMS", "dashboard_url"]

blueprint = Blueprint("ui_dashboards", __name__, template_folder="templates")

#: the parameters of the pages and of the drill partial.
PAGE_PARAMS = ("period", "tree", "indicator", "months", "unit", "level")
DRILL_PARAMS = PAGE_PARAMS
_DEFAULT_TREE = "cost"


def dashboard_url(page_unit: str | None = None, **params: Any) -> str:
    """The address of a dashboard page (``page_unit``: the 科室透视 of that unit)."""
    path = f"{request.script_root}/dashboards" + (f"/unit/{page_unit}" if page_unit else "")
    query = urlencode({k: v for k, v in params.items() if v not in (None, "")})
    return f"{path}?{query}" if query else path


@blueprint.get("/dashboards")
@login_required
def overview() -> Response:
    """院长视窗: the top unit of the tree."""
    return _page(None)


@blueprint.get("/dashboards/unit/<code>")
@login_required
def unit_page(code: str) -> Response:
    """科室透视: one unit's indicators, drilling to its doctors."""
    return _page(code)


@blueprint.get("/dashboards/drill")
@login_required
def drill() -> Response:
    """One drill level as an HTML fragment (htmx): ``indicator``, ``unit``,
    ``period``, ``level`` required, ``tree`` optional."""
    require_platform(ctx(), model.VIEW_ACTION)
    with services().db.begin() as conn:
        page = _Context(conn, request.args)
        missing = [n for n in ("indicator", "unit", "period", "level") if not request.args.get(n)]
        if missing:
            raise InvalidQuery(Text(f"缺少参数：{', '.join(missing)}",
                                    f"missing parameter(s): {', '.join(missing)}"),
                               details={"field": missing[0]})
        values = page.drill(page.selection.unit, page.selection.level)
    html = render_template("dashboards/_drill.html", drill=values)
    return Response(html, status=200, mimetype="text/html")


class _Context:
    """The checked parameters and what every part of a page needs."""

    def __init__(self, conn: Connection, args: Mapping[str, str]) -> None:
        self.conn = conn
        self.runtime = runtime_of(conn)
        self.specs = sorted(self.runtime.registry.indicators.values(),
                            key=lambda s: (s.package, s.code))
        self.by_code = {s.qualified_code: s for s in self.specs}
        configured = current_app.config.get("DASHBOARD_TREE") or _DEFAULT_TREE
        self.trees = sorted(((t["code"], t["name"]) for t in list_trees(conn)),
                            key=lambda tree: (tree[0] != configured, tree[0]))
        self.selection = model.parse_selection(args, trees=[code for code, _ in self.trees],
                                               indicators=list(self.by_code),
                                               allowed=PAGE_PARAMS)
        self.tree = self.selection.tree
        self.values = DashboardValues(conn, self.runtime.indicators, self.tree)
        self.month = self.selection.period or latest_period(conn, self.tree, self.by_code) \
            or period_of("month", ctx().now().date())
        if self.selection.unit is not None:
            self.require_unit(self.selection.unit)

    def require_unit(self, code: str) -> str:
        if not unit_exists(self.conn, code):
            raise NotFound(Text(f"没有这个组织单元：{code[:64]}", f"no such org unit: {code[:64]}"),
                           details={"field": "unit", "value": code[:64]})
        return code

    def top_unit(self) -> str | None:
        configured = current_app.config.get("DASHBOARD_UNIT")
        if configured and unit_exists(self.conn, configured):
            return configured
        found = tree_roots(self.conn, self.tree, self.month.end)
        return found[0] if found else None

    def spec(self, code: str | None) -> Any:
        return self.by_code[code] if code is not None else (self.specs[0] if self.specs else None)

    def drill(self, unit: str, level: str) -> dict[str, Any]:
        spec = self.spec(self.selection.indicator)
        return drill_level(self, spec, unit, level)

    def link(self, page_unit: str | None, **params: Any) -> str:
        """A page address keeping this page's month and tree."""
        base = {"period": self.month.code, "tree": self.tree}
        return dashboard_url(page_unit, **{**base, **params})

    def drill_url(self, indicator: str, unit: str, level: str) -> str:
        """The drill partial of ``indicator`` below ``unit`` at ``level``."""
        query = urlencode({"indicator": indicator, "unit": unit, "level": level,
                           "period": self.month.code, "tree": self.tree})
        return f"{request.script_root}/dashboards/drill?{query}"


def _page(unit_code: str | None) -> Response:
    require_platform(ctx(), model.VIEW_ACTION)
    with services().db.begin() as conn:
        page = _Context(conn, request.args)
        unit = page.require_unit(unit_code) if unit_code else page.top_unit()
        values = _page_values(page, unit_code, unit) if unit and page.specs else {}
        names = Labels.load(conn, page.runtime.registry, lang(), units=[u for u in [unit] if u])
    first = "persons" if unit_code else "units"
    return render("dashboards/page.html", unit=unit, unit_name=names.unit(unit) if unit else "",
                  page_unit=unit_code, first_level=first, month=page.month, tree=page.tree,
                  trees=page.trees, selection=page.selection, months_choices=model.TRENDS,
                  link=page.link, drill_url=page.drill_url, page_path=dashboard_url(unit_code),
                  **values)


def _page_values(page: _Context, unit_code: str | None, unit: str) -> dict[str, Any]:
    cards = model.cards(page.values, page.specs, unit, page.month)
    # the trend's indicator: the one asked for, else the first card with a value
    first = next((c.code for c in cards if c.value is not None), None)
    spec = page.spec(page.selection.indicator or first)
    trend = model.trend(page.values, spec, unit, page.month, page.selection.months, lang())
    drill = None
    if page.selection.level is not None:
        drill = drill_level(page, spec, page.selection.unit or unit, page.selection.level)
    return {"cards": cards, "selected": spec, "trend": trend,
            "chart_json": _script_json(trend["chart"]), "drill": drill}


def _script_json(value: Any) -> str:
    """JSON safe inside a ``<script>`` element (no ``<`` can close it)."""
    return json.dumps(value, ensure_ascii=False).replace("<", "\\u003c")


def drill_level(page: _Context, spec: Any, unit: str, level: str) -> dict[str, Any]:
    """The rows of one drill level of ``spec`` below ``unit``, with the unit's total."""
    month = page.month
    period = model.card_period(spec, month)
    error = None
    try:
        rows = (page.values.units if level == "units" else page.values.persons)(
            spec.qualified_code, unit, period)
    except YunyingError as exc:  # e.g. an indicator whose entities name no doctor
        rows, error = [], exc.message
    total = page.values.totals_of([(spec.qualified_code, period)], unit)[
        (spec.qualified_code, period.code)]
    up = parent(page.conn, page.tree, unit, period.end)
    back = up is not None and level == "persons"
    keys = [key for key, _ in rows]
    names = Labels.load(page.conn, page.runtime.registry, lang(),
                        units=[unit, *(keys if level == "units" else []), *([up] if up else [])],
                        users=keys if level == "persons" else [])
    name_of = names.unit if level == "units" else names.user

    def row(key: str, value: Any) -> dict[str, Any]:
        nxt = page.link(None, indicator=spec.qualified_code, unit=key, level="persons") \
            if level == "units" else None
        return {"key": key, "name": name_of(key), "display": model.display(spec, value.value),
                "colour": colour(spec, value.value), "next": nxt,
                "partial": page.drill_url(spec.qualified_code, key, "persons") if nxt else None,
                "page": dashboard_url(key, period=month.code, tree=page.tree,
                                      indicator=spec.qualified_code) if level == "units" else None}

    return {"spec": spec, "unit": unit, "unit_name": names.unit(unit), "level": level,
            "period": period, "total": model.display(spec, total.value),
            "total_colour": colour(spec, total.value), "error": error,
            "rows": [row(key, value) for key, value in sorted(rows, key=_largest_first)],
            "up": page.drill_url(spec.qualified_code, up, "units") if back else None,
            "up_page": page.link(None, indicator=spec.qualified_code, unit=up,
                                 level="units") if back else None,
            "up_name": names.unit(up) if up else ""}


def _largest_first(item: tuple[str, Any]) -> tuple:
    """Drill rows: the largest values first, then by code; rows without a value last."""
    key, value = item
    return (value.value is None, -(value.value or 0), key)
