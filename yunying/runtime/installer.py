"""Package installation and upgrade (runtime layer).

One install is one transaction: load and validate the packages (every
formula type-checked too), plan the schema sync, refuse lossy changes, apply
the plan, record the metadata version, sync dictionary items, apply the
packages' org data and write seed rows through the record service. Any
failure rolls everything back, DDL included.

The steps after the schema plan run in this order: metadata versions and
dictionaries, access policies (role grants in org data need the roles), org
data, seed rows (they may name org units), and last the install's audit
events.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping, Sequence

from sqlalchemy import Connection

from yunying.metadata.indicator_history import changed_versions
from yunying.metadata.issues import Issue
from yunying.metadata.loader import load_packages
from yunying.metadata.spec import DictionarySpec, OrgDataSpec, PackageSpec, SeedSpec
from yunying.metadata.store import MetadataStore
from yunying.metadata.versions import parse_version
from yunying.platform.access import AccessControl
from yunying.platform.audit import audit_install
from yunying.platform.context import Context
from yunying.platform.database import Database
from yunying.platform.dictionaries import DictionaryItem, sync_items
from yunying.platform.errors import InvalidPackage
from yunying.platform.i18n import Text
from yunying.runtime.access.policy_rows import sync_policies
from yunying.runtime.formula.package_check import FORMULA_CHECKS
from yunying.runtime.org_seed import OrgSeedReport, apply_org_data
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
    org: OrgSeedReport | None = None    # what the packages' org data wrote


@dataclass(frozen=True)
class _Install:
    """One install being applied: what every step after the schema sync needs."""

    conn: Connection
    ctx: Context
    access: AccessControl
    packages: tuple[PackageSpec, ...]
    installed: Mapping[str, PackageSpec]     # the versions installed before
    actions: Mapping[str, str]
    registry: Registry
    with_demo: bool
    say: Progress


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
        before = store.installed_versions(conn)
        say(f"loading {len(paths)} package(s)")
        packages = load_packages(paths, installed=installed, checks=FORMULA_CHECKS)
        actions = _actions(packages, before)
        _refuse_changed_indicators(packages, installed)
        merged = {**installed, **{p.code: p for p in packages}}
        registry = Registry.from_packages(merged.values())
        say("planning the schema sync")
        plan = plan_sync(conn, registry.model, drop_removed=drop_removed)
        refusals = tuple(check_plan(conn, plan))
        if dry_run:
            return InstallReport(tuple(packages), actions, plan, refusals, applied=False)
        say(f"applying {len(plan.ops)} schema change(s)")
        apply_plan(conn, plan, allow_lossy=allow_lossy)
        run = _Install(conn, ctx, AccessControl(db), tuple(packages), installed, actions,
                       registry, with_demo, say)
        _record_metadata(run, plan)
        say("syncing access policies")
        sync_policies(conn, ctx, run.access, registry)  # before org data grants roles
        org = _org_data(run)
        seeded = _seed_rows(run)
        audit_install(conn, ctx, packages, actions, before)
    return InstallReport(tuple(packages), actions, plan, refusals, True, seeded, org)


def _record_metadata(run: _Install, plan: Plan) -> None:
    """A new metadata version per package, and its dictionaries' items."""
    store = MetadataStore()
    for spec in run.packages:
        store.record(run.conn, spec, actor=run.ctx.actor, now=run.ctx.now(),
                     plan=plan.as_dicts())
        for dictionary in spec.dictionaries:
            sync_items(run.conn, dictionary.qualified_code, _dictionary_items(dictionary))


def _org_data(run: _Install) -> OrgSeedReport | None:
    """Apply the packages' org documents (demo ones only like demo seed rows)."""
    documents = _org_documents(run.packages, run.actions, run.with_demo)
    if not documents:
        return None
    run.say(f"applying org data ({len(documents)} document(s))")
    previous = [doc for spec in run.packages if spec.code in run.installed
                for doc in run.installed[spec.code].org if not doc.demo]
    report = apply_org_data(run.conn, run.ctx, documents, access=run.access,
                            previous=previous)
    run.say(f"org data: {report.summary()}")
    for code in report.new_users:
        run.say(f"user {code} was created without a password: set one with "
                f"`yunying user set-password {code}`")
    return report


def _seed_rows(run: _Install) -> dict[str, int]:
    seeds = _seeds(run.packages, run.actions, run.with_demo)
    run.say(f"writing seed data ({len(seeds)} file(s))")
    return SeedLoader(run.registry, RecordService(run.registry)).load(run.conn, run.ctx, seeds)


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


def _refuse_changed_indicators(packages: Iterable[PackageSpec],
                               installed: Mapping[str, PackageSpec]) -> None:
    """Published indicator versions must come back unchanged (see
    :mod:`yunying.metadata.indicator_history`)."""
    issues = [issue for spec in packages if spec.code in installed
              for issue in changed_versions(installed[spec.code], spec)]
    if issues:
        raise InvalidPackage(issues)


def _seeds(packages: Iterable[PackageSpec], actions: Mapping[str, str],
           with_demo: bool) -> list[SeedSpec]:
    seeds: list[SeedSpec] = []
    for spec in packages:
        seeds.extend(spec.seeds)
        # demo rows are examples, not reference data: only on a first install
        if with_demo and actions[spec.code] == "install":
            seeds.extend(spec.demo)
    return seeds


def _org_documents(packages: Iterable[PackageSpec], actions: Mapping[str, str],
                   with_demo: bool) -> list[OrgDataSpec]:
    """Every package's org documents; demo ones with demo data on a first install."""
    return [doc for spec in packages for doc in spec.org
            if not doc.demo or (with_demo and actions[spec.code] == "install")]


def _dictionary_items(spec: DictionarySpec) -> list[DictionaryItem]:
    return [
        DictionaryItem(code=i.code, name_zh=i.label.zh, name_en=i.label.en,
                       parent=i.parent, sort=i.sort, valid_from=i.valid_from,
                       valid_to=i.valid_to, active=i.active)
        for i in spec.items
    ]
