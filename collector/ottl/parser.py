"""Recursive-descent parser for OTTL statements and conditions.

    statement   = editor [ "where" bool_expr ] EOF
    condition   = bool_expr EOF
    editor      = lower_ident "(" [ arg { "," arg } ] ")"
    converter   = Upper_ident "(" [ arg { "," arg } ] ")" { key }
    arg         = [ ident "=" ] value
    value       = "nil" | "true" | "false" | string | bytes | map | list | ENUM | math
    map         = "{" [ string ":" value { "," string ":" value } ] "}"
    list        = "[" [ value { "," value } ] "]"
    math        = term { ("+" | "-") term }
    term        = factor { ("*" | "/") factor }
    factor      = "-" factor | int | float | path | converter | "(" math ")"
    path        = lower_ident { "." ident } { key }
    key         = "[" value "]"
    bool_expr   = bool_term { "or" bool_term }
    bool_term   = bool_factor { "and" bool_factor }
    bool_factor = "not" bool_factor | value cmp value | "true" | "false" | converter | "(" bool_expr ")"
    cmp         = "==" | "!=" | "<" | "<=" | ">" | ">="

A `(` in a boolean position is ambiguous (`(a + 1) > 2` versus `(a > 1 and b)`): the parser first
tries a comparison and backtracks to a parenthesised boolean expression.
Errors raise `OttlSyntaxError` with a 1-based column.
"""

from __future__ import annotations

from typing import Callable, Final, TypeVar

from collector.ottl import ast
from collector.ottl.errors import OttlSyntaxError
from collector.ottl.lexer import Token, tokenize

KEYWORDS: Final = frozenset({"where", "and", "or", "not", "true", "false", "nil"})
COMPARISON_OPS: Final = frozenset({"==", "!=", "<", "<=", ">", ">="})

_T = TypeVar("_T")
# Values, parentheses and `not` nest at most this deep: each level is several Python frames here
# and in the compiler, and a statement nested past Python's recursion limit must be a syntax error
# at a column, not a RecursionError (found by fuzzing: `set(x[[[[...`).
MAX_NESTING: Final = 50


def is_enum_name(name: str) -> bool:
    return name[:1].isupper() and name.upper() == name


def parse_statement(text: str) -> ast.Statement:
    p = _Parser(text)
    stmt = p.statement()
    p.expect_eof()
    return stmt


def parse_condition(text: str) -> ast.BoolExpr:
    p = _Parser(text)
    expr = p.bool_expr()
    p.expect_eof()
    return expr


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0

    def nested(self, parse: Callable[[], _T]) -> _T:
        """`parse()` one level deeper; a syntax error past MAX_NESTING levels."""
        if self.depth >= MAX_NESTING:
            raise OttlSyntaxError(f"nested too deeply (more than {MAX_NESTING} levels)", self.tok.pos + 1)
        self.depth += 1
        try:
            return parse()
        finally:
            self.depth -= 1

    # --- token helpers --------------------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def peek(self, offset: int = 1) -> Token:
        return self.tokens[min(self.i + offset, len(self.tokens) - 1)]

    def at(self, text: str) -> bool:
        t = self.tok
        return t.kind in ("op", "ident") and t.text == text

    def advance(self) -> Token:
        t = self.tokens[self.i]
        if t.kind != "eof":
            self.i += 1
        return t

    def error(self, message: str, tok: Token | None = None) -> OttlSyntaxError:
        t = tok or self.tok
        found = "end of statement" if t.kind == "eof" else repr(t.text)
        return OttlSyntaxError(f"{message}, found {found}", t.pos + 1)

    def expect(self, text: str) -> Token:
        if not self.at(text):
            raise self.error(f"expected {text!r}")
        return self.advance()

    def expect_eof(self) -> None:
        if self.tok.kind != "eof":
            raise self.error("expected end of statement")

    # --- statements -----------------------------------------------------------------------
    def statement(self) -> ast.Statement:
        t = self.tok
        if t.kind != "ident" or t.text in KEYWORDS or not t.text[:1].islower() or not self.peek().text == "(":
            raise self.error("expected an editor call such as set(...)")
        editor = self.call()
        if editor.keys:
            raise OttlSyntaxError("an editor cannot be indexed", editor.pos + 1)
        where = None
        if self.at("where"):
            self.advance()
            where = self.bool_expr()
        return ast.Statement(editor, where, pos=t.pos)

    def call(self) -> ast.Call:
        name_tok = self.advance()
        self.expect("(")
        args: list[ast.Arg] = []
        if not self.at(")"):
            while True:
                args.append(self.arg())
                if self.at(","):
                    self.advance()
                    continue
                break
        if not self.at(")"):
            raise self.error("expected ',' or ')'")
        self.advance()
        keys = self.keys() if name_tok.text[:1].isupper() else ()
        return ast.Call(name_tok.text, tuple(args), keys, pos=name_tok.pos)

    def arg(self) -> ast.Arg:
        t = self.tok
        if t.kind == "ident" and t.text not in KEYWORDS and self.peek().kind == "op" and self.peek().text == "=":
            self.advance()
            self.advance()
            return ast.Arg(self.value(), t.text, pos=t.pos)
        return ast.Arg(self.value(), None, pos=t.pos)

    def keys(self) -> tuple[ast.Value, ...]:
        keys: list[ast.Value] = []
        while self.at("["):
            self.advance()
            keys.append(self.value())
            self.expect("]")
        return tuple(keys)

    # --- values ---------------------------------------------------------------------------
    def value(self) -> ast.Value:
        return self.nested(self._value)

    def _value(self) -> ast.Value:
        t = self.tok
        if t.kind == "string":
            self.advance()
            return ast.Literal(t.value, pos=t.pos)  # type: ignore[arg-type]
        if t.kind == "bytes":
            self.advance()
            return ast.Literal(t.value, pos=t.pos)  # type: ignore[arg-type]
        if t.kind == "ident":
            if t.text == "nil":
                self.advance()
                return ast.Literal(None, pos=t.pos)
            if t.text in ("true", "false"):
                self.advance()
                return ast.Literal(t.text == "true", pos=t.pos)
            if is_enum_name(t.text) and not self.peek().text == "(":
                self.advance()
                return ast.Enum(t.text, pos=t.pos)
        if self.at("{"):
            return self.map_literal()
        if self.at("["):
            return self.list_literal()
        return self.math()

    def map_literal(self) -> ast.MapLit:
        start = self.tok
        return ast.MapLit(tuple(self.enclosed("}", self.map_item)), pos=start.pos)

    def map_item(self) -> tuple[str, ast.Value]:
        k = self.tok
        if k.kind != "string":
            raise self.error("expected a string map key")
        self.advance()
        self.expect(":")
        return k.value, self.value()  # type: ignore[return-value]

    def list_literal(self) -> ast.ListLit:
        start = self.tok
        return ast.ListLit(tuple(self.enclosed("]", self.value)), pos=start.pos)

    def enclosed(self, close: str, item: Callable[[], _T]) -> list[_T]:
        """`open [ item { "," item } [ "," ] ] close`, from the opening token on: maps and lists
        (call arguments take no trailing comma, so `call` keeps its own loop)."""
        self.advance()
        items: list[_T] = []
        while not self.at(close):
            items.append(item())
            if self.at(","):
                self.advance()
            elif not self.at(close):
                raise self.error(f"expected ',' or '{close}'")
        self.advance()
        return items

    def math(self) -> ast.Value:
        return self.left_assoc(("+", "-"), self.term)

    def term(self) -> ast.Value:
        return self.left_assoc(("*", "/"), self.factor)

    def left_assoc(self, ops: tuple[str, ...], operand: Callable[[], ast.Value]) -> ast.Value:
        """`operand { op operand }`, folded to the left so `a - b - c` is `(a - b) - c`."""
        left = operand()
        while self.tok.kind == "op" and self.tok.text in ops:
            op = self.advance()
            left = ast.MathOp(op.text, left, operand(), pos=op.pos)
        return left

    def factor(self) -> ast.Value:
        return self.nested(self._factor)

    def _factor(self) -> ast.Value:
        t = self.tok
        if self.at("-"):
            self.advance()
            operand = self.factor()
            if isinstance(operand, ast.Literal) and type(operand.value) in (int, float):
                return ast.Literal(-operand.value, pos=t.pos)  # type: ignore[operator]
            return ast.Neg(operand, pos=t.pos)
        if t.kind in ("int", "float"):
            self.advance()
            return ast.Literal(t.value, pos=t.pos)  # type: ignore[arg-type]
        if self.at("("):
            self.advance()
            inner = self.math()
            self.expect(")")
            return inner
        if t.kind == "ident" and t.text not in KEYWORDS:
            if self.peek().text == "(" and self.peek().kind == "op":
                if not t.text[:1].isupper():
                    raise self.error("editors cannot be used as values; expected a converter (capitalised)")
                return self.call()
            if t.text[:1].isupper():
                raise self.error("expected a value")
            return self.path()
        raise self.error("expected a value")

    def path(self) -> ast.Path:
        first = self.advance()
        fields = [first.text]
        while self.at("."):
            self.advance()
            t = self.tok
            if t.kind != "ident":
                raise self.error("expected a field name after '.'")
            self.advance()
            fields.append(t.text)
        return ast.Path(tuple(fields), self.keys(), pos=first.pos)

    # --- boolean expressions --------------------------------------------------------------
    def bool_expr(self) -> ast.BoolExpr:
        return self.junction("or", self.bool_term, ast.Or)

    def bool_term(self) -> ast.BoolExpr:
        return self.junction("and", self.bool_factor, ast.And)

    def junction(self, keyword: str, operand: Callable[[], ast.BoolExpr],
                 node: Callable[..., ast.And | ast.Or]) -> ast.BoolExpr:
        """`operand { keyword operand }`: one operand stands alone, several become one flat node."""
        start = self.tok.pos
        items = [operand()]
        while self.at(keyword):
            self.advance()
            items.append(operand())
        return items[0] if len(items) == 1 else node(tuple(items), pos=start)

    def bool_factor(self) -> ast.BoolExpr:
        return self.nested(self._bool_factor)

    def _bool_factor(self) -> ast.BoolExpr:
        t = self.tok
        if self.at("not"):
            self.advance()
            return ast.Not(self.bool_factor(), pos=t.pos)
        if self.at("("):
            saved = self.i
            try:
                return self.comparison_or_constant(require_comparison=True)
            except OttlSyntaxError:
                self.i = saved
            self.advance()
            inner = self.bool_expr()
            self.expect(")")
            return inner
        return self.comparison_or_constant(require_comparison=False)

    def comparison_or_constant(self, *, require_comparison: bool) -> ast.BoolExpr:
        t = self.tok
        left = self.value()
        op = self.tok
        if op.kind == "op" and op.text in COMPARISON_OPS:
            self.advance()
            return ast.Comparison(op.text, left, self.value(), pos=op.pos)
        if not require_comparison:
            if isinstance(left, ast.Literal) and isinstance(left.value, bool):
                return left
            if isinstance(left, ast.Call):
                return left
        raise self.error("expected a comparison operator", op if t is not op else None)
