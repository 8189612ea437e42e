"""The access explanation: every grant's scope and domain evaluated against
the record, hidden and read-only fields, the final answer (SQLite and
PostgreSQL)."""

from __future__ import annotations

import pytest

from yunying.platform.errors import NotFound
from yunying.runtime.access import Grants, RoleInDomain
from yunying.runtime.access.explain import explain

from access_helpers import (  # noqa: F401  (fixtures)
    grants, registry, service, world,
)
from record_helpers import NOW, REQ


def _explain(db, service, registry, g, rid, entity=REQ):
    with db.connect() as conn:
        return explain(conn, registry, service.scopes, g, entity, rid, now=NOW)


def _by_role(answer):
    return {(g["role"], g["domain"]): g for g in answer["grants"]}


def test_a_grant_reaching_the_record_explains_why(db, service, registry, world):
    answer = _explain(db, service, registry, grants("ann", "unit_reader", units=["med"]),
                      world["req"]["med"])
    assert answer["can_read"] is True and answer["hidden"] == []
    assert answer["record"] == {"org_dimension": "department", "unit": "med",
                                "created_by": "setup"}
    (grant,) = answer["grants"]
    assert grant["scope"] == "own_unit" and grant["in_scope"] is True
    assert grant["scope_matches"] is True and grant["domain_matches"] is None
    assert "med" in grant["reason"]["en"] and "is one of the user's units" in grant["reason"]["en"]
    assert "acl.unit_reader" in answer["answer"]["en"] and answer["answer"]["zh-CN"]


def test_an_out_of_scope_record_is_explained_as_unreachable(db, service, registry, world):
    answer = _explain(db, service, registry,
                      grants("ann", "tree_reader", "own_reader", units=["med"]),
                      world["req"]["resp"])
    assert answer["can_read"] is False and answer["actions"]["read"] is False
    by_role = _by_role(answer)
    tree = by_role[("acl.tree_reader", "*")]
    assert tree["scope_matches"] is False and tree["tree"] == "admin"
    assert "is not one of the user's units (med) or below them in the admin tree" \
        in tree["reason"]["en"]
    own = by_role[("acl.own_reader", "*")]
    assert own["in_scope"] is False and "created by setup, which is not the user" \
        in own["reason"]["en"]
    assert "does not exist" in answer["answer"]["en"]


def test_domain_and_scope_are_evaluated_separately(db, service, registry, world):
    g = Grants("ann", (RoleInDomain("acl.unit_reader", "hosp2"),
                       RoleInDomain("acl.all_reader", "hosp")), ("med",), NOW.date())
    answer = _explain(db, service, registry, g, world["req"]["med"])
    by_role = _by_role(answer)
    held_far = by_role[("acl.unit_reader", "hosp2")]
    assert (held_far["scope_matches"], held_far["domain_matches"], held_far["in_scope"]) \
        == (True, False, False)
    assert "held in domain hosp2" in held_far["reason"]["en"]
    held_near = by_role[("acl.all_reader", "hosp")]
    assert (held_near["scope_matches"], held_near["domain_matches"]) == (True, True)
    assert answer["can_read"] is True


def test_inherited_roles_and_broken_filters_are_named(db, service, registry, world):
    answer = _explain(db, service, registry,
                      grants("ann", "child_role", "broken_filter", units=["med"]),
                      world["req"]["card"])
    by_role = _by_role(answer)
    inherited = by_role[("acl.unit_reader", "*")]
    assert inherited["via"] == "acl.child_role"
    assert "inherited through acl.child_role" in inherited["reason"]["en"]
    broken = by_role[("acl.broken_filter", "*")]
    assert broken["in_scope"] is False and "does not check" in broken["reason"]["en"]
    assert {r["role"] for r in answer["roles"]} == {"acl.child_role", "acl.unit_reader",
                                                     "acl.broken_filter"}


def test_hidden_and_read_only_fields_on_the_record(db, service, registry, world):
    answer = _explain(db, service, registry, grants("ann", "viewer", "clerk", units=["med"]),
                      world["req"]["med"])
    # viewer hides reason, clerk shows it (read-only); both hide total_amount
    assert answer["hidden"] == ["total_amount"]
    assert answer["read_only"] == ["lines.quantity", "reason"]
    assert answer["actions"]["update"] is True and answer["actions"]["delete"] is False
    answer = _explain(db, service, registry, grants("ann", "viewer", "clerk", units=["med"]),
                      world["req"]["surg"])
    assert answer["hidden"] == ["lines.unit_price", "reason", "total_amount"]
    assert answer["read_only"] == [] and answer["actions"]["update"] is False


def test_no_read_grant_and_the_superuser(db, service, registry, world):
    answer = _explain(db, service, registry, grants("ann", "item_reader"), world["req"]["med"])
    assert answer["grants"] == [] and answer["can_read"] is False
    assert "holds no role that may read" in answer["answer"]["en"]
    su = Grants("root", (RoleInDomain("platform.admin", "*"),))
    answer = _explain(db, service, registry, su, world["req"]["med"])
    assert answer["superuser"] is True and answer["can_read"] is True
    assert all(answer["actions"].values())


def test_a_missing_record_or_entity_is_not_found(db, service, registry, world):
    with pytest.raises(NotFound):
        _explain(db, service, registry, grants("ann", "all_reader"), 999999)
    with pytest.raises(NotFound) as caught:
        _explain(db, service, registry, grants("ann", "all_reader"), 1, entity="x.nope")
    assert caught.value.code == "unknown_entity"
