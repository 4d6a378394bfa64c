"""Diagnostics: errors and warnings positioned by byte offsets.

Positions are stored as byte offsets into one file's source (`Span`); line and column numbers are
computed only when a diagnostic is printed, from the `Sources` that hold every parsed file. Columns
count bytes and are 1-based, as in Alloy.
"""

from __future__ import annotations

import bisect
import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Span:
    """A half-open byte range `[start, end)` in file `file`."""

    file: str
    start: int
    end: int

    def to(self, other: Span) -> Span:
        """The span covering `self` through `other` (same file)."""
        return Span(self.file, min(self.start, other.start), max(self.end, other.end))


class Severity(enum.Enum):
    ERROR = "Error"
    WARNING = "Warning"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    severity: Severity
    span: Span
    message: str

    @classmethod
    def error(cls, span: Span, message: str) -> Diagnostic:
        return cls(Severity.ERROR, span, message)

    @classmethod
    def warning(cls, span: Span, message: str) -> Diagnostic:
        return cls(Severity.WARNING, span, message)


class Sources:
    """Source bytes by file name, with lazily built line tables for position lookups."""

    def __init__(self, files: Mapping[str, bytes] | None = None) -> None:
        self._files: dict[str, bytes] = dict(files or {})
        self._lines: dict[str, list[int]] = {}

    def add(self, name: str, source: bytes) -> None:
        self._files[name] = source
        self._lines.pop(name, None)

    def __getitem__(self, name: str) -> bytes:
        return self._files[name]

    def __contains__(self, name: object) -> bool:
        return name in self._files

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._files)

    def __len__(self) -> int:
        return len(self._files)

    def items(self) -> Iterable[tuple[str, bytes]]:
        return self._files.items()

    def _line_starts(self, name: str) -> list[int]:
        starts = self._lines.get(name)
        if starts is None:
            src = self._files.get(name, b"")
            starts = [0]
            pos = src.find(b"\n")
            while pos != -1:
                starts.append(pos + 1)
                pos = src.find(b"\n", pos + 1)
            self._lines[name] = starts
        return starts

    def line_col(self, file: str, offset: int) -> tuple[int, int]:
        """1-based line and byte column of `offset`."""
        starts = self._line_starts(file)
        line = bisect.bisect_right(starts, offset) - 1
        return line + 1, offset - starts[line] + 1

    def line_count(self, file: str) -> int:
        return len(self._line_starts(file))

    def line_text(self, file: str, line: int) -> str:
        """Text of 1-based `line` without its newline (and without a trailing CR)."""
        starts = self._line_starts(file)
        if line < 1 or line > len(starts):
            return ""
        src = self._files.get(file, b"")
        start = starts[line - 1]
        end = starts[line] - 1 if line < len(starts) else len(src)
        raw = src[start:end]
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        return raw.decode("utf-8", "replace")

    def position(self, span: Span) -> str:
        if span.file not in self._files:
            return span.file or "<unknown>"
        line, col = self.line_col(span.file, span.start)
        return f"{span.file}:{line}:{col}"


def format_one(diagnostic: Diagnostic, sources: Sources) -> str:
    """`file:line:col: message`: the shape used in logs and HTTP responses."""
    return f"{sources.position(diagnostic.span)}: {diagnostic.message}"


def summarize(diagnostics: Sequence[Diagnostic], sources: Sources) -> str:
    if not diagnostics:
        return "no diagnostics"
    first = format_one(diagnostics[0], sources)
    if len(diagnostics) == 1:
        return first
    return f"{first} (and {len(diagnostics) - 1} more diagnostics)"


_TAB = "    "


def _expand(text: str) -> str:
    return text.replace("\t", _TAB)


def _visual_col(line_bytes: bytes, byte_col: int) -> int:
    """0-based display column of the byte at 1-based `byte_col`, tabs expanded."""
    prefix = line_bytes[: max(byte_col - 1, 0)].decode("utf-8", "replace")
    return len(_expand(prefix))


def _raw_line(sources: Sources, file: str, line: int) -> bytes:
    return sources.line_text(file, line).encode("utf-8")


# At most this many diagnostics are printed in full; the rest are counted. A 10,000-component
# cycle reports an error on every member, and nobody reads past the first screen.
MAX_RENDERED = 25
# Source lines are cut to a window this wide around the caret (a minified or binary file can be
# one megabyte-long line).
MAX_LINE_WIDTH = 200


def render(diagnostics: Sequence[Diagnostic], sources: Sources) -> str:
    """Print diagnostics the way the CLI does: header, source snippet, carets."""
    shown = [_render_one(d, sources) for d in diagnostics[:MAX_RENDERED]]
    rest = len(diagnostics) - len(shown)
    if rest > 0:
        errors = sum(1 for d in diagnostics[MAX_RENDERED:] if d.severity is Severity.ERROR)
        shown.append(f"... and {rest} more diagnostics ({errors} errors, {rest - errors} warnings) not shown")
    return "\n\n".join(shown) + ("\n" if diagnostics else "")


def _window(text: str, lo: int, hi: int) -> tuple[str, int, int]:
    """`text` cut to at most MAX_LINE_WIDTH columns around [lo, hi), and the columns shifted."""
    if len(text) <= MAX_LINE_WIDTH:
        return text, lo, hi
    start = max(0, min(lo - MAX_LINE_WIDTH // 4, len(text) - MAX_LINE_WIDTH))
    cut = text[start:start + MAX_LINE_WIDTH]
    prefix = "..." if start > 0 else ""
    suffix = "..." if start + MAX_LINE_WIDTH < len(text) else ""
    shift = len(prefix) - start
    return prefix + cut + suffix, lo + shift, min(hi + shift, len(prefix) + len(cut) + 1)


def _render_one(d: Diagnostic, sources: Sources) -> str:
    header = f"{d.severity.value}: {format_one(d, sources)}"
    file = d.span.file
    if file not in sources:
        return header
    start_line, start_col = sources.line_col(file, d.span.start)
    end_off = max(d.span.end - 1, d.span.start)
    end_line, end_col = sources.line_col(file, end_off)
    first = max(start_line - 1, 1)
    last = min(end_line + 1, sources.line_count(file))
    # A trailing empty line after the final newline is not worth showing.
    if last > end_line and last == sources.line_count(file) and sources.line_text(file, last) == "":
        last -= 1
    width = len(str(last))
    blank = " " * width + " |"
    out = [header, ""]
    multi = end_line > start_line
    for n in range(first, last + 1):
        text = _expand(sources.line_text(file, n))
        raw = _raw_line(sources, file, n)
        if not multi:
            if n == start_line:
                lo = _visual_col(raw, start_col)
                hi = _visual_col(raw, end_col + 1) if d.span.end > d.span.start else lo + 1
                text, lo, hi = _window(text, lo, hi)
                out.append(f"{n:>{width}} | {text}".rstrip())
                out.append(f"{blank} {' ' * lo}{'^' * max(hi - lo, 1)}")
            else:
                out.append(f"{n:>{width}} | {_window(text, 0, 0)[0]}".rstrip())
            continue
        margin = "| " if start_line < n <= end_line else "  "
        if n == start_line:
            lo = _visual_col(raw, start_col)
            text, lo, _ = _window(text, lo, lo)
            out.append(f"{n:>{width}} | {margin}{text}".rstrip())
            out.append(f"{blank}  {'_' * lo}^")
        elif n == end_line:
            hi = _visual_col(raw, end_col)
            text, hi, _ = _window(text, hi, hi)
            out.append(f"{n:>{width}} | {margin}{text}".rstrip())
            out.append(f"{blank} |{'_' * (hi + 1)}^")
        else:
            out.append(f"{n:>{width}} | {margin}{_window(text, 0, 0)[0]}".rstrip())
    return "\n".join(out)


class DiagnosticError(Exception):
    """Raised when a configuration cannot be used; carries every diagnostic found."""

    def __init__(self, diagnostics: Sequence[Diagnostic], sources: Sources) -> None:
        self.diagnostics = list(diagnostics)
        self.sources = sources
        super().__init__(summarize(self.diagnostics, sources))

    def render(self) -> str:
        return render(self.diagnostics, self.sources)


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    return any(d.severity is Severity.ERROR for d in diagnostics)
