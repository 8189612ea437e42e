"""The navigation of the staff UI: what the layout shows around every page
(runtime layer, HTTP edge).

The menu is generated from metadata: one *domain* per installed package,
its ``menus`` (ordered by ``order``) each listing the package's entities
that name it, and the entities without a menu in a last group labelled like
the package. Only entities the user may ``read`` are listed
(:meth:`RecordService.may`, the same grants the record service enforces);
empty menus and domains are dropped. The layout also shows the user's name
and the size of the pending box (:func:`yunying.runtime.workflow.inbox.pending_count`).
Holders of the platform action ``view_indicators`` get a first domain 指标
linking the dashboards (:mod:`.dashboards`) when indicators are installed.

Everything is computed once per request (kept on ``flask.g``): the name
and the pending count are two small queries in one read transaction; the
menu itself needs no query (the grants are on the request's context, the
runtime is the page's own, see :func:`.web.runtime_of`).
"""

from __future__ import annotations

from typing import Any

from flask import g, request

from yunying.metadata.spec import EntitySpec, PackageSpec
from yunying.platform import identity
from yunying.platform.context import Context
from yunying.platform.errors import NotFound
from yunying.platform.i18n import Text
from yunying.runtime.registry import Registry
from yunying.runtime.records.service import RecordService
from yunying.runtime.ui.dashboards_model import may_view
from yunying.runtime.ui.web import ctx, runtime_of, services, signed_in, tr
from yunying.runtime.workflow import inbox

__all__ = ["layout_values", "navigation", "entity_url"]

_CACHE = "yunying_layout"


def layout_values() -> dict[str, Any]:
    """The values the layout needs: ``{}`` for nobody, else ``user``
    (``{"code", "name"}``), ``nav`` (see :func:`navigation`) and
    ``pending_count``."""
    if not signed_in():
        return {}
    context = ctx()
    key = (context.actor, context.language)
    cached = g.get(_CACHE)
    if cached is not None and cached[0] == key:
        return dict(cached[1])
    with services().db.begin() as conn:
        runtime = runtime_of(conn)
        name = _user_name(conn, context.actor)
        pending = inbox.pending_count(conn, context.actor)
    values = {
        "user": {"code": context.actor, "name": tr(name)},
        "nav": navigation(runtime.registry, runtime.records, context),
        "pending_count": pending,
    }
    setattr(g, _CACHE, (key, values))
    return dict(values)


def _user_name(conn: Any, code: str) -> Text:
    try:
        return identity.get_user(conn, code).name
    except NotFound:  # a token of a user removed since: show the code
        return Text(code, code)


def navigation(registry: Registry, records: RecordService, context: Context) -> list[dict]:
    """Domains → menus → entities ``context`` may read, labels in its language."""
    language = context.language
    domains = _dashboards(registry, context, language)
    for package in registry.packages.values():
        menus = _menus(package, records, context, language)
        if menus:
            domains.append({"code": package.code, "label": package.label.get(language),
                            "menus": menus})
    return domains


def _dashboards(registry: Registry, context: Context, language: str) -> list[dict]:
    """The 指标 domain (the dashboards), for those who may view indicators."""
    if not registry.indicators or not may_view(context):
        return []
    label = Text("指标", "Indicators").get(language)
    link = {"code": "dashboards", "label": Text("院长视窗", "Dashboards").get(language),
            "url": f"{request.script_root}/dashboards"}
    return [{"code": "dashboards", "label": label,
             "menus": [{"code": "dashboards", "label": label, "entities": [link]}]}]


def _menus(package: PackageSpec, records: RecordService, context: Context,
           language: str) -> list[dict]:
    declared = sorted(package.menus, key=lambda m: (m.order, m.code))
    groups: dict[str | None, list[dict]] = {m.code: [] for m in declared}
    groups[None] = []  # entities without (a known) menu, under the package's name
    for entity in package.entities:
        if records.may(context, entity.qualified_code, "read"):
            menu = entity.menu if entity.menu in groups else None
            groups[menu].append(_entity_link(entity, language))
    labels: dict[str | None, Text] = {m.code: m.label for m in declared}
    labels[None] = package.label
    return [{"code": code if code is not None else package.code,
             "label": labels[code].get(language), "entities": entities}
            for code, entities in groups.items() if entities]


def _entity_link(entity: EntitySpec, language: str) -> dict:
    return {"code": entity.qualified_code, "label": entity.label.get(language),
            "url": entity_url(entity.qualified_code)}


def entity_url(entity: str) -> str:
    """The list page of ``entity`` (``/records/<qualified code>``)."""
    return f"{request.script_root}/records/{entity}"
