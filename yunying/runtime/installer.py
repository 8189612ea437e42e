"""Package installation and upgrade (runtime layer).

One install is one transaction: load and validate the packages (every
formula type-checked too), plan the schema sync, refuse lossy changes, apply
the plan, record the metadata version, sync dictionary items and write seed
rows through the record service. Any failure rolls everything back, DDL
included.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping, Sequence

from yunying.metadata.issues import Issue
from yunying.metadata.loader import load_packages
from yunying.metadata.spec import DictionarySpec, PackageSpec, SeedSpec
from yunying.metadata.store import MetadataStore
from yunying.metadata.versions import parse_version
from yunying.platform.context import Context
from yunying.platform.database import Database
from yunying.platform.dictionaries import DictionaryItem, sync_items
from yunying.platform.errors import InvalidPackage
from yunying.platform.i18n import Text
from yunying.runtime.formula.package_check import FORMULA_CHECKS
from yunying.runtime.records import RecordService
from yunying.runtime.registry import Registry
from yunying.runtime.schema import Plan, Refusal, apply_plan, check_plan, plan_sync
from yunying.runtime.seeds import SeedLoader

__all__ = ["InstallReport", "install_packages", "bundled_package_paths", "BUNDLED"]

#: folder of the packages that ship with Yunying.
BUNDLED = os.path.join(os.path.dirname(os.path.dirname(__file__)), "modules")

Progress = Callable[[str], None]


@dataclass(frozen=True)
class InstallReport:
    """What an install did (or, for a dry run, would do)."""

    packages: tuple[PackageSpec, ...]
    actions: Mapping[str, str]          # package code → install | upgrade | reinstall
    plan: Plan
    refusals: tuple[Refusal, ...]
    applied: bool
    seeded: Mapping[str, int] = field(default_factory=dict)  # seed file → rows written


def bundled_package_paths() -> list[str]:
    """Every package folder under ``yunying/modules``, sorted by name."""
    return sorted(
        os.path.join(BUNDLED, name) for name in os.listdir(BUNDLED)
        if os.path.isfile(os.path.join(BUNDLED, name, "package.yaml")))


def install_packages(db: Database, paths: Sequence[str | os.PathLike], ctx: Context, *,
                     dry_run: bool = False, allow_lossy: bool = False,
                     drop_removed: bool = False, with_demo: bool = False,
                     progress: Progress | None = None) -> InstallReport:
    """Install or upgrade the packages at ``paths`` in one transaction.

    Raises InvalidPackage (validation, downgrade, bad seed rows) or
    LossyChange (the plan would lose data); the database is then unchanged.
    """
    say = progress or (lambda _msg: None)
    store = MetadataStore()
    with db.schema_transaction() as conn:
        installed = {p.code: p for p in store.installed(conn)}
        say(f"loading {len(paths)} package(s)")
        packages = load_packages(paths, installed=installed, checks=FORMULA_CHECKS)
        actions = _actions(packages, store.installed_versions(conn))
        merged = {**installed, **{p.code: p for p in packages}}
        registry = Registry.from_packages(merged.values())
        say("planning the schema sync")
        plan = plan_sync(conn, registry.model, drop_removed=drop_removed)
        refusals = tuple(check_plan(conn, plan))
        if dry_run:
            return InstallReport(tuple(packages), actions, plan, refusals, applied=False)
        say(f"applying {len(plan.ops)} schema change(s)")
        apply_plan(conn, plan, allow_lossy=allow_lossy)
        for spec in packages:
            store.record(conn, spec, actor=ctx.actor, now=ctx.now(), plan=plan.as_dicts())
            for dictionary in spec.dictionaries:
                sync_items(conn, dictionary.qualified_code, _dictionary_items(dictionary))
        seeds = _seeds(packages, actions, with_demo)
        say(f"writing seed data ({len(seeds)} file(s))")
        seeded = SeedLoader(registry, RecordService(registry)).load(conn, ctx, seeds)
    return InstallReport(tuple(packages), actions, plan, refusals, True, seeded)


def _actions(packages: Iterable[PackageSpec], versions: Mapping[str, str]) -> dict[str, str]:
    actions: dict[str, str] = {}
    issues: list[Issue] = []
    for spec in packages:
        old = versions.get(spec.code)
        if old is None:
            actions[spec.code] = "install"
        elif parse_version(spec.version) > parse_version(old):
            actions[spec.code] = "upgrade"
        elif parse_version(spec.version) == parse_version(old):
            actions[spec.code] = "reinstall"
        else:
            issues.append(Issue(
                code="downgrade", file="package.yaml", path="$.version",
                message=Text(
                    f"已安装 {spec.code} {old}，不能降级到 {spec.version}",
                    f"{spec.code} {old} is installed; cannot downgrade to {spec.version}")))
    if issues:
        raise InvalidPackage(issues)
    return actions


def _seeds(packages: Iterable[PackageSpec], actions: Mapping[str, str],
           with_demo: bool) -> list[SeedSpec]:
    seeds: list[SeedSpec] = []
    for spec in packages:
        seeds.extend(spec.seeds)
        # demo rows are examples, not reference data: only on a first install
        if with_demo and actions[spec.code] == "install":
            seeds.extend(spec.demo)
    return seeds


def _dictionary_items(spec: DictionarySpec) -> list[DictionaryItem]:
    return [
        DictionaryItem(code=i.code, name_zh=i.label.zh, name_en=i.label.en,
                       parent=i.parent, sort=i.sort, valid_from=i.valid_from,
                       valid_to=i.valid_to, active=i.active)
        for i in spec.items
    ]
