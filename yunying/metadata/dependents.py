"""Installed packages that depend on reloaded ones (metadata layer).

Loading a new version of a package must not break the installed packages
that require it and are not reloaded with it: they must still accept its
version, and still find what they refer to in it — entities and
dictionaries their fields name, entities their roles grant on, roles their
roles inherit and their org data grants, what their workflows and posting
rules name (entities, roles, posting rules, account dictionaries).
"""

from __future__ import annotations

from typing import Iterable, Iterator, Mapping

from yunying.metadata.issues import Issue
from yunying.metadata.spec import PackageSpec, split_qualified
from yunying.metadata.versions import satisfies
from yunying.metadata.yaml_source import Source
from yunying.platform.errors import YunyingError
from yunying.platform.i18n import Text

__all__ = ["check_dependents", "references"]


def check_dependents(loaded: Mapping[str, tuple[PackageSpec, Source]],
                     installed: Iterable[PackageSpec]) -> list[Issue]:
    """Installed packages that are not reloaded must still accept the new
    versions of the packages they require and find what they refer to."""
    issues: list[Issue] = []
    for other in (p for p in installed if p.code not in loaded):
        for req in other.requires:
            if req.package in loaded and not _accepts(req.spec, loaded[req.package][0].version):
                spec, source = loaded[req.package]
                issues.append(source.issue("requirement_unsatisfied", "$.version", Text(
                    f"已安装的 {other.code} 要求 {req.package} {req.spec}，与 {spec.version} 不符",
                    f"installed package {other.code} requires {req.package} {req.spec}; "
                    f"{spec.version} does not satisfy it"), package=spec.code))
        issues += _lost_targets(other, loaded)
    return issues


def references(spec: PackageSpec) -> Iterator[tuple[str, str, str]]:
    """(kind, qualified target, where) of every reference ``spec`` makes to
    an entity, dictionary, role or posting rule, ``where`` naming the
    referring item."""
    for entity in spec.entities:
        for f in (*entity.fields, *(f for child in entity.children for f in child.fields)):
            where = f"{entity.code}.{f.code}"
            if f.reference:
                yield "entity", f.reference, where
            if f.dictionary:
                yield "dictionary", f.dictionary, where
    for role in spec.roles:
        for grant in role.grants:
            yield "entity", grant.entity, f"role {role.code}"
        for parent in role.inherits:
            yield "role", parent, f"role {role.code}"
    for org in spec.org:
        for grant in org.role_grants:
            yield "role", grant.role, org.file
    yield from _workflow_references(spec)


def _workflow_references(spec: PackageSpec) -> Iterator[tuple[str, str, str]]:
    """The entities, roles, posting rules and account dictionaries that
    workflows and posting rules name."""
    for workflow in spec.workflows:
        where = f"workflow {workflow.code}"
        yield "entity", workflow.entity, where
        for transition in workflow.transitions:
            yield from (("role", role, where) for role in transition.roles)
            yield from (("posting", e.posting, where) for e in transition.effects if e.posting)
        for node in (n for chain in workflow.chains for n in chain.nodes):
            roles = [a.role for a in node.approvers] + [a.until_role for a in node.approvers]
            roles.append(node.policy.assign_role)
            yield from (("role", role, where) for role in roles if role)
    for rule in spec.postings:
        yield "entity", rule.entity, f"posting {rule.code}"
        yield "dictionary", rule.accounts, f"posting {rule.code}"


_FIND = {"entity": PackageSpec.entity, "dictionary": PackageSpec.dictionary,
         "role": PackageSpec.role, "posting": PackageSpec.posting}


def _lost_targets(other: PackageSpec,
                  loaded: Mapping[str, tuple[PackageSpec, Source]]) -> list[Issue]:
    """References of an installed package into a reloaded one that the new
    version no longer has (an upgrade that drops an entity, a dictionary or a role)."""
    issues: list[Issue] = []
    for kind, target, where in references(other):
        package, code = split_qualified(target)
        if package not in loaded:
            continue
        spec, source = loaded[package]
        if _FIND[kind](spec, code) is None:
            issues.append(source.issue(f"unknown_{kind}", "$", Text(
                f"已安装的 {other.code} 的 {where} 引用了 {target}，而此版本已不再提供",
                f"installed package {other.code} refers to {target} "
                f"({where}), which this version no longer has"), package=spec.code))
    return issues


def _accepts(version_range: str, version: str) -> bool:
    try:
        return satisfies(version, version_range)
    except YunyingError:
        return True  # a malformed range is reported where it is written
