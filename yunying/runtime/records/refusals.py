"""The refusals of the record service and the checks of ids they follow
(runtime layer, records): a missing record, a stale version, a referenced
record, a query built for another entity."""

from __future__ import annotations

from typing import Any

from yunying.platform.errors import Conflict, InvalidQuery, NotFound
from yunying.platform.i18n import Text
from yunying.runtime.records.fields import INT32_MAX
from yunying.runtime.records.messages import ErrorBag, Problem
from yunying.runtime.records.plan import EntityPlan, Referrer
from yunying.runtime.records.query import ListQuery

__all__ = ["STALE", "bad_version", "is_version", "is_id", "record_id_of", "no_record",
           "referenced", "wrong_query"]

STALE = Text("记录已被他人修改，请重新加载后再试",
              "the record was changed by someone else; reload it and try again")


def bad_version(errors: ErrorBag) -> None:
    errors.add("version", Problem("type", {"expected": "integer"}), Text("版本号", "Version"))


def is_version(version: Any) -> bool:
    return isinstance(version, int) and not isinstance(version, bool) and \
        1 <= version <= INT32_MAX


def is_id(record_id: Any) -> bool:
    return isinstance(record_id, int) and not isinstance(record_id, bool) and \
        1 <= record_id <= INT32_MAX


def record_id_of(plan: EntityPlan, record_id: Any) -> int:
    if is_id(record_id):
        return record_id
    raise no_record(plan, record_id)


def no_record(plan: EntityPlan, record_id: Any) -> NotFound:
    shown = record_id if isinstance(record_id, (int, str)) else repr(record_id)
    return NotFound(Text(f"{plan.label.zh} 中没有 id 为 {shown} 的记录",
                         f"{plan.label.en}: there is no record with id {shown}"),
                    details={"entity": plan.entity, "id": shown})


def referenced(plan: EntityPlan, rid: int, referrers: list[Referrer]) -> Conflict:
    names = list(dict.fromkeys(r.entity for r in referrers))
    labels = list(dict.fromkeys(r.label for r in referrers))
    zh = "、".join(label.zh for label in labels)
    en = ", ".join(label.en for label in labels)
    return Conflict(Text(f"{plan.label.zh}（id {rid}）被 {zh} 引用，不能删除",
                         f"{plan.label.en} {rid} is referenced by {en} and cannot be deleted"),
                    code="referenced", details={"entity": plan.entity, "id": rid,
                                                "referenced_by": names})


def wrong_query(plan: EntityPlan, query: ListQuery) -> InvalidQuery:
    return InvalidQuery(Text(f"查询是为 {query.entity} 构造的，不能用于 {plan.entity}",
                             f"the query was built for {query.entity}, not {plan.entity}"),
                        details={"parameter": "entity", "value": query.entity})

