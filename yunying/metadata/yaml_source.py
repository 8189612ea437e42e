"""YAML package files → JSON-ready documents with line numbers (metadata layer).

PyYAML composes the node tree; a small walk then builds plain JSON values
(dicts, lists, str, int, float, bool, None) and remembers the line of every
node under its JSON path, so an issue at ``$.fields[2].length`` can name the
line of that node or of its nearest parent.

Scalars follow the YAML 1.2 core schema rather than PyYAML's YAML 1.1 one:
only ``true``/``false`` are booleans (``no``, ``on``, ``Y`` stay strings),
numbers with leading zeros stay strings (``0101`` is a code, not octal 65),
and ``2020-01-01`` is a date — stored in the document as the ISO string
``"2020-01-01"`` so documents stay JSON. Mapping keys are always strings.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from types import MappingProxyType
from typing import Any, Mapping

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import BaseResolver
from yaml.scanner import Scanner

from yunying.metadata.issues import Issue, json_path
from yunying.platform.i18n import Text

__all__ = ["Source", "parse_yaml", "MAX_NODES"]

#: a document with more nodes than this (after alias expansion) is refused,
#: which also stops "billion laughs" alias bombs.
MAX_NODES = 200_000

_CORE = "tag:yaml.org,2002:"


class _CoreResolver(BaseResolver):
    """Implicit scalar tags of the YAML 1.2 core schema (plus dates)."""


_CoreResolver.add_implicit_resolver(
    _CORE + "bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
_CoreResolver.add_implicit_resolver(
    _CORE + "null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""])
_CoreResolver.add_implicit_resolver(
    _CORE + "int", re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$"), list("-+0123456789"))
_CoreResolver.add_implicit_resolver(
    _CORE + "float",
    re.compile(r"^[-+]?(?:(?:0|[1-9][0-9]*)(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?|\.[0-9]+)$"),
    list("-+0123456789."))
_CoreResolver.add_implicit_resolver(
    _CORE + "timestamp",
    re.compile(r"""^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?
                    |[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?
                     (?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9]
                     (?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$""",
               re.X),
    list("0123456789"))


class _PyLoader(Reader, Scanner, Parser, Composer, SafeConstructor, _CoreResolver):
    def __init__(self, stream: bytes | str) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        _CoreResolver.__init__(self)


if getattr(yaml, "__with_libyaml__", False):  # libyaml parses ~10x faster
    from yaml.cyaml import CParser  # type: ignore[attr-defined]

    class _CLoader(CParser, SafeConstructor, _CoreResolver):  # type: ignore[misc]
        def __init__(self, stream: bytes | str) -> None:
            CParser.__init__(self, stream)
            SafeConstructor.__init__(self)
            _CoreResolver.__init__(self)

    _Loader: type = _CLoader
else:  # pragma: no cover - PyYAML built without libyaml
    _Loader = _PyLoader


@dataclass(frozen=True)
class Source:
    """One parsed file: its JSON-ready ``data`` and the line of each path."""

    file: str
    data: Any
    lines: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))

    def line(self, path: str) -> int | None:
        """Line of ``path``, or of its nearest parent that has one."""
        while True:
            if path in self.lines:
                return self.lines[path]
            if path in ("$", ""):
                return None
            path = _parent(path)

    def issue(self, code: str, path: str, message: Text, *,
              package: str | None = None) -> Issue:
        return Issue(code=code, message=message, file=self.file, path=path,
                     line=self.line(path), package=package)


def _parent(path: str) -> str:
    cut = max(path.rfind("."), path.rfind("["))
    return path[:cut] if cut > 0 else "$"


def parse_yaml(raw: bytes | str, file: str) -> tuple[Source | None, list[Issue]]:
    """Parse one YAML file. Returns the source (``None`` on a syntax error)
    and the issues found (``yaml_syntax``, located by line)."""
    try:
        loader = _Loader(raw)
        node = loader.get_single_node()
    except yaml.YAMLError as exc:
        return None, [_syntax_issue(file, exc)]
    walk = _Walk(loader, file)
    data = walk.value(node, []) if node is not None else None
    loader.dispose()
    return Source(file, data, MappingProxyType(walk.lines)), walk.issues


def _syntax_issue(file: str, exc: yaml.YAMLError) -> Issue:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    if context:
        problem = f"{context}, {problem}"
    if isinstance(exc, yaml.reader.ReaderError):
        problem = f"not valid UTF-8 / UTF-16 text ({exc.reason})"
    if mark is None:
        return Issue("yaml_syntax", Text(f"YAML 语法错误：{problem}",
                                         f"YAML syntax error: {problem}"), file)
    line, column = mark.line + 1, mark.column + 1
    return Issue("yaml_syntax", Text(
        f"YAML 语法错误（第 {line} 行第 {column} 列）：{problem}",
        f"YAML syntax error at line {line}, column {column}: {problem}"),
        file, line=line)


class _Walk:
    """Builds JSON values from a node tree, recording lines and issues."""

    def __init__(self, loader: Any, file: str) -> None:
        self._loader = loader
        self._file = file
        self._stack: set[int] = set()
        self._count = 0
        self.lines: dict[str, int] = {}
        self.issues: list[Issue] = []

    def _issue(self, node: Node, path: str, zh: str, en: str) -> None:
        line = node.start_mark.line + 1
        self.issues.append(Issue("yaml_syntax", Text(zh, en), self._file, path, line))

    def value(self, node: Node, parts: list[str | int]) -> Any:
        path = json_path(parts)
        self.lines.setdefault(path, node.start_mark.line + 1)
        self._count += 1
        if self._count > MAX_NODES or id(node) in self._stack:
            if self._count == MAX_NODES + 1 or id(node) in self._stack:
                self._issue(node, path, "文档过大或含有递归别名",
                            "document too large or has a recursive alias")
            return None
        if isinstance(node, ScalarNode):
            return self._scalar(node, path)
        self._stack.add(id(node))
        try:
            if isinstance(node, MappingNode):
                return self._mapping(node, parts)
            return [self.value(item, [*parts, i]) for i, item in enumerate(node.value)]
        finally:
            self._stack.discard(id(node))

    def _mapping(self, node: MappingNode, parts: list[str | int]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                self._issue(key_node, json_path(parts), "映射的键必须是字符串",
                            "mapping keys must be plain strings")
                continue
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            child = [*parts, key]
            if key in seen:
                self._issue(key_node, json_path(child),
                            f"重复的键 {key!r}（第 {seen[key]} 行已出现）",
                            f"duplicate key {key!r} (already on line {seen[key]})")
            seen[key] = line
            self.lines[json_path(child)] = line
            result[key] = self.value(value_node, child)
        return result

    def _scalar(self, node: ScalarNode, path: str) -> Any:
        try:
            value = self._loader.construct_object(node, deep=True)
        except ValueError:  # e.g. 2020-13-01 looks like a date but is not one
            return str(node.value)
        except yaml.YAMLError as exc:
            problem = getattr(exc, "problem", None) or str(exc)
            self._issue(node, path, f"无法读取的值：{problem}", f"unreadable value: {problem}")
            return None
        return self._json(value, node, path)

    def _json(self, value: Any, node: Node, path: str) -> Any:
        if isinstance(value, datetime | date):
            return value.isoformat()
        if isinstance(value, float) and not math.isfinite(value):
            self._issue(node, path, "数值必须是有限数", "numbers must be finite")
            return None
        if value is None or isinstance(value, str | int | float | bool):
            return value
        self._issue(node, path, f"不支持的值类型 {type(value).__name__}",
                    f"unsupported value of type {type(value).__name__}")
        return None
