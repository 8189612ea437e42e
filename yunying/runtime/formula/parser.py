"""Parsing formulas: Lark LALR grammar → frozen AST (runtime layer).

The grammar (``formula.lark``) is loaded once per process; the parser is
stateless, so one instance serves every thread. ``parse`` never raises
anything but :class:`FormulaError`: over-long input and too-deep nesting are
``too_complex``, everything Lark rejects is ``syntax`` with its position and
what was expected, in zh-CN and en.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from importlib import resources
from typing import Any

from lark import Lark, Token, Transformer
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from yunying.runtime.formula import ast
from yunying.runtime.formula.ast import Span
from yunying.runtime.formula.errors import WHOLE, FormulaError

__all__ = ["parse", "MAX_LENGTH", "MAX_DEPTH", "MAX_DIGITS"]

MAX_LENGTH = 10_000
MAX_DEPTH = 100
MAX_DIGITS = 40          # significant digits of a number literal
MAX_EXPONENT = 100       # |adjusted exponent| of a number literal

_OPERATOR = {"==": "=", "<>": "!="}
_ESCAPES = {"'": "'", '"': '"', "\\": "\\", "n": "\n"}
_ESCAPE = re.compile(r"\\(.)", re.S)

#: terminals as people know them, for "expected …" in syntax errors.
_TERMINAL_WORDS = {
    "NUMBER": ("数字", "a number"), "STRING": ("文本", "a text"),
    "NAME": ("名称", "a name"), "BRACKETED": ("名称", "a name"),
    "LPAR": ("“(”", "'('"), "RPAR": ("“)”", "')'"), "COMMA": ("“,”", "','"),
    "COMP_OP": ("比较运算符", "a comparison"), "ADD_OP": ("“+”或“-”", "'+' or '-'"),
    "MUL_OP": ("“*”或“/”", "'*' or '/'"), "AMP": ("“&”", "'&'"), "CARET": ("“^”", "'^'"),
    "AND": ("AND", "AND"), "OR": ("OR", "OR"), "NOT": ("NOT", "NOT"), "IN": ("IN", "IN"),
    "IS": ("IS", "IS"), "NULL": ("NULL", "NULL"), "BETWEEN": ("BETWEEN", "BETWEEN"),
    "TRUE": ("TRUE", "TRUE"), "FALSE": ("FALSE", "FALSE"), "DOT": ("“.”", "'.'"),
    "AT": ("“@”", "'@'"), "PERCENT": ("“%”", "'%'"), "$END": ("公式结尾", "the end of the formula"),
}
#: a value may start with any of these: say "a value" instead of listing them.
_VALUE_STARTS = {"NUMBER", "STRING", "NAME", "BRACKETED", "LPAR", "TRUE", "FALSE", "NULL",
                 "ADD_OP", "NOT", "AT"}

# what the parenthesis pre-scan skips: strings, bracketed names, comments
_PAREN_SCAN = re.compile(r"""'(?:\\.|[^'\\])*'|"(?:\\.|[^"\\])*"|\[[^\[\]\n]+\]|//[^\n]*|[(（]|[)）]""")


def _span(token: Token) -> Span:
    return Span(token.line, token.column, token.end_line, token.end_column,
                token.start_pos, token.end_pos)


def _node_span(item: Any) -> Span:
    return _span(item) if isinstance(item, Token) else item.span


def _cover(first: Any, last: Any) -> Span:
    return _node_span(first).cover(_node_span(last))


class _Builder(Transformer):
    """Tokens and subtrees → AST nodes. Stateless: one instance for all parses."""

    def number(self, items: list) -> ast.Number:
        (token,) = items
        return ast.Number(_decimal(token), _span(token))

    def percent(self, items: list) -> ast.Number:
        token, sign = items
        return ast.Number(_decimal(token) / 100, _cover(token, sign), percent=True)

    def string(self, items: list) -> ast.String:
        (token,) = items
        return ast.String(_unescape(token), _span(token))

    def true(self, items: list) -> ast.Boolean:
        return ast.Boolean(True, _span(items[0]))

    def false(self, items: list) -> ast.Boolean:
        return ast.Boolean(False, _span(items[0]))

    def null(self, items: list) -> ast.Null:
        return ast.Null(_span(items[0]))

    def path(self, items: list) -> ast.Name:
        names = [t for t in items if t.type != "DOT"]
        spans = tuple(_span(t) for t in names)
        return ast.Name(tuple(_name(t) for t in names), spans[0].cover(spans[-1]), spans)

    def indicator(self, items: list) -> ast.Indicator:
        at, name = items
        return ast.Indicator(_name(name), _cover(at, name))

    def call(self, items: list) -> ast.Call:
        name, _lpar, args, rpar = items
        return ast.Call(str(name).upper(), tuple(args or ()), _cover(name, rpar), _span(name))

    def args(self, items: list) -> list:
        return [i for i in items if not (isinstance(i, Token) and i.type == "COMMA")]

    def group(self, items: list) -> Any:
        return items[1]

    def or_(self, items: list) -> ast.Binary:
        return self._binary(items, "OR")

    def and_(self, items: list) -> ast.Binary:
        return self._binary(items, "AND")

    def binary(self, items: list) -> ast.Binary:
        return self._binary(items, str(items[1]))

    def compare(self, items: list) -> ast.Binary:
        return self._binary(items, _OPERATOR.get(str(items[1]), str(items[1])))

    @staticmethod
    def _binary(items: list, op: str) -> ast.Binary:
        left, token, right = items
        return ast.Binary(op, left, right, _cover(left, right), _span(token))

    def not_(self, items: list) -> ast.Unary:
        token, operand = items
        return ast.Unary("NOT", operand, _cover(token, operand))

    def unary(self, items: list) -> ast.Unary:
        token, operand = items
        return ast.Unary(str(token), operand, _cover(token, operand))

    def in_(self, items: list) -> ast.In:
        operand, _in, _lpar, values, rpar = items
        return ast.In(operand, tuple(values), False, _cover(operand, rpar))

    def not_in(self, items: list) -> ast.In:
        operand, _not, _in, _lpar, values, rpar = items
        return ast.In(operand, tuple(values), True, _cover(operand, rpar))

    def between(self, items: list) -> ast.Between:
        operand, _between, low, _and, high = items
        return ast.Between(operand, low, high, _cover(operand, high))

    def is_null(self, items: list) -> ast.IsNull:
        return ast.IsNull(items[0], False, _cover(items[0], items[-1]))

    def is_not_null(self, items: list) -> ast.IsNull:
        return ast.IsNull(items[0], True, _cover(items[0], items[-1]))


class _LiteralError(Exception):
    """A literal the grammar accepts but the language does not (raised inside Lark)."""

    def __init__(self, token: Token, zh: str, en: str) -> None:
        super().__init__(en)
        self.token, self.zh, self.en = token, zh, en


def _decimal(token: Token) -> Decimal:
    text = str(token)
    try:
        value = Decimal(text)
    except InvalidOperation:  # pragma: no cover - the grammar only lets numbers through
        raise _LiteralError(token, f"无法识别的数字 {text}", f"cannot read the number {text}")
    digits = len(value.as_tuple().digits)
    if digits > MAX_DIGITS or abs(value.adjusted()) > MAX_EXPONENT:
        raise _LiteralError(
            token, f"数字 {text[:20]}… 超出范围（最多 {MAX_DIGITS} 位有效数字，数量级不超过 10^{MAX_EXPONENT}）",
            f"the number {text[:20]}… is out of range (at most {MAX_DIGITS} significant "
            f"digits and magnitudes up to 10^{MAX_EXPONENT})")
    return value


def _unescape(token: Token) -> str:
    body = str(token)[1:-1]

    def one(match: re.Match) -> str:
        char = match.group(1)
        if char not in _ESCAPES:
            raise _LiteralError(token, f"文本中的转义 \\{char} 无效（可用 \\' \\\" \\\\ \\n）",
                                f"invalid escape \\{char} in text (use \\' \\\" \\\\ \\n)")
        return _ESCAPES[char]

    return _ESCAPE.sub(one, body)


def _name(token: Token) -> str:
    text = str(token)
    return text[1:-1].strip() if token.type == "BRACKETED" else text


@lru_cache(maxsize=1)
def _parser() -> Lark:
    grammar = resources.files("yunying.runtime.formula").joinpath("formula.lark").read_text("utf-8")
    return Lark(grammar, parser="lalr", lexer="basic", transformer=_Builder(),
                maybe_placeholders=True, cache=False)


def parse(source: str) -> ast.Node:
    """Parse ``source`` into an AST; raises FormulaError (``syntax``/``too_complex``)."""
    if not isinstance(source, str):
        raise FormulaError.single("syntax", WHOLE, "公式必须是文本", "a formula must be text")
    if len(source) > MAX_LENGTH:
        raise FormulaError.single(
            "too_complex", WHOLE, f"公式过长（{len(source)} 个字符，最多 {MAX_LENGTH} 个）",
            f"the formula is too long ({len(source)} characters, at most {MAX_LENGTH})")
    if not source.strip():
        raise FormulaError.single("syntax", WHOLE, "公式为空", "the formula is empty")
    _check_parentheses(source)
    try:
        tree = _parser().parse(source)
    except UnexpectedInput as exc:
        raise _syntax_error(source, exc) from None
    except VisitError as exc:
        if isinstance(exc.orig_exc, _LiteralError):
            err = exc.orig_exc
            raise FormulaError.single("syntax", _span(err.token), err.zh, err.en) from None
        raise
    except _LiteralError as err:
        raise FormulaError.single("syntax", _span(err.token), err.zh, err.en) from None
    except LarkError as exc:  # pragma: no cover - any other Lark failure is still a syntax error
        raise FormulaError.single("syntax", WHOLE, f"公式无法解析：{exc}", f"cannot parse the formula: {exc}") from None
    _check_depth(tree)
    return tree


def _check_parentheses(source: str) -> None:
    depth = 0
    for match in _PAREN_SCAN.finditer(source):
        char = match.group()
        if char in "(（":
            depth += 1
            if depth > MAX_DEPTH:
                raise FormulaError.single(
                    "too_complex", _offset_span(source, match.start(), match.end()),
                    f"括号嵌套过深（最多 {MAX_DEPTH} 层）",
                    f"parentheses are nested too deeply (at most {MAX_DEPTH} levels)")
        elif char in ")）":
            depth = max(depth - 1, 0)


def _check_depth(tree: ast.Node) -> None:
    """Reject trees deeper than MAX_DEPTH (iteratively: the tree may be deep)."""
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise FormulaError.single(
                "too_complex", node.span,
                f"公式嵌套过深（最多 {MAX_DEPTH} 层运算或函数）；请拆分为多个计算字段或指标",
                f"the formula is nested too deeply (at most {MAX_DEPTH} levels of operators "
                f"or functions); split it into several computed fields or indicators")
        stack.extend((child, depth + 1) for child in ast.children(node))


def _offset_span(source: str, start: int, end: int) -> Span:
    line = source.count("\n", 0, start) + 1
    column = start - (source.rfind("\n", 0, start) + 1) + 1
    return Span(line, column, line, column + (end - start), start, end)


def _syntax_error(source: str, exc: UnexpectedInput) -> FormulaError:
    if isinstance(exc, UnexpectedToken) and exc.token.type != "$END":
        token = exc.token
        span = _span(token)
        shown = str(token)[:30]
        zh_found, en_found = f"“{shown}”", repr(shown)
    else:
        pos = getattr(exc, "pos_in_stream", None)
        if pos is None or isinstance(exc, UnexpectedEOF) or (
                isinstance(exc, UnexpectedToken) and exc.token.type == "$END"):
            pos = len(source)
        span = _offset_span(source, pos, min(pos + 1, len(source)) if pos < len(source) else pos)
        if pos >= len(source):
            zh_found, en_found = "公式结尾", "the end of the formula"
        else:
            char = source[pos]
            zh_found, en_found = f"字符“{char}”", f"the character {char!r}"
            if char in "'\"":
                return FormulaError.single("syntax", span, "文本缺少结尾引号",
                                           "the text has no closing quote")
    expected = _expected(exc)
    if expected:
        zh_exp, en_exp = expected
        return FormulaError.single("syntax", span, f"此处不应出现{zh_found}，应为{zh_exp}",
                                   f"unexpected {en_found}; expected {en_exp}")
    return FormulaError.single("syntax", span, f"此处不应出现{zh_found}", f"unexpected {en_found}")


def _expected(exc: UnexpectedInput) -> tuple[str, str] | None:
    names = set(getattr(exc, "expected", None) or getattr(exc, "allowed", None) or ())
    if isinstance(exc, UnexpectedCharacters) and not names:
        return None
    words_zh: list[str] = []
    words_en: list[str] = []
    if names & _VALUE_STARTS and len(names & _VALUE_STARTS) >= 3:
        words_zh.append("一个值")
        words_en.append("a value")
        names -= _VALUE_STARTS
    for name in sorted(names):
        zh, en = _TERMINAL_WORDS.get(name, (name, name))
        if zh not in words_zh:
            words_zh.append(zh)
            words_en.append(en)
    if not words_zh:
        return None
    return "、".join(words_zh[:6]), ", ".join(words_en[:6])
