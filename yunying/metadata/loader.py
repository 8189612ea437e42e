"""Loading configuration packages: read, parse, validate, cross-check, build
(metadata layer).

A package is a folder or a ``.zip`` of it (the zip's root or its single
top-level directory). Loading reads every file, parses the YAML with line
numbers, validates each document against its JSON Schema, checks references
across files and packages, and builds the frozen :class:`PackageSpec`. Every
issue of every package is collected and raised together as
:class:`InvalidPackage`: first the file-level ones (YAML and schema, file by
file), then the cross-reference ones (with the findings of the caller's
``checks``), then dependency cycles.

``checks`` is how upper layers add validation without metadata importing
them: each :data:`PackageCheck` receives a built package spec and every
known package, and returns :class:`Finding` values naming a document and a
JSON path; the loader, which has the sources, turns them into located issues
(file, line, path). The runtime's formula check is one.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Callable, Iterable, Mapping, Sequence

from yunying.metadata.builder import package_from_documents, with_seed_keys
from yunying.metadata.crossref import Known, PackageSources, check_package
from yunying.metadata.dependents import check_dependents
from yunying.metadata.issues import Issue, path_key
from yunying.metadata.schema_check import SchemaChecker
from yunying.metadata.spec import PackageSpec, qualify
from yunying.metadata.versions import dependency_order
from yunying.metadata.yaml_source import Source, parse_yaml
from yunying.platform.errors import InvalidPackage
from yunying.platform.i18n import Text

__all__ = ["load_package", "load_packages", "read_package_files", "package_checksum",
           "Finding", "PackageCheck", "MANIFEST", "MAX_FILE_BYTES"]

MANIFEST = "package.yaml"
#: folder → kind of the YAML files directly inside it, in loading order
#: (roles name entities and dictionaries; workflows name entities, roles and
#: posting rules; indicators name entities and other indicators; org data
#: names roles).
FOLDERS: Mapping[str, str] = MappingProxyType({
    "dictionaries": "dictionary", "entities": "entity", "roles": "role",
    "workflows": "workflow", "posting": "posting", "indicators": "indicator",
    "generators": "generator", "seed": "seed", "demo": "demo", "org": "org"})
#: kinds whose files are keyed by path (the others by their ``code``).
_BY_FILE = ("seed", "demo", "org")
#: a zip member larger than this (uncompressed) is refused.
MAX_FILE_BYTES = 8 * 1024 * 1024
_IGNORED = ("__MACOSX", "__pycache__")
_MAX_PATH = 64
_EMPTY: Mapping[str, PackageSpec] = MappingProxyType({})


@dataclass(frozen=True)
class Finding:
    """A problem a package check found, located in one of the package's documents.

    ``kind`` is the document kind (``package``, ``entity``, ``dictionary``,
    ``role``, ``workflow``, ``posting``, ``indicator``, ``seed``, ``demo`` or
    ``org``),
    ``item`` its code (the file for seed, demo and org), ``path`` the JSON
    path in it (``$.fields[3].formula``).
    """

    code: str
    message: Text
    kind: str
    item: str
    path: str = "$"


#: An extra validation of a built package: ``check(spec, packages)`` gets one
#: package and every package known to the load (installed and loaded, by code).
PackageCheck = Callable[[PackageSpec, Mapping[str, PackageSpec]], Iterable[Finding]]


def load_package(path: str | os.PathLike, *,
                 available: Mapping[str, PackageSpec] = _EMPTY,
                 checks: Sequence[PackageCheck] = ()) -> PackageSpec:
    """Load and validate one package; ``available`` resolves ``requires`` and
    references into other packages. Raises InvalidPackage with every issue."""
    return load_packages([path], installed=available, checks=checks)[0]


def load_packages(paths: Sequence[str | os.PathLike], *,
                  installed: Mapping[str, PackageSpec] = _EMPTY,
                  checks: Sequence[PackageCheck] = ()) -> list[PackageSpec]:
    """Load several packages that resolve against each other and ``installed``.

    ``checks`` run on every loaded package whose documents built; their
    findings become issues like the cross-reference ones. Returns the
    packages in dependency order (required packages first). Raises
    InvalidPackage with every issue of every package.
    """
    checker = SchemaChecker()
    parsed = [_parse(path, checker) for path in paths]
    cross = _drop_duplicate_packages(parsed)
    loaded = {p.spec.code: (p.spec, p) for p in parsed if p.spec is not None}
    known = Known(
        packages=MappingProxyType({**installed, **{c: s for c, (s, _) in loaded.items()}}),
        broken_packages=frozenset(p.broken_code for p in parsed if p.broken_code),
        broken_items=frozenset(item for p in parsed for item in p.broken_items),
        broken_org=frozenset(p.label for p in parsed if p.broken_org))
    for spec, package in loaded.values():
        cross += package.cross_issues(spec, known, checks)
    cross += check_dependents({c: (s, p.sources.manifest) for c, (s, p) in loaded.items()},
                              installed.values())
    order, cycles = dependency_order(
        {code: [r.package for r in spec.requires] for code, (spec, _) in loaded.items()})
    cross += [_cycle_issue(cycle, loaded[cycle[0]][1]) for cycle in cycles]
    issues = [issue for p in parsed for issue in p.issues] + cross
    if issues:
        raise InvalidPackage(issues)
    entities = {e.qualified_code: e for spec in known.packages.values() for e in spec.entities}
    return [with_seed_keys(loaded[code][0], entities) for code in order]


@dataclass
class _Parsed:
    """One package after parsing and schema validation."""

    label: str
    issues: list[Issue] = field(default_factory=list)   # file-level: read, YAML, schema
    spec: PackageSpec | None = None
    sources: PackageSources = None  # type: ignore[assignment]
    duplicates: list[Issue] = field(default_factory=list)
    broken_code: str | None = None
    broken_items: set[tuple[str, str]] = field(default_factory=set)
    broken_org: bool = False
    files: tuple[str, ...] = ()

    def cross_issues(self, spec: PackageSpec, known: Known,
                     checks: Sequence[PackageCheck] = ()) -> list[Issue]:
        found = self.duplicates + check_package(spec, self.sources, known)
        for check in checks:
            found += [self.locate(finding) for finding in check(spec, known.packages)]
        rank = {file: n for n, file in enumerate(self.files)}
        return sorted(found, key=lambda i: (rank.get(i.file, 0), i.line or 0, path_key(i.path)))

    def locate(self, finding: Finding) -> Issue:
        """The issue of a check's finding, at its document's file and line."""
        sources = self.sources
        documents: Mapping[str, Mapping[str, Source]] = {
            "package": {sources.code: sources.manifest},
            "entity": sources.entities, "dictionary": sources.dictionaries,
            "role": sources.roles, "seed": sources.seeds, "demo": sources.seeds,
            "org": sources.org, "workflow": sources.workflows, "posting": sources.postings,
            "indicator": sources.indicators, "generator": sources.generators}
        source = documents.get(finding.kind, {}).get(finding.item)
        if source is None:  # an item the package lacks: the manifest stands for it
            return sources.manifest.issue(finding.code, "$", finding.message,
                                          package=sources.code)
        return source.issue(finding.code, finding.path, finding.message, package=sources.code)


def _parse(path: str | os.PathLike, checker: SchemaChecker) -> _Parsed:
    files, checksum, read_issues = read_package_files(path)
    ordered = _item_files(files)
    result = _Parsed(label=_label(path), issues=list(read_issues),
                     files=tuple(file for file, _ in ordered))
    if not read_issues and MANIFEST not in files:
        result.issues.append(Issue("missing_manifest", Text(
            f"{os.fspath(path)} 中没有 {MANIFEST}", f"no {MANIFEST} in {os.fspath(path)}"),
            MANIFEST))
    valid: dict[str, list[Source]] = {kind: [] for kind in ("package", *FOLDERS.values())}
    for file, kind in ordered:
        if len(file) > _MAX_PATH:  # the metadata store keys seed files by path
            result.issues.append(Issue("schema", Text(
                f"文件路径超过 {_MAX_PATH} 个字符", f"file path longer than {_MAX_PATH} characters"),
                file))
            continue
        source = _validated(files[file], file, kind, checker, result)
        if source is not None:
            valid[kind].append(source)
    if valid["package"]:
        result.label = valid["package"][0].data["code"]
        _build(result, valid, checksum)
    result.issues = [i if i.package else replace(i, package=result.label) for i in result.issues]
    return result


def _validated(raw: bytes, file: str, kind: str, checker: SchemaChecker,
               result: _Parsed) -> Source | None:
    """The file's source when its YAML and schema are valid; else records why."""
    source, issues = parse_yaml(raw, file)
    if source is not None:
        issues += checker.check(kind, source)
    result.issues += issues
    if source is not None and not issues:
        return source
    data = source.data if source is not None else None
    code = data.get("code") if isinstance(data, dict) else None
    if isinstance(code, str) and kind == "package":
        result.broken_code = code
    elif isinstance(code, str) and kind in ("entity", "dictionary", "role", "workflow",
                                            "posting", "indicator"):
        result.broken_items.add((kind, code))  # qualified once the package code is known
    elif kind == "org":
        result.broken_org = True
    return None


def _build(result: _Parsed, valid: Mapping[str, list[Source]], checksum: str) -> None:
    manifest = valid["package"][0]
    code = manifest.data["code"]
    result.duplicates = []
    kept: dict[str, dict[str, Source]] = {}
    for kind in FOLDERS.values():
        if kind in _BY_FILE:
            kept[kind] = {s.file: s for s in valid[kind]}
        else:
            kept[kind], duplicates = _unique_items(valid[kind], package=code)
            result.duplicates += duplicates
    result.broken_items = {(kind, qualify(code, item)) for kind, item in result.broken_items}
    result.sources = PackageSources(
        code, manifest, kept["entity"], kept["dictionary"], {**kept["seed"], **kept["demo"]},
        kept["role"], kept["org"], kept["workflow"], kept["posting"], kept["indicator"],
        generators=kept["generator"])
    result.spec = package_from_documents({
        "package": manifest.data,
        **{kind: {key: s.data for key, s in sources.items()} for kind, sources in kept.items()},
    }, checksum=checksum)


def _unique_items(sources: Iterable[Source], *, package: str | None
                 ) -> tuple[dict[str, Source], list[Issue]]:
    """Keep the first file of each code; later files with the code are
    ``duplicate_code`` issues."""
    kept: dict[str, Source] = {}
    issues: list[Issue] = []
    for source in sources:
        code = source.data["code"]
        if code in kept:
            first = kept[code].file
            issues.append(source.issue("duplicate_code", "$.code", Text(
                f"编码 {code} 已在 {first} 中使用", f"code {code!r} is already used in {first}"),
                package=package))
        else:
            kept[code] = source
    return kept, issues


def _drop_duplicate_packages(parsed: Iterable[_Parsed]) -> list[Issue]:
    """Two packages with one code cannot be loaded together: keep the first."""
    seen: dict[str, str] = {}
    issues: list[Issue] = []
    for package in parsed:
        if package.spec is None:
            continue
        code = package.spec.code
        if code in seen:
            issues.append(package.sources.manifest.issue("duplicate_code", "$.code", Text(
                f"包编码 {code} 重复：已加载 {seen[code]}",
                f"package code {code!r} is loaded twice (also version {seen[code]})"),
                package=code))
            package.spec = None
        else:
            seen[code] = package.spec.version
    return issues


def _cycle_issue(cycle: list[str], first: _Parsed) -> Issue:
    ring = " → ".join([*cycle, cycle[0]])
    nxt = cycle[1] if len(cycle) > 1 else cycle[0]
    return first.sources.manifest.issue(
        "dependency_cycle", f"$.requires.{nxt}",
        Text(f"包之间的依赖形成循环：{ring}", f"packages require each other in a cycle: {ring}"),
        package=cycle[0])


# -- reading files -------------------------------------------------------------

def read_package_files(path: str | os.PathLike
                       ) -> tuple[dict[str, bytes], str, list[Issue]]:
    """The files of a package folder or zip (relative path → bytes), their
    checksum, and the issues met reading them (``invalid_archive``,
    ``missing_manifest`` when the path does not exist)."""
    where = Path(path)
    files: dict[str, bytes] = {}
    issues: list[Issue] = []
    if where.is_dir():
        files = _read_folder(where)
    elif where.is_file():
        files, issues = _read_zip(where)
    else:
        issues = [Issue("missing_manifest", Text(
            f"找不到配置包 {os.fspath(path)}", f"no package at {os.fspath(path)}"), MANIFEST)]
    return files, package_checksum(files), issues


def package_checksum(files: Mapping[str, bytes]) -> str:
    """sha256 over the sorted relative paths and the bytes of each file."""
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(f"{name}\0{len(files[name])}\0".encode("utf-8"))
        digest.update(files[name])
    return digest.hexdigest()


def _ignored(relative: str) -> bool:
    return any(part.startswith(".") or part in _IGNORED for part in relative.split("/"))


def _read_folder(root: Path) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not _ignored(d))
        for name in names:
            full = Path(folder) / name
            relative = full.relative_to(root).as_posix()
            if not _ignored(relative):
                files[relative] = full.read_bytes()
    return files


def _read_zip(path: Path) -> tuple[dict[str, bytes], list[Issue]]:
    try:
        with zipfile.ZipFile(path) as archive:
            members = [m for m in archive.infolist()
                       if not m.is_dir() and not _ignored(m.filename)]
            prefix = _zip_root([m.filename for m in members])
            files: dict[str, bytes] = {}
            for member in members:
                if member.filename.startswith(prefix):
                    files[member.filename[len(prefix):]] = _read_member(archive, member)
            return files, []
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, RuntimeError,
            EOFError, NotImplementedError, ValueError, zlib.error) as exc:
        return {}, [Issue("invalid_archive", Text(
            f"{path.name} 不是配置包目录，也不是可读的 zip 文件：{exc}",
            f"{path.name} is neither a package folder nor a readable zip file: {exc}"),
            path.name)]


def _zip_root(names: list[str]) -> str:
    """'' when the zip holds the package at its root, else its single top folder."""
    if MANIFEST in names:
        return ""
    tops = {name.split("/", 1)[0] for name in names}
    if len(tops) == 1 and all("/" in name for name in names):
        return f"{tops.pop()}/"
    return ""


def _read_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> bytes:
    with archive.open(member) as stream:
        data = stream.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise ValueError(f"{member.filename} is larger than {MAX_FILE_BYTES} bytes")
    return data


def _item_files(files: Mapping[str, bytes]) -> list[tuple[str, str]]:
    """(file, kind) of every package document, manifest first, then by folder."""
    found = [(MANIFEST, "package")] if MANIFEST in files else []
    for folder, kind in FOLDERS.items():
        found += [(name, kind) for name in sorted(files)
                  if name.startswith(f"{folder}/") and name.count("/") == 1
                  and name.endswith((".yaml", ".yml"))]
    return found


def _label(path: str | os.PathLike) -> str:
    name = Path(path).name
    return name[:-4] if name.lower().endswith(".zip") else name
