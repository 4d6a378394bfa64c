"""OpenTelemetry Collector YAML -> a tree of `YNode`s that know their byte positions.

ruamel.yaml (round-trip loader) gives every key and value its line and column; we turn them into
`Span`s (byte offsets, as every diagnostic in this collector) once, here. `${env:VAR}`,
`${env:VAR:-default}` and `${VAR}` are substituted in scalar values before they are typed, as the
OpenTelemetry Collector's confmap does: a plain scalar that is one whole reference takes the type
of what the variable holds (`${env:PORT}` with PORT=4317 is the integer 4317); a reference inside a
longer string, or in a quoted scalar, stays a string. `$$` is a literal `$`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from collector.config.diag import Diagnostic, Span


@dataclass(slots=True)
class YNode:
    """One YAML value: a `dict[str, YNode]`, a `list[YNode]` or a scalar (str, int, float, bool,
    None). `span` is the value; `key_span` the key that names it (or the value, for list items)."""

    value: Any
    span: Span
    key_span: Span
    key: str = ""

    @property
    def is_map(self) -> bool:
        return isinstance(self.value, dict)

    def get(self, key: str) -> YNode | None:
        return self.value.get(key) if isinstance(self.value, dict) else None

    def items(self) -> list[tuple[str, YNode]]:
        return list(self.value.items()) if isinstance(self.value, dict) else []

    def plain(self) -> Any:
        """The value without positions."""
        if isinstance(self.value, dict):
            return {k: v.plain() for k, v in self.value.items()}
        if isinstance(self.value, list):
            return [v.plain() for v in self.value]
        return self.value


def type_word(value: Any) -> str:
    if isinstance(value, dict):
        return "map"
    if isinstance(value, list):
        return "list"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return "string"


@dataclass
class _Lines:
    file: str
    source: bytes
    starts: list[int] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        text = self.source.decode("utf-8", "replace")
        self.texts = text.split("\n")
        offset = 0
        for line in self.texts:
            self.starts.append(offset)
            offset += len(line.encode("utf-8")) + 1

    def offset(self, line: int, col: int) -> int:
        """Byte offset of 0-based `line`, character `col`."""
        if line >= len(self.starts):
            return len(self.source)
        return self.starts[line] + len(self.texts[line][:col].encode("utf-8"))

    def span(self, line: int, col: int, width: int | None = None) -> Span:
        start = self.offset(line, col)
        if width is None:
            width = self._token_width(line, col)
        end = self.offset(line, col + max(width, 1))
        return Span(self.file, start, max(end, start + 1))

    def _token_width(self, line: int, col: int) -> int:
        if line >= len(self.texts):
            return 1
        rest = self.texts[line][col:]
        if rest[:1] in ('"', "'"):
            close = rest.find(rest[0], 1)
            return close + 1 if close > 0 else len(rest.rstrip())
        if rest[:1] in ("{", "[", "|", ">"):
            return 1
        cut = rest.find(" #")
        if cut >= 0:
            rest = rest[:cut]
        if "[" in self.texts[line][:col] or "{" in self.texts[line][:col]:  # inside a flow collection
            rest = re.split(r"[,\]}]", rest, maxsplit=1)[0]
        return len(rest.rstrip()) or 1


_REF = re.compile(r"\$\$|\$\{([^}]*)\}")
_INT = re.compile(r"[-+]?(0|[1-9][0-9]*)|0o[0-7]+|0x[0-9a-fA-F]+")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")


def typed_scalar(text: str) -> Any:
    """A plain YAML 1.2 scalar's value (core schema)."""
    if text in ("", "~", "null", "Null", "NULL"):
        return None if text else ""
    if text in ("true", "True", "TRUE"):
        return True
    if text in ("false", "False", "FALSE"):
        return False
    if _INT.fullmatch(text):
        return int(text, 0) if text.startswith(("0o", "0x")) else int(text, 10)
    if _FLOAT.fullmatch(text):
        return float(text)
    return text


class YamlError(Exception):
    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


def load_yaml(file: str, source: bytes, env: Mapping[str, str] | None = None,
              diags: list[Diagnostic] | None = None) -> YNode:
    """Parse `source`; a syntax error raises `YamlError` (located), substitution problems are added
    to `diags`."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    lines = _Lines(file, source)
    yaml = YAML(typ="rt", pure=True)
    yaml.preserve_quotes = True
    try:
        data = yaml.load(source.decode("utf-8", "replace"))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        if exc.context and exc.problem:
            problem = f"{exc.context}: {exc.problem}"
        if exc.context_mark is not None and "end of stream" in (exc.problem or ""):
            mark = exc.context_mark  # an unclosed quote or bracket: point where it opens, not at the end
        # ruamel's duplicate-key message repeats both values in full; the key and its place suffice
        problem = re.sub(r'(found duplicate key "[^"]*") with value .*', r"\1", problem, flags=re.S)
        line, col = (mark.line, mark.column) if mark is not None else (0, 0)
        raise YamlError(Diagnostic.error(lines.span(line, col, 1), f"yaml: {' '.join(problem.split())}")) from None
    except YAMLError as exc:
        raise YamlError(Diagnostic.error(Span(file, 0, 1), f"yaml: {' '.join(str(exc).split())}")) from None
    builder = _Builder(lines, os.environ if env is None else env, diags if diags is not None else [])
    root_span = _document_start(lines)
    return builder.node(data, root_span, root_span, "")


def _document_start(lines: _Lines) -> Span:
    """Where the document's content starts (after leading comments and `---`), for errors about the
    whole document: a missing section, a document that is not a map."""
    for number, text in enumerate(lines.texts):
        stripped = text.strip()
        if stripped and not stripped.startswith("#") and stripped != "---":
            return lines.span(number, len(text) - len(text.lstrip()), 1)
    return Span(lines.file, 0, 1)


class _Builder:
    def __init__(self, lines: _Lines, env: Mapping[str, str], diags: list[Diagnostic]) -> None:
        self.lines = lines
        self.env = env
        self.diags = diags

    def node(self, data: Any, span: Span, key_span: Span, key: str) -> YNode:
        from ruamel.yaml.comments import CommentedMap, CommentedSeq

        if isinstance(data, CommentedMap):
            out: dict[str, YNode] = {}
            for k, v in data.items():
                kl, kc = data.lc.key(k)
                vl, vc = data.lc.value(k)
                name = "" if k is None else str(k)
                kspan = self.lines.span(kl, kc, len(name) if name and not self.lines.texts[kl][kc:kc + 1] in "\"'" else None)
                out[name] = self.node(v, self.lines.span(vl, vc) if v is not None else kspan, kspan, name)
            return YNode(out, span, key_span, key)
        if isinstance(data, CommentedSeq):
            items = []
            for i, v in enumerate(data):
                il, ic = data.lc.item(i)
                ispan = self.lines.span(il, ic)
                items.append(self.node(v, ispan, ispan, key))
            return YNode(items, span, key_span, key)
        return YNode(self.scalar(data, span), span, key_span, key)

    def scalar(self, data: Any, span: Span) -> Any:
        from ruamel.yaml.scalarstring import ScalarString

        if isinstance(data, bool) or data is None:
            return data
        if isinstance(data, int):
            return int(data)
        if isinstance(data, float):
            return float(data)
        if not isinstance(data, str):
            return str(data)
        quoted = isinstance(data, ScalarString)
        text = str(data)
        if "$" not in text:
            return text
        whole = _REF.fullmatch(text)
        expanded = _REF.sub(lambda m: self._expand(m, span), text)
        if whole is not None and whole.group(0) != "$$" and not quoted:
            return typed_scalar(expanded)
        return expanded

    def _expand(self, match: re.Match[str], span: Span) -> str:
        if match.group(0) == "$$":
            return "$"
        body = match.group(1)
        scheme, sep, rest = body.partition(":")
        if not sep:
            scheme, rest = "env", body
        elif scheme != "env":
            if not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", scheme):
                scheme, rest = "env", body  # ${VAR:-default} without a scheme
            else:
                self.diags.append(Diagnostic.error(
                    span, f'unsupported configuration provider "{scheme}" in "{match.group(0)}" (supported: env)'))
                return ""
        name, dsep, default = rest.partition(":-")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            self.diags.append(Diagnostic.error(span, f'environment variable "{name}" has an invalid name'))
            return ""
        value = self.env.get(name)
        if value is None or (dsep and value == ""):
            if dsep:
                return default
            self.diags.append(Diagnostic.warning(
                span, f'environment variable "{name}" is not set; using an empty value'))
            return ""
        return value
