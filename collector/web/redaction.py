"""Configuration source with its secrets hidden, for anything that hands the configuration out
(the support bundle): `redact_config(source)`.

An attribute is secret when its schema type is Alloy's `secret` (`Secret`, also inside a list, a
map or an optional), whatever expression the user wrote for it; its value expression is replaced
by `"<secret>"`; so is the value of a credential header (`Authorization`, `X-Api-Key`, ...) in
a map written literally, such as an exporter's `headers`. Then every URL left in the text loses its userinfo password and credential query
values (`collector/config/redact.py`). A source that does not parse is redacted by the URL rules
only (its secret attributes cannot be told apart), which is said in the returned note.
"""

from __future__ import annotations

import typing
from typing import Any

import msgspec

from collector.config import ast
from collector.config.redact import is_secret_header, redact_config_source, redact_text
from collector.config.values import Secret
from collector.pipeline.schema import FieldKind, schema_of, strip_annotated


def _holds_secret(annotation: Any) -> bool:
    tp = strip_annotated(annotation)
    if tp is Secret:
        return True
    return any(_holds_secret(arg) for arg in typing.get_args(tp))


def _block_schema(block: ast.Block) -> type[msgspec.Struct] | None:
    from collector.components.kit.registry import lookup
    from collector.pipeline.configblocks import CONFIG_BLOCKS

    info = lookup(block.full_name)
    if info is not None:
        return info.arguments
    return CONFIG_BLOCKS.get(block.full_name)


def _spans(body: tuple[ast.Statement, ...], struct: type[msgspec.Struct], out: list[tuple[int, int]]) -> None:
    fields = schema_of(struct).fields
    for stmt in body:
        if isinstance(stmt, ast.Attribute):
            spec = fields.get(stmt.name)
            if spec is not None and _holds_secret(spec.type):
                out.append((stmt.value.span.start, stmt.value.span.end))
            elif isinstance(stmt.value, ast.ObjectExpr):  # a headers map: its Authorization value
                out.extend((f.value.span.start, f.value.span.end) for f in stmt.value.fields
                           if is_secret_header(f.key))
        else:
            spec = fields.get(stmt.full_name)
            if spec is not None and spec.kind is not FieldKind.ATTRIBUTE and spec.block_type is not None:
                _spans(stmt.body, spec.block_type, out)


def secret_spans(source: bytes, filename: str = "config.alloy") -> list[tuple[int, int]] | None:
    """Byte ranges of the values of secret attributes in an Alloy source; None if it does not parse."""
    from collector.config.parser import parse

    tree, diags = parse(source, filename)
    if any(d.severity.value == "error" for d in diags):
        return None
    out: list[tuple[int, int]] = []
    for stmt in tree.body:
        if isinstance(stmt, ast.Block):
            struct = _block_schema(stmt)
            if struct is not None:
                _spans(stmt.body, struct, out)
    return out


def redact_config(source: bytes, filename: str = "config.alloy") -> str:
    """The configuration text with secret attribute values and URL credentials replaced by
    `<secret>`. Offsets are bytes, so the replacement is done on bytes before decoding."""
    spans = secret_spans(source, filename)
    if spans is None:
        return redact_text(source.decode("utf-8", "replace"))
    # redact_config_source works on characters: decode each piece around the byte ranges
    pieces: list[str] = []
    char_spans: list[tuple[int, int]] = []
    cursor = 0
    position = 0
    for start, end in sorted(spans):
        if start < cursor:
            continue
        text = source[cursor:start].decode("utf-8", "replace")
        pieces.append(text)
        position += len(text)
        secret = source[start:end].decode("utf-8", "replace")
        char_spans.append((position, position + len(secret)))
        pieces.append(secret)
        position += len(secret)
        cursor = end
    pieces.append(source[cursor:].decode("utf-8", "replace"))
    return redact_config_source("".join(pieces), char_spans)
