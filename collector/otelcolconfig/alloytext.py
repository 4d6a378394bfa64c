"""Alloy text generated from YAML, with a source map back to the YAML.

The converter builds `Block`s and `Attribute`s whose values are either `YNode`s (rendered as Alloy
literals) or `Expr`s (references written by the converter). `render` writes them as Alloy text and
records, for every block header, attribute name and value it writes, the YAML span it came from.
`SourceMap.locate` maps a position in the generated text to the innermost such span, so a
diagnostic the Alloy loader reports on generated text points at the YAML that caused it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Union

from collector.config.diag import Span
from collector.config.gofmt import go_quote as quote  # Go's strconv.Quote is valid Alloy string syntax
from collector.otelcolconfig.yamlsource import YNode


@dataclass(frozen=True, slots=True)
class Expr:
    """Alloy expression text written verbatim (a reference), located at `src`."""

    text: str
    src: Span


@dataclass(frozen=True, slots=True)
class Literal:
    """A plain value the converter computed, located at `src`."""

    value: Any
    src: Span


Value = Union[YNode, Expr, Literal, list["Value"]]


@dataclass(slots=True)
class Attribute:
    name: str
    value: Value
    src: Span  # the YAML key (or whatever stands for it)


@dataclass(slots=True)
class Block:
    name: str
    label: str | None
    body: list[Attribute | Block]
    src: Span
    comment: str = ""


@dataclass
class SourceMap:
    ranges: list[tuple[int, int, Span]] = field(default_factory=list)  # generated [start, end) -> YAML

    def locate(self, offset: int) -> Span | None:
        best: tuple[int, Span] | None = None
        for start, end, span in self.ranges:
            if start <= offset < max(end, start + 1) and (best is None or end - start < best[0]):
                best = (end - start, span)
        return best[1] if best else None


class _Writer:
    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.pos = 0
        self.map = SourceMap()

    def write(self, text: str, src: Span | None = None) -> None:
        data = text.encode("utf-8")
        if src is not None:
            self.map.ranges.append((self.pos, self.pos + len(data), src))
        self.parts.append(data)
        self.pos += len(data)


def render(blocks: Sequence[Block], header: str = "") -> tuple[bytes, SourceMap]:
    w = _Writer()
    if header:
        w.write(header)
    for i, block in enumerate(blocks):
        if i or header:
            w.write("\n")
        _block(w, block, 0)
    return b"".join(w.parts), w.map


def _block(w: _Writer, block: Block, depth: int) -> None:
    indent = "\t" * depth
    start = w.pos
    if block.comment:
        for line in block.comment.splitlines():
            w.write(f"{indent}// {line}\n")
    label = f" {quote(block.label)}" if block.label is not None else ""
    w.write(indent)
    w.write(f"{block.name}{label}", block.src)
    w.write(" {\n")
    for stmt in block.body:
        if isinstance(stmt, Block):
            _block(w, stmt, depth + 1)
        else:
            w.write("\t" * (depth + 1))
            w.write(stmt.name, stmt.src)
            w.write(" = ")
            _value(w, stmt.value, depth + 1)
            w.write("\n")
    w.write(f"{indent}}}\n")
    w.map.ranges.append((start, w.pos, block.src))


def _value(w: _Writer, value: Value, depth: int) -> None:
    if isinstance(value, Expr):
        w.write(value.text, value.src)
    elif isinstance(value, Literal):
        start = w.pos
        _plain(w, value.value, depth, value.src)
        w.map.ranges.append((start, w.pos, value.src))
    elif isinstance(value, list):
        w.write("[")
        for i, item in enumerate(value):
            w.write(", " if i else "")
            _value(w, item, depth)
        w.write("]")
    else:
        _ynode(w, value, depth)


def _ynode(w: _Writer, node: YNode, depth: int) -> None:
    start = w.pos
    if isinstance(node.value, dict):
        if not node.value:
            w.write("{}")
        else:
            w.write("{\n")
            for key, child in node.value.items():
                w.write("\t" * (depth + 1))
                w.write(quote(key), child.key_span)
                w.write(" = ")
                _ynode(w, child, depth + 1)
                w.write(",\n")
            w.write("\t" * depth + "}")
    elif isinstance(node.value, list):
        w.write("[")
        for i, item in enumerate(node.value):
            w.write(", " if i else "")
            _ynode(w, item, depth)
        w.write("]")
    else:
        w.write(scalar(node.value))
    w.map.ranges.append((start, w.pos, node.span))


def _plain(w: _Writer, value: Any, depth: int, src: Span) -> None:
    if isinstance(value, dict):
        w.write("{" + ", ".join(f"{quote(str(k))} = {scalar(v)}" for k, v in value.items()) + "}")
    elif isinstance(value, list):
        w.write("[" + ", ".join(scalar(v) for v in value) + "]")
    else:
        w.write(scalar(value))


def scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return quote(str(value))
        return repr(value)
    return quote(str(value))
