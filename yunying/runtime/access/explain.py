"""Why a user can or cannot see a record (runtime layer, access control).

:func:`explain` answers an administrator's question about one user and one
record by evaluating, for every grant the user holds on the entity, its
data scope and its domain restriction *separately* against the stored row —
the same SQL conditions the record service applies (:mod:`.scope`) — and
combining them as the service does: the record is readable when some read
grant reaches it; its hidden fields are those every reaching read grant
hides; its read-only fields those no reaching update grant lets change.
The answer is plain JSON-ready data with zh-CN / en sentences.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping

from sqlalchemy import Connection, Table, case, literal, select

from yunying.metadata.spec import ENTITY_ACTIONS, EntitySpec
from yunying.platform.errors import NotFound
from yunying.platform.i18n import Text
from yunying.runtime.access.fields import hidden_on, locked_on, rules_of
from yunying.runtime.access.grants import ANY_DOMAIN, SUPERUSER_ROLE, Grants
from yunying.runtime.access.policy import Held, entity_grants, roles_held
from yunying.runtime.access.scope import DOMAIN_TREE, ScopeCompiler, ScopeEnv
from yunying.runtime.registry import Registry

__all__ = ["explain"]


def explain(conn: Connection, registry: Registry, scopes: ScopeCompiler, grants: Grants,
            entity: str, record_id: int, *, now: datetime) -> dict[str, Any]:
    """The explanation of what ``grants`` allow on record ``record_id`` of ``entity``.

    Raises NotFound for an unknown entity or a record that does not exist.
    """
    spec, tables = registry.entity(entity), registry.tables(entity)
    if spec is None or tables is None:
        raise NotFound(Text(f"未知实体 {entity}", f"unknown entity {entity}"),
                       code="unknown_entity", details={"entity": entity})
    today = grants.today or now.date()
    env = ScopeEnv(grants, conn.dialect.name, today, now)
    table = tables.table
    facts = _facts(conn, spec, table, record_id)
    helds = entity_grants(grants, registry, entity)
    verdicts = _evaluate(conn, scopes, spec, table, record_id, helds, env)
    out: dict[str, Any] = {
        "user": grants.user, "entity": entity, "record_id": record_id,
        "today": today.isoformat(), "units": list(grants.units), "record": facts,
        "superuser": grants.superuser,
        "roles": [{"role": r.role, "domain": r.domain, "via": r.via,
                   "known": r.role == SUPERUSER_ROLE or registry.role(r.role) is not None}
                  for r in roles_held(grants, registry)],
        "grants": [_grant(h, spec, scopes, facts, grants, v)
                   for h, v in zip(helds, verdicts)],
    }
    out.update(_outcome(grants, spec, helds, verdicts))
    return out


def _facts(conn: Connection, spec: EntitySpec, table: Table, record_id: int) -> dict[str, Any]:
    """What the sentences mention about the record: its unit and its creator."""
    unit = table.c[spec.org_dimension] if spec.org_dimension else literal(None)
    row = conn.execute(select(unit, table.c.created_by).where(table.c.id == record_id)).first()
    if row is None:
        raise NotFound(Text(f"{spec.label.zh} 中没有 id 为 {record_id} 的记录",
                            f"{spec.label.en}: there is no record with id {record_id}"),
                       details={"entity": spec.qualified_code, "id": record_id})
    return {"org_dimension": spec.org_dimension, "unit": row[0], "created_by": row[1]}


#: per held grant: (scope matches, domain matches — None when the domain does not restrict)
Verdict = tuple[bool, bool | None]


def _evaluate(conn: Connection, scopes: ScopeCompiler, spec: EntitySpec, table: Table,
              record_id: int, helds: tuple[Held, ...], env: ScopeEnv) -> list[Verdict]:
    """Per held grant: (scope matches, domain matches — None when not restricted)."""
    columns = []
    for n, held in enumerate(helds):
        for kind, part in (("s", scopes.scope_part(held, spec, table, env, f"yy_x{n}")),
                           ("d", scopes.domain_part(held, spec, table, env, f"yy_x{n}_d"))):
            value = literal(-1) if part is None else case((part, 1), else_=0)
            columns.append(value.label(f"{kind}{n}"))
    if not columns:
        return []
    row = conn.execute(select(*columns).where(table.c.id == record_id)).one()._mapping
    return [(row[f"s{n}"] != 0, None if row[f"d{n}"] == -1 else row[f"d{n}"] == 1)
            for n in range(len(helds))]


def _grant(held: Held, spec: EntitySpec, scopes: ScopeCompiler, facts: Mapping[str, Any],
           grants: Grants, verdict: Verdict) -> dict[str, Any]:
    scope_ok, domain_ok = verdict
    rules = rules_of(held)
    g = held.grant
    return {
        "role": held.role, "via": held.via, "domain": held.domain,
        "actions": list(g.actions), "reads": "read" in g.actions,
        "scope": g.scope, "tree": g.tree if g.scope == "unit_tree" else None,
        "filter": g.filter if g.scope == "formula" else None,
        "scope_matches": scope_ok, "domain_matches": domain_ok,
        "in_scope": scope_ok and domain_ok is not False,
        "hidden": sorted(rules.hidden), "read_only": sorted(rules.read_only),
        "reason": _reason(held, spec, scopes, facts, grants, verdict).as_dict(),
    }


def _yes(ok: bool) -> tuple[str, str]:
    return ("是", "is") if ok else ("不是", "is not")


def _scope_text(held: Held, spec: EntitySpec, scopes: ScopeCompiler,
                facts: Mapping[str, Any], grants: Grants, ok: bool) -> Text:
    g, (zh, en) = held.grant, _yes(ok)
    unit, units = facts["unit"], "、".join(grants.units) or "—"
    problem = scopes.filter_problem(held, spec)
    if g.scope in ("own_unit", "unit_tree") and spec.org_dimension is None:
        return Text("实体没有组织维度，按单元的范围不包含任何记录",
                    "the entity has no org dimension: a unit scope reaches no record")
    texts = {
        "all": Text("范围为全部记录", "scope: every record"),
        "own_unit": Text(f"记录的单元 {unit} {zh}用户所在单元（{units}）之一",
                         f"the record's unit {unit} {en} one of the user's units ({units})"),
        "unit_tree": Text(f"记录的单元 {unit} {zh}用户所在单元（{units}）或其在 {g.tree} 树中的下级",
                          f"the record's unit {unit} {en} one of the user's units ({units}) "
                          f"or below them in the {g.tree} tree"),
        "own_records": Text(f"记录由 {facts['created_by']} 创建，{zh}该用户本人",
                            f"the record was created by {facts['created_by']}, which {en} "
                            f"the user"),
        "formula": (Text(f"过滤公式无法通过检查，不包含任何记录：{problem.zh}",
                         f"the filter does not check and reaches no record: {problem.en}")
                    if problem is not None else
                    Text(f"过滤公式 {g.filter} 对此记录{'成立' if ok else '不成立'}",
                         f"the filter {g.filter} is {'true' if ok else 'not true'} "
                         f"for this record")),
    }
    return texts.get(g.scope, Text(f"未知范围 {g.scope}", f"unknown scope {g.scope}"))


def _reason(held: Held, spec: EntitySpec, scopes: ScopeCompiler, facts: Mapping[str, Any],
            grants: Grants, verdict: Verdict) -> Text:
    scope_ok, domain_ok = verdict
    text = _scope_text(held, spec, scopes, facts, grants, scope_ok)
    if held.domain != ANY_DOMAIN:
        if domain_ok is None:
            extra = Text(f"；在域 {held.domain} 中授予，但实体没有组织维度，不受域限制",
                         f"; held in domain {held.domain}, which does not restrict an entity "
                         f"without an org dimension")
        else:
            zh, en = _yes(domain_ok)
            extra = Text(f"；在域 {held.domain} 中授予：记录的单元 {facts['unit']} {zh}"
                         f" {held.domain} 或其在 {DOMAIN_TREE} 树中的下级",
                         f"; held in domain {held.domain}: the record's unit {facts['unit']} "
                         f"{en} {held.domain} or below it in the {DOMAIN_TREE} tree")
        text = Text(text.zh + extra.zh, text.en + extra.en)
    if held.via != held.role:
        text = Text(f"{text.zh}（继承自 {held.via}）", f"{text.en} (inherited through {held.via})")
    return text


def _outcome(grants: Grants, spec: EntitySpec, helds: tuple[Held, ...],
             verdicts: list[Verdict]) -> dict[str, Any]:
    if grants.superuser:
        return {"can_read": True, "actions": {a: True for a in ENTITY_ACTIONS},
                "hidden": [], "read_only": [],
                "answer": Text(f"{grants.user} 拥有 {SUPERUSER_ROLE}，可以查看并操作所有记录与字段",
                               f"{grants.user} holds {SUPERUSER_ROLE} and may see and do "
                               f"everything").as_dict()}
    reaching = [h for h, (s, d) in zip(helds, verdicts) if s and d is not False]
    by_action = {a: [h for h in reaching if a in h.grant.actions] for a in ENTITY_ACTIONS}
    readers = by_action["read"]
    out: dict[str, Any] = {
        "can_read": bool(readers),
        "actions": {a: bool(hs) for a, hs in by_action.items()},
        "hidden": sorted(hidden_on(readers)) if readers else [],
        "read_only": sorted(locked_on(by_action["update"]) - hidden_on(readers))
        if by_action["update"] and readers else [],
    }
    out["answer"] = _answer(grants, spec, helds, readers).as_dict()
    return out


def _answer(grants: Grants, spec: EntitySpec, helds: tuple[Held, ...],
            readers: list[Held]) -> Text:
    user, label = grants.user, spec.label
    if readers:
        roles = list(dict.fromkeys(h.role for h in readers))
        return Text(f"{user} 可以查看此{label.zh}记录（通过 {'、'.join(roles)}）",
                    f"{user} can see this {label.en} record (through {', '.join(roles)})")
    if not any("read" in h.grant.actions for h in helds):
        return Text(f"{user} 没有任何角色可以查看{label.zh}",
                    f"{user} holds no role that may read {label.en}")
    return Text(f"{user} 看不到此{label.zh}记录：可查看的授权的数据范围都不包含它（对该用户表现为不存在）",
                f"{user} cannot see this {label.en} record: no read grant's data scope reaches "
                f"it (to the user it does not exist)")

