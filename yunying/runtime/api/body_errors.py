"""Request-body errors in one shape (runtime layer, HTTP edge).

Request schemas give every marshmallow message as a code
(``kind|param|param``); :func:`problems` loads a body and collects the codes
per JSON path (``approvers.review[2]``), and :func:`described` turns them into
the ``details["fields"]`` of an error plus a bilingual summary naming the
first five paths. The org API raises them as a 422 ``validation_failed``,
the workflow API as a 400 ``invalid_body``.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from marshmallow import Schema, ValidationError

from yunying.platform.i18n import Text

__all__ = ["problems", "described"]

_SHOWN = 5


def problems(schema: type[Schema], body: Mapping[str, Any], *,
             transparent: tuple[str, ...] = ("_schema", "value")
             ) -> tuple[dict[str, Any] | None, dict[str, list[str]]]:
    """``(loaded, {})`` or ``(None, {path: [codes]})``. Keys in
    ``transparent`` (marshmallow's own nesting) do not add to a path."""
    try:
        return schema().load(body), {}
    except ValidationError as exc:
        found: dict[str, list[str]] = {}
        _flatten(exc.messages, "", found, transparent)
        return None, found


def described(found: Mapping[str, list[str]], messages: Mapping[str, Text], *,
              fallback: Callable[[str], Text] = lambda kind: Text(kind, kind),
              shown: Callable[[str], str] = lambda path: path
              ) -> tuple[Text, dict[str, list[dict[str, Any]]]]:
    """The summary and the per-path details of ``found``."""
    def message(code: str) -> Text:
        kind, *params = code.split("|")
        template = messages.get(kind) or fallback(kind)
        return Text(template.zh.format(*params), template.en.format(*params))

    details = {shown(path): [{"code": code.split("|")[0], "message": message(code).as_dict(),
                              "params": {}} for code in codes]
               for path, codes in found.items()}
    first = [(shown(path), message(codes[0])) for path, codes in sorted(found.items())[:_SHOWN]]
    summary = Text("请求内容有误：" + "；".join(f"{path} {m.zh}" for path, m in first),
                   "invalid request: " + "; ".join(f"{path} {m.en}" for path, m in first))
    return summary, details


def _flatten(messages: Any, path: str, out: dict[str, list[str]],
             transparent: tuple[str, ...]) -> None:
    if isinstance(messages, list):
        out.setdefault(path or "$", []).extend(str(m) for m in messages)
        return
    for key, value in messages.items():
        if key in transparent:
            _flatten(value, path, out, transparent)
        elif isinstance(key, int):
            _flatten(value, f"{path}[{key}]", out, transparent)
        else:
            _flatten(value, f"{path}.{key}" if path else str(key), out, transparent)
