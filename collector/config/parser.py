"""Parser: tokens -> `ast.File` (A.3), LL(1) recursive descent.

Theory of operation: every parse method documents the EBNF it implements and consumes exactly that
production. On a mistake the parser records a diagnostic, skips to a likely synchronisation point
(the end of the statement or the next identifier) and continues, so one run reports several errors.
At most one error is reported per source line; the first one on a line is almost always the cause
of the others. The returned tree is complete but must be discarded if any error was reported.
"""

from __future__ import annotations

import bisect
from typing import Callable, TypeVar

from collector.config import ast
from collector.config.diag import Diagnostic, Span
from collector.config.scanner import (
    MAX_ERRORS,
    Scanner,
    Tok,
    Token,
    decode_float,
    decode_number,
    is_valid_identifier,
    unquote,
)

_T = TypeVar("_T")

_BINARY_PRECEDENCE = {
    Tok.OR: 1,
    Tok.AND: 2,
    Tok.EQ: 3, Tok.NEQ: 3, Tok.LT: 3, Tok.LTE: 3, Tok.GT: 3, Tok.GTE: 3,
    Tok.ADD: 4, Tok.SUB: 4,
    Tok.MUL: 5, Tok.DIV: 5, Tok.MOD: 5,
}
_STATEMENT_END = frozenset({Tok.TERMINATOR, Tok.RPAREN, Tok.RCURLY, Tok.RBRACK, Tok.COMMA})
_LITERALS = frozenset({Tok.STRING, Tok.NUMBER, Tok.FLOAT, Tok.BOOL, Tok.NULL})
# Blocks, brackets and operators nest at most this deep. Every later pass (evaluation, formatting,
# reference walks) recurses over the tree too, so the cap keeps them all within Python's stack;
# real configurations nest a handful of levels.
MAX_NESTING = 100


class _Stop(Exception):
    """Parsing gives up (too many errors, nesting too deep); the diagnostic is already recorded."""


def parse(source: bytes, filename: str) -> tuple[ast.File, list[Diagnostic]]:
    """Parse a whole file. Never raises on bad input: problems come back as diagnostics."""
    p = _Parser(source, filename)
    try:
        tree = p.parse_file()
    except _Stop:
        tree = ast.File((), p.span(0, len(source)), tuple(p.comments))
    return tree, p.diagnostics()


def parse_expression(source: bytes, filename: str = "<expr>") -> tuple[ast.Expr, list[Diagnostic]]:
    """Parse a single expression (used by tests and by tools evaluating one value)."""
    p = _Parser(source, filename)
    try:
        expr: ast.Expr = p.parse_expression()
        if p.tok.kind is Tok.TERMINATOR:
            p.next()
        if p.tok.kind is not Tok.EOF:
            p.error(f"expected EOF, got {p.tok.kind}")
    except _Stop:
        expr = ast.Literal(None, p.span(0, len(source)))
    return expr, p.diagnostics()


class _Parser:
    def __init__(self, source: bytes, filename: str) -> None:
        self.file = filename
        self.source = source
        self.scanner = Scanner(source, filename)
        self.errors: list[Diagnostic] = []
        self.comments: list[ast.Comment] = []
        self._line_starts = _line_starts(source)
        self._error_lines: set[int] = set()
        self._scanner_seen = 0
        self._depth = 0
        self.prev_end = 0
        self.tok: Token = Token(Tok.EOF, 0, 0, "")
        try:
            self.next()
        except _Stop:  # the encoding check alone found too many errors: parse nothing
            self.tok = Token(Tok.EOF, len(source), len(source), "")

    # -- plumbing -------------------------------------------------------------------------

    def diagnostics(self) -> list[Diagnostic]:
        merged = self.scanner.diagnostics + self.errors
        return sorted(merged, key=lambda d: d.span.start)

    def _line(self, offset: int) -> int:
        return bisect.bisect_right(self._line_starts, offset)

    def next(self) -> None:
        """Advance to the next non-comment token, keeping comments for the formatter."""
        if self.tok.kind is not Tok.TERMINATOR:
            self.prev_end = self.tok.end
        while True:
            tok = self.scanner.scan()
            self._note_scanner_errors()
            if tok.kind is not Tok.COMMENT:
                self.tok = tok
                return
            self.comments.append(ast.Comment(tok.lit, self.span(tok.start, tok.end)))

    def _note_scanner_errors(self) -> None:
        diags = self.scanner.diagnostics
        if len(diags) == self._scanner_seen:
            return
        for d in diags[self._scanner_seen:]:
            self._error_lines.add(self._line(d.span.start))
        self._scanner_seen = len(diags)
        self._check_error_count()

    def _check_error_count(self) -> None:
        """Stop once the file has more errors than are worth reading: linear time and output
        whatever the input (a random binary file has an error every few bytes)."""
        if len(self.scanner.diagnostics) + len(self.errors) > MAX_ERRORS:
            del self.scanner.diagnostics[MAX_ERRORS:]
            del self.errors[max(0, MAX_ERRORS - len(self.scanner.diagnostics)):]
            self.errors.append(Diagnostic.error(self.span(self.tok.start, self.tok.start),
                                                f"too many errors (more than {MAX_ERRORS}), giving up on this file"))
            raise _Stop

    def descend(self) -> None:
        """Entering one more level of nesting; a located error (and the end of parsing) past
        MAX_NESTING, where recursion would otherwise end in a RecursionError with no position."""
        self._depth += 1
        if self._depth > MAX_NESTING:
            self.errors.append(Diagnostic.error(self.span(self.tok.start, self.tok.end),
                                                f"nesting too deep: more than {MAX_NESTING} levels of blocks, "
                                                f"brackets or operators"))
            raise _Stop

    def ascend(self) -> None:
        self._depth -= 1

    def span(self, start: int, end: int) -> Span:
        return Span(self.file, start, end)

    def error(self, message: str, start: int | None = None, end: int | None = None) -> None:
        """Record an error at the current token unless this line already has one."""
        if start is None:
            start, end = self.tok.start, self.tok.end
        line = self._line(start)
        if line in self._error_lines:
            return
        self._error_lines.add(line)
        self.errors.append(Diagnostic.error(self.span(start, start if end is None else end), message))
        self._check_error_count()

    def error_always(self, message: str, start: int, end: int) -> None:
        """Record an error that is worth showing even next to another one on the line."""
        self.errors.append(Diagnostic.error(self.span(start, end), message))
        self._check_error_count()

    def expect(self, kind: Tok) -> Token:
        tok = self.tok
        if tok.kind is not kind:
            self.error(f"expected {kind}, got {tok.kind}")
        self.next()
        return tok

    def advance(self, to: Tok) -> None:
        while self.tok.kind is not Tok.EOF and self.tok.kind is not to:
            self.next()

    def advance_any(self, to: frozenset[Tok]) -> None:
        while self.tok.kind is not Tok.EOF and self.tok.kind not in to:
            self.next()

    def consume_statement(self) -> None:
        """Skip to the TERMINATOR ending the current statement, balancing brackets."""
        depth = {Tok.LCURLY: 0, Tok.LBRACK: 0, Tok.LPAREN: 0}
        closer = {Tok.RCURLY: Tok.LCURLY, Tok.RBRACK: Tok.LBRACK, Tok.RPAREN: Tok.LPAREN}
        while self.tok.kind is not Tok.EOF:
            kind = self.tok.kind
            if kind in depth:
                depth[kind] += 1
            elif kind in closer:
                depth[closer[kind]] -= 1
            elif kind is Tok.TERMINATOR and all(v <= 0 for v in depth.values()):
                return
            self.next()

    # -- statements -----------------------------------------------------------------------

    def parse_file(self) -> ast.File:
        """File = Body"""
        body = self.parse_body(Tok.EOF)
        return ast.File(tuple(body), self.span(0, len(self.source)), tuple(self.comments))

    def parse_body(self, until: Tok) -> list[ast.Statement]:
        """Body = [ Statement { TERMINATOR Statement } ]"""
        body: list[ast.Statement] = []
        while self.tok.kind is not until and self.tok.kind is not Tok.EOF:
            stmt = self.parse_statement()
            if stmt is not None:
                body.append(stmt)
            if self.tok.kind is until:
                break
            if self.tok.kind is not Tok.TERMINATOR:
                self.error(f"expected {Tok.TERMINATOR}, got {self.tok.kind}")
                self.consume_statement()
            self.next()
        return body

    def parse_statement(self) -> ast.Statement | None:
        """Statement = Attribute | Block
        Attribute = identifier "=" Expression
        Block     = BlockName "{" Body "}"
        """
        name = self.parse_block_name()
        if name is None:
            self.advance(Tok.IDENT)
            return None
        fragments, name_span, label, label_span = name
        if self.tok.kind is Tok.ASSIGN:
            self.next()
            if len(fragments) != 1:
                self.error_always(
                    'attribute names may only consist of a single identifier with no "."',
                    name_span.start, name_span.end,
                )
            elif label_span is not None:
                self.error_always("attribute names may not have labels", label_span.start, label_span.end)
            value = self.parse_expression()
            end = max(self.prev_end, value.span.end)
            return ast.Attribute(fragments[0], name_span, value, self.span(name_span.start, end))
        if self.tok.kind is Tok.LCURLY:
            self.next()
            self.descend()
            body = self.parse_body(Tok.RCURLY)
            self.ascend()
            self.expect(Tok.RCURLY)
            return ast.Block(
                tuple(fragments), name_span, label, label_span, tuple(body),
                self.span(name_span.start, self.prev_end),
            )
        if len(fragments) == 1 and label_span is None:
            self.error(f"expected attribute assignment or block body, got {self.tok.kind}")
        else:
            self.error(f"expected block body, got {self.tok.kind}")
        self.advance(Tok.IDENT)
        return None

    def parse_block_name(self) -> tuple[list[str], Span, str | None, Span | None] | None:
        """BlockName = identifier { "." identifier } [ string ]"""
        if self.tok.kind is not Tok.IDENT:
            self.error(f"expected identifier, got {self.tok.kind}")
            return None
        start = self.tok.start
        fragments = [self.tok.lit]
        self.next()
        while self.tok.kind is Tok.DOT:
            self.next()
            if self.tok.kind is not Tok.IDENT:
                self.error(f"expected identifier, got {self.tok.kind}")
            fragments.append(self.tok.lit)
            self.next()
        name_span = self.span(start, self.prev_end)
        label: str | None = None
        label_span: Span | None = None
        if self.tok.kind is not Tok.ASSIGN and self.tok.kind is not Tok.LCURLY:
            if self.tok.kind is Tok.STRING:
                lit = self.tok.lit
                if not lit.startswith('"'):
                    self.error(f"expected block label to be a double quoted string, but got {_go_quote(lit)}")
                label = lit[1:-1] if len(lit) >= 2 else ""
                if label and not is_valid_identifier(label):
                    self.error(f"expected block label to be a valid identifier, but got {_go_quote(label)}")
                label_span = self.span(self.tok.start, self.tok.end)
            else:
                self.error(f"expected block label, got {self.tok.kind}")
            self.next()
        return fragments, name_span, label, label_span

    # -- expressions ----------------------------------------------------------------------

    def parse_expression(self) -> ast.Expr:
        """Expression = OrExpr"""
        return self.parse_binary(1)

    def parse_binary(self, min_prec: int) -> ast.Expr:
        """OrExpr  = AndExpr { "||" AndExpr }
        AndExpr = CmpExpr { "&&" CmpExpr }
        CmpExpr = AddExpr { ("=="|"!="|"<"|"<="|">"|">=") AddExpr }
        AddExpr = MulExpr { ("+"|"-") MulExpr }
        MulExpr = PowExpr { ("*"|"/"|"%") PowExpr }

        One loop handles every left-associative level: `min_prec` is the weakest operator this
        call may consume; operands are parsed one level tighter.
        """
        left = self.parse_pow()
        while True:
            prec = _BINARY_PRECEDENCE.get(self.tok.kind, 0)
            if prec < min_prec:
                return left
            op = self.tok.kind.value
            self.next()
            right = self.parse_binary(prec + 1)
            left = ast.Binary(op, left, right, left.span.to(right.span))

    def parse_pow(self) -> ast.Expr:
        """PowExpr = UnaryExpr [ "^" PowExpr ]   (right-associative)"""
        left = self.parse_unary()
        if self.tok.kind is Tok.POW:
            self.next()
            self.descend()
            right = self.parse_pow()
            self.ascend()
            return ast.Binary("^", left, right, left.span.to(right.span))
        return left

    def parse_unary(self) -> ast.Expr:
        """UnaryExpr = ("!"|"-") UnaryExpr | OperExpr
        OperExpr  = Primary { "." identifier | "[" Expression "]" | "(" [ ExprList ] ")" }
        """
        if self.tok.kind is Tok.NOT or self.tok.kind is Tok.SUB:
            op, start = self.tok.kind.value, self.tok.start
            self.next()
            self.descend()
            operand = self.parse_unary()
            self.ascend()
            return ast.Unary(op, operand, self.span(start, operand.span.end))

        expr = self.parse_primary()
        while True:
            kind = self.tok.kind
            if kind is Tok.DOT:
                self.next()
                name_tok = self.expect(Tok.IDENT)
                name = name_tok.lit if name_tok.kind is Tok.IDENT else ""
                name_span = self.span(name_tok.start, name_tok.end)
                expr = ast.Access(expr, name, name_span, self.span(expr.span.start, self.prev_end))
            elif kind is Tok.LBRACK:
                self.next()
                self.descend()
                index = self.parse_expression()
                self.ascend()
                self.expect(Tok.RBRACK)
                expr = ast.Index(expr, index, self.span(expr.span.start, self.prev_end))
            elif kind is Tok.LPAREN:
                self.descend()
                args = self.parse_list(Tok.RPAREN, self.parse_expression, "expression list")
                self.ascend()
                expr = ast.Call(expr, args, self.span(expr.span.start, self.prev_end))
            elif kind is Tok.STRING or kind is Tok.LCURLY:
                # Probably a block written as a value (`x = foo "a" { ... }`): parse it as a block
                # to give a precise error, or give up on the statement.
                if kind is Tok.STRING:
                    self.next()
                if self.expect(Tok.LCURLY).kind is not Tok.LCURLY:
                    self.consume_statement()
                    return expr
                self.descend()
                self.parse_body(Tok.RCURLY)
                self.ascend()
                close = self.expect(Tok.RCURLY)
                if close.kind is not Tok.RCURLY:
                    self.consume_statement()
                    return expr
                self.error_always("cannot use a block as an expression", expr.span.start, close.end)
            else:
                return expr

    def parse_primary(self) -> ast.Expr:
        """Primary = identifier | string | number | float | bool | null
                | "(" Expression ")" | "[" [ ExprList ] "]" | "{" [ FieldList ] "}"
        """
        tok = self.tok
        kind = tok.kind
        if kind is Tok.IDENT:
            self.next()
            return ast.Identifier(tok.lit, self.span(tok.start, tok.end))
        if kind in _LITERALS:
            self.next()
            return ast.Literal(_literal_value(tok), self.span(tok.start, tok.end))
        if kind is Tok.LPAREN:
            self.next()
            self.descend()
            inner = self.parse_expression()
            self.ascend()
            self.expect(Tok.RPAREN)
            return ast.Paren(inner, self.span(tok.start, self.prev_end))
        if kind is Tok.LBRACK:
            self.descend()
            elements = self.parse_list(Tok.RBRACK, self.parse_expression, "expression list")
            self.ascend()
            return ast.ArrayExpr(elements, self.span(tok.start, self.prev_end))
        if kind is Tok.LCURLY:
            self.descend()
            fields = self.parse_list(Tok.RCURLY, self.parse_field, "field list")
            self.ascend()
            return ast.ObjectExpr(fields, self.span(tok.start, self.prev_end))
        self.error(f"expected expression, got {kind}")
        bad = ast.Literal(None, self.span(tok.start, tok.end))
        self.advance_any(_STATEMENT_END)
        return bad

    def parse_list(self, close: Tok, parse_item: Callable[[], _T], what: str) -> tuple[_T, ...]:
        """open [ Item { "," Item } [ "," ] ] close, from the opening token on.

        ExprList (call arguments, arrays) and FieldList (objects) differ only in the item, so one
        loop owns the comma rule and its recovery: a missing comma is reported and parsing goes on.
        """
        self.next()
        items: list[_T] = []
        while self.tok.kind is not close and self.tok.kind is not Tok.EOF:
            items.append(parse_item())
            if self.tok.kind is close:
                break
            if self.tok.kind is not Tok.COMMA:
                self.error(f"missing ',' in {what}")
            self.next()
        self.expect(close)
        return tuple(items)

    def parse_field(self) -> ast.ObjectField:
        """Field = ( identifier | string ) "=" Expression"""
        tok = self.tok
        key, quoted = "", False
        if tok.kind is Tok.IDENT:
            key = tok.lit
            self.next()
        elif tok.kind is Tok.STRING:
            key, quoted = unquote(tok.lit), True
            self.next()
        else:
            self.error(f"expected field name (string or identifier), got {tok.kind}")
            self.advance(Tok.ASSIGN)
        self.expect(Tok.ASSIGN)
        value = self.parse_expression()
        return ast.ObjectField(key, self.span(tok.start, tok.end), value, quoted)


def _line_starts(source: bytes) -> list[int]:
    starts = [0]
    pos = source.find(b"\n")
    while pos != -1:
        starts.append(pos + 1)
        pos = source.find(b"\n", pos + 1)
    return starts


def _literal_value(tok: Token) -> int | float | str | bool | None:
    if tok.kind is Tok.NUMBER:
        return decode_number(tok.lit)
    if tok.kind is Tok.FLOAT:
        return decode_float(tok.lit)
    if tok.kind is Tok.STRING:
        return unquote(tok.lit)
    if tok.kind is Tok.BOOL:
        return tok.lit == "true"
    return None


def _go_quote(text: str) -> str:
    """Go's `%q` for the common cases (printable text, quotes and backslashes escaped)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{escaped}"'
