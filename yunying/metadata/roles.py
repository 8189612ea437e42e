"""Role documents (``roles/*.yaml``): building role specs and checking them
(metadata layer).

A role names what its holders may do: entity actions over a data scope with
field permissions (grants), platform actions, and the roles it inherits.
:func:`role_from_document` builds the frozen :class:`RoleSpec` (entity and
inherited role codes qualified); :func:`check_roles` runs the cross-reference
checks of one package's roles through the package checker of
:mod:`yunying.metadata.crossref`:

- ``unknown_entity`` / ``undeclared_dependency`` — a grant's entity;
- ``unknown_field`` — a field (or ``child.field``) in ``fields``;
- ``invalid_scope`` — ``own_unit`` / ``unit_tree`` on an entity without an
  ``org_dimension``, ``formula`` without a ``filter``, a ``filter`` with
  another scope, a ``tree`` with a scope other than ``unit_tree``;
- ``unknown_tree`` — a ``unit_tree`` grant's tree is not declared by the
  (non-demo) org data of the package or of a package it requires;
- ``duplicate_grant`` — two grants of one role on one entity sharing an action
  (each action of a role has one scope and one set of field permissions;
  grants on one entity with disjoint actions are fine);
- ``unknown_role`` — an inherited role that does not exist (or the built-in
  superuser role, which cannot be inherited);
- ``role_cycle`` — roles inheriting each other in a cycle.

A grant's ``filter`` formula is type-checked by the runtime's formula package
check, like entity rules.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING, AbstractSet, Any, Mapping

from yunying.metadata.convert import optional_text, text
from yunying.metadata.issues import json_path
from yunying.metadata.spec import EntitySpec, GrantSpec, RoleSpec, qualify
from yunying.metadata.versions import dependency_order
from yunying.metadata.yaml_source import Source

if TYPE_CHECKING:
    from yunying.metadata.crossref import Checker

__all__ = ["BUILTIN_ROLES", "ORG_SCOPES", "role_from_document", "grant_from_document",
           "check_roles"]

#: roles the platform defines itself: users may hold them (org data
#: ``role_grants``) but package roles cannot inherit or redefine them.
BUILTIN_ROLES = ("platform.admin",)
#: data scopes that need the entity's org dimension.
ORG_SCOPES = ("own_unit", "unit_tree")


def role_from_document(package: str, doc: Mapping[str, Any]) -> RoleSpec:
    """The role spec of a validated role document of ``package``."""
    return RoleSpec(
        package=package,
        code=doc["code"],
        label=text(doc["name"]),
        grants=tuple(grant_from_document(package, g) for g in doc.get("grants", ())),
        platform=tuple(doc.get("platform", ())),
        inherits=tuple(qualify(package, r) for r in doc.get("inherits", ())),
        description=optional_text(doc.get("description")),
    )


def grant_from_document(package: str, doc: Mapping[str, Any]) -> GrantSpec:
    return GrantSpec(
        entity=qualify(package, doc["entity"]),
        actions=tuple(doc["actions"]),
        scope=doc.get("scope", "all"),
        tree=doc.get("tree", "admin"),
        filter=doc.get("filter"),
        fields=MappingProxyType(dict(doc.get("fields", {}))),
    )


def check_roles(check: Checker, sources: Mapping[str, Source],
                trees: AbstractSet[str] | None) -> None:
    """Check every role of ``check.spec``; ``trees`` are the org tree codes
    the package's roles may name (declared by non-demo org data of the
    package and of the packages it requires), None when they are not known
    (a required package is missing or broken, or an org document in view
    failed its schema)."""
    for role in check.spec.roles:
        source = sources[role.code]
        for i, grant in enumerate(role.grants):
            _grant(check, source, i, grant, trees)
        _overlaps(check, source, role)
        _inherits(check, source, role)
    _cycles(check, sources)


def _grant(check: Checker, source: Source, index: int, grant: GrantSpec,
           trees: AbstractSet[str] | None) -> None:
    path, written = f"$.grants[{index}]", source.data["grants"][index]
    entity = check.resolve(source, f"{path}.entity", grant.entity, "entity")
    if grant.scope == "formula" and grant.filter is None:
        check.add(source, "invalid_scope", f"{path}.filter",
                  "数据范围为 formula 时必须给出 filter 公式",
                  "scope formula needs a filter formula")
    if grant.scope != "formula" and grant.filter is not None:
        check.add(source, "invalid_scope", f"{path}.filter",
                  f"只有数据范围为 formula 时才能写 filter（当前为 {grant.scope}）",
                  f"a filter applies only to scope formula, not {grant.scope}")
    if grant.scope != "unit_tree" and "tree" in written:
        check.add(source, "invalid_scope", f"{path}.tree",
                  f"只有数据范围为 unit_tree 时才能写 tree（当前为 {grant.scope}）",
                  f"a tree applies only to scope unit_tree, not {grant.scope}")
    if grant.scope == "unit_tree" and trees is not None and grant.tree not in trees:
        check.add(source, "unknown_tree", f"{path}.tree",
                  f"组织树 {grant.tree} 未在本包或其依赖包的组织数据（非演示）中声明",
                  f"org tree {grant.tree!r} is not declared by the (non-demo) org data "
                  f"of this package or of a package it requires")
    if isinstance(entity, EntitySpec):
        _org_scope(check, source, path, grant, entity)
        for key in grant.fields:
            _field(check, source, f"{path}.fields", key, entity)


def _org_scope(check: Checker, source: Source, path: str, grant: GrantSpec,
               entity: EntitySpec) -> None:
    if grant.scope in ORG_SCOPES and entity.org_dimension is None:
        check.add(source, "invalid_scope", f"{path}.scope",
                  f"实体 {entity.qualified_code} 没有组织维度（org_dimension），"
                  f"不能使用数据范围 {grant.scope}",
                  f"entity {entity.qualified_code} has no org_dimension, so scope "
                  f"{grant.scope} cannot apply to it")


def _field(check: Checker, source: Source, prefix: str, key: str, entity: EntitySpec) -> None:
    path = prefix + json_path([key])[1:]
    child_code, dot, code = key.partition(".")
    if not dot:
        if entity.field(key) is None:
            check.add(source, "unknown_field", path,
                      f"实体 {entity.qualified_code} 没有字段 {key}",
                      f"entity {entity.qualified_code} has no field {key!r}")
        return
    child = entity.child(child_code)
    if child is None:
        check.add(source, "unknown_field", path,
                  f"实体 {entity.qualified_code} 没有子表 {child_code}",
                  f"entity {entity.qualified_code} has no child table {child_code!r}")
    elif child.field(code) is None:
        check.add(source, "unknown_field", path,
                  f"子表 {entity.qualified_code}.{child_code} 没有字段 {code}",
                  f"child table {entity.qualified_code}.{child_code} has no field {code!r}")


def _overlaps(check: Checker, source: Source, role: RoleSpec) -> None:
    """Two grants of one role on one entity may not share an action."""
    for i, grant in enumerate(role.grants):
        for j, earlier in enumerate(role.grants[:i]):
            shared = [a for a in grant.actions if a in earlier.actions]
            if earlier.entity == grant.entity and shared:
                listed = ", ".join(shared)
                check.add(source, "duplicate_grant", f"$.grants[{i}].actions",
                          f"对实体 {grant.entity} 的操作 {listed} 已在 grants[{j}] 中授予；"
                          f"同一角色的每个操作只能有一个数据范围，请合并或拆成两个角色",
                          f"actions {listed} on {grant.entity} are already granted by "
                          f"grants[{j}]; each action of a role has one scope — merge the "
                          f"grants or use two roles")
                break


def _inherits(check: Checker, source: Source, role: RoleSpec) -> None:
    for k, parent in enumerate(role.inherits):
        path = f"$.inherits[{k}]"
        if parent in BUILTIN_ROLES:
            check.add(source, "unknown_role", path,
                      f"内置角色 {parent} 不能被继承", f"the built-in role {parent} cannot be "
                      f"inherited")
        else:
            check.resolve(source, path, parent, "role")


def _cycles(check: Checker, sources: Mapping[str, Source]) -> None:
    """Roles of the package that inherit each other in a cycle: one issue on
    each role of the cycle, at its entry naming the next role."""
    roles = {r.qualified_code: r for r in check.spec.roles}
    _, cycles = dependency_order({code: list(r.inherits) for code, r in roles.items()})
    for cycle in cycles:
        ring = " → ".join([*cycle, cycle[0]])
        for n, code in enumerate(cycle):
            role, following = roles[code], cycle[(n + 1) % len(cycle)]
            check.add(sources[role.code], "role_cycle",
                      f"$.inherits[{role.inherits.index(following)}]",
                      f"角色之间的继承形成循环：{ring}",
                      f"roles inherit each other in a cycle: {ring}")

