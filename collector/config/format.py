"""Canonical formatting (`alloy fmt`).

Conventions (from Alloy's printer): tabs for indentation; the `=` of consecutive one-line
attributes (and object fields) aligned with spaces; blocks separated from the previous statement by
a blank line; other blank lines kept (collapsed to one); arrays, objects and calls stay multi-line
where the source broke lines, with a trailing comma before a closer on its own line; literals are
printed exactly as written; comments are kept, own-line comments on their own line and end-of-line
comments after the statement they follow.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from collector.config import ast
from collector.config.diag import DiagnosticError, Sources, has_errors
from collector.config.gofmt import go_quote
from collector.config.parser import parse
from collector.config.scanner import is_valid_identifier


def format_source(source: bytes, filename: str) -> str:
    tree, diagnostics = parse(source, filename)
    if has_errors(diagnostics):
        raise DiagnosticError(diagnostics, Sources({filename: source}))
    return _Printer(source, tree).file(tree)


@dataclass
class _Attr:
    """An attribute (or object field) row, kept apart until its alignment run is known."""

    name: str
    value: str  # may contain newlines; continuation lines are already indented
    trailing: list[str] = field(default_factory=list)

    @property
    def multiline(self) -> bool:
        return "\n" in self.value


_BLANK = object()


class _Printer:
    def __init__(self, source: bytes, tree: ast.File) -> None:
        self.src = source
        self.comments = list(tree.comments)
        self.ci = 0
        self.starts = [0] + [i + 1 for i, b in enumerate(source) if b == 10]

    # -- helpers --------------------------------------------------------------------------

    def line(self, offset: int) -> int:
        return bisect.bisect_right(self.starts, offset)

    def text(self, span: ast.Span) -> str:
        return self.src[span.start:span.end].decode("utf-8", "replace")

    def take_before(self, offset: int) -> list[ast.Comment]:
        out = []
        while self.ci < len(self.comments) and self.comments[self.ci].span.start < offset:
            out.append(self.comments[self.ci])
            self.ci += 1
        return out

    def has_blank_between(self, end_offset: int, start_offset: int) -> bool:
        """True if some line strictly between the two offsets' lines is empty in the source."""
        first, last = self.line(end_offset), self.line(start_offset)
        for n in range(first + 1, last):
            start = self.starts[n - 1]
            stop = self.starts[n] if n < len(self.starts) else len(self.src)
            if not self.src[start:stop].strip():
                return True
        return False

    # -- statements -----------------------------------------------------------------------

    def file(self, tree: ast.File) -> str:
        lines = self.body(tree.body, 0, len(self.src), None)
        text = "\n".join(line.rstrip() for line in lines)
        return text + "\n" if text else ""

    def body(self, stmts: tuple[ast.Statement, ...], indent: int, close: int, open_end: int | None) -> list[str]:
        """Lines for a statement list; `close` is the offset of the closing `}` (or EOF) and
        `open_end` the offset of the line holding the opening `{` (None at top level)."""
        tab = "\t" * indent
        items: list[object] = []  # _Attr | str (a full line) | _BLANK
        prev_end = open_end  # offset of the end of the previous item (for blank lines/trailing)
        prev_was_stmt = False

        def add_comments(upto: int, is_block: bool) -> None:
            nonlocal prev_end
            forced = is_block and prev_was_stmt
            for c in self.take_before(upto):
                if prev_end is not None and self.line(c.span.start) == self.line(prev_end) and items:
                    last = items[-1]
                    if isinstance(last, _Attr):
                        last.trailing.append(c.text)
                    elif isinstance(last, str):
                        items[-1] = last + " " + c.text
                    prev_end = c.span.end
                    continue
                if prev_end is not None and (forced or self.has_blank_between(prev_end, c.span.start)):
                    if items:
                        items.append(_BLANK)
                    forced = False
                items.append(tab + c.text)
                prev_end = c.span.end
            if forced or (prev_end is not None and stmt_start is not None
                          and self.has_blank_between(prev_end, stmt_start)):
                if items and items[-1] is not _BLANK:
                    items.append(_BLANK)

        stmt_start: int | None = None
        for stmt in stmts:
            stmt_start = stmt.span.start
            add_comments(stmt.span.start, isinstance(stmt, ast.Block))
            if isinstance(stmt, ast.Attribute):
                value = self.expr(stmt.value, indent)
                attr = _Attr(stmt.name, value)
                # Comments left inside the value (single-line expressions) follow the statement.
                attr.trailing.extend(c.text for c in self.take_before(stmt.span.end))
                items.append(attr)
            else:
                for line in self.block(stmt, indent):
                    items.append(line)
            prev_end = stmt.span.end
            prev_was_stmt = True
        stmt_start = None
        add_comments(close, False)
        return self.align(items, tab)

    def align(self, items: list[object], tab: str) -> list[str]:
        lines: list[str] = []
        run: list[_Attr] = []

        def flush() -> None:
            width = max((len(a.name) for a in run), default=0)
            for a in run:
                text = f"{tab}{a.name.ljust(width)} = {a.value}"
                if a.trailing:
                    text += " " + " ".join(a.trailing)
                lines.append(text)
            run.clear()

        for item in items:
            if isinstance(item, _Attr):
                run.append(item)
                if item.multiline or item.trailing and any(t.startswith("/*") and "\n" in t for t in item.trailing):
                    flush()
                continue
            flush()
            lines.append("" if item is _BLANK else str(item))
        flush()
        return lines

    def block(self, b: ast.Block, indent: int) -> list[str]:
        tab = "\t" * indent
        header = ".".join(b.name)
        if b.label is not None:
            header += " " + (f'"{b.label}"' if is_valid_identifier(b.label) else go_quote(b.label))
        close = b.span.end - 1
        if not b.body and not any(b.span.start < c.span.start < close for c in self.comments[self.ci:]):
            return [f"{tab}{header} {{ }}"]
        header_line = self.line(b.name_span.start)
        first = b.body[0].span.start if b.body else close
        head = f"{tab}{header} {{"
        for c in list(self.comments[self.ci:]):
            if c.span.start < first and self.line(c.span.start) == header_line and c.span.start > b.name_span.start:
                head += " " + c.text
                self.ci += 1
            else:
                break
        inner = self.body(b.body, indent + 1, close, None)
        return [head, *inner, f"{tab}}}"]

    # -- expressions ----------------------------------------------------------------------

    def expr(self, e: ast.Expr, indent: int) -> str:
        if isinstance(e, (ast.Literal, ast.Identifier)):
            return self.text(e.span)
        if isinstance(e, ast.Access):
            return f"{self.expr(e.value, indent)}.{e.name}"
        if isinstance(e, ast.Index):
            return f"{self.expr(e.value, indent)}[{self.expr(e.index, indent)}]"
        if isinstance(e, ast.Paren):
            return f"({self.expr(e.inner, indent)})"
        if isinstance(e, ast.Unary):
            return f"{e.op}{self.expr(e.operand, indent)}"
        if isinstance(e, ast.Binary):
            return f"{self.expr(e.left, indent)} {e.op} {self.expr(e.right, indent)}"
        if isinstance(e, ast.ArrayExpr):
            return self.sequence("[", "]", e.elements, e.span, indent, self.expr)
        if isinstance(e, ast.Call):
            func = self.expr(e.func, indent)
            open_pos = e.func.span.end
            return func + self.sequence("(", ")", e.args, ast.Span(e.span.file, open_pos, e.span.end), indent, self.expr)
        if isinstance(e, ast.ObjectExpr):
            return self.object(e, indent)
        raise TypeError(f"unknown expression {type(e).__name__}")

    def sequence(self, opener: str, closer: str, elements: tuple[ast.Expr, ...], span: ast.Span,
                 indent: int, render: object) -> str:
        inner_tab = "\t" * (indent + 1)
        out = opener
        prev = span.start
        close = span.end - 1
        for i, el in enumerate(elements):
            newline = self.line(el.span.start) != self.line(prev)
            if newline:
                out += self.own_line_comments(el.span.start, indent + 1)
                out += "\n" + inner_tab
            elif i > 0:
                out += " "
            out += self.expr(el, indent + 1 if newline else indent)
            prev = el.span.end
            nxt = elements[i + 1].span.start if i + 1 < len(elements) else close
            next_newline = self.line(nxt) != self.line(prev)
            if i + 1 < len(elements) or next_newline:
                out += ","
            if next_newline:
                out += self.trailing_comments(prev, nxt)
        if elements and self.line(close) != self.line(prev):
            out += self.own_line_comments(close, indent + 1)
            out += "\n" + "\t" * indent
        return out + closer

    def object(self, e: ast.ObjectExpr, indent: int) -> str:
        inner_tab = "\t" * (indent + 1)
        if not e.fields:
            return "{}"
        close = e.span.end - 1
        prev = e.span.start
        out = "{"
        pending: list[tuple[str, str, str]] = []  # aligned run: (key, value, trailing)

        def flush() -> str:
            width = max(len(k) for k, _, _ in pending)
            text = ""
            for j, (k, v, t) in enumerate(pending):
                text += ("\n" + inner_tab if j else "") + f"{k.ljust(width)} = {v}{t}"
            pending.clear()
            return text

        for i, f in enumerate(e.fields):
            key = go_quote(f.key) if f.quoted or not is_valid_identifier(f.key) else f.key
            newline = self.line(f.key_span.start) != self.line(prev)
            value = self.expr(f.value, indent + 1 if newline else indent)
            prev = f.value.span.end
            nxt = e.fields[i + 1].key_span.start if i + 1 < len(e.fields) else close
            next_newline = self.line(nxt) != self.line(prev)
            comma = "," if i + 1 < len(e.fields) or next_newline else ""
            trailing = self.trailing_comments(prev, nxt) if next_newline else ""
            if newline:
                before = self.own_line_comments(f.key_span.start, indent + 1)
                if pending and (before or "\n" in pending[-1][1]):
                    out += flush()
                if not pending:
                    out += before + "\n" + inner_tab
                pending.append((key, value + comma, trailing))
                if "\n" in value:
                    out += flush()
            else:
                if pending:
                    out += flush()
                out += (" " if i > 0 else "") + f"{key} = {value}{comma}{trailing}"
        if pending:
            out += flush()
        if self.line(close) != self.line(prev):
            out += self.own_line_comments(close, indent + 1)
            out += "\n" + "\t" * indent
        return out + "}"

    def trailing_comments(self, after: int, before: int) -> str:
        """Comments on the same line as `after` (and before `before`), as a suffix."""
        out = ""
        line = self.line(after)
        while (self.ci < len(self.comments) and self.comments[self.ci].span.start < before
               and self.line(self.comments[self.ci].span.start) == line):
            out += " " + self.comments[self.ci].text
            self.ci += 1
        return out

    def own_line_comments(self, before: int, indent: int) -> str:
        return "".join("\n" + "\t" * indent + c.text for c in self.take_before(before))
