"""Where a loaded configuration's secrets are in its source text, so the bundle can blank them.

The evaluated arguments know which values are secrets (their schema type is `secret`), the parsed
source knows where each attribute's value is written; walking both together finds the byte ranges
of every secret attribute whatever its block nesting. `collector.config.redact` then replaces those
ranges and every credential in URLs (userinfo passwords, token query parameters). As a second net,
any secret value still present verbatim (a YAML file, where the ranges are the converted Alloy's)
is replaced too.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import msgspec

from collector.config import ast
from collector.config.redact import SECRET_TEXT, redact_config_source, redact_text
from collector.config.values import Secret
from collector.pipeline.model import Pipeline
from collector.pipeline.schema import FieldKind, schema_of

_MIN_VERBATIM = 4  # shorter secret values would blank unrelated text; their attributes are blanked by range


def redacted_sources(pipeline: Pipeline) -> dict[str, str]:
    """Every configuration file of `pipeline`, file name -> text with its secrets replaced."""
    from collector.config.parser import parse

    values = sorted({v for v in _secret_values(pipeline) if len(v) >= _MIN_VERBATIM}, key=len, reverse=True)
    out: dict[str, str] = {}
    for name, source in pipeline.sources.items():
        tree, diags = parse(source, name)
        ranges = [] if diags else list(_secret_ranges(tree, pipeline))
        text = source.decode("utf-8", errors="replace")
        char_ranges = [(len(source[:start].decode("utf-8", errors="replace")),
                        len(source[:end].decode("utf-8", errors="replace"))) for start, end in ranges]
        text = redact_config_source(text, char_ranges)
        for value in values:
            text = text.replace(value, SECRET_TEXT)
        out[name] = text
    return out


def redacted_lines(text: str, pipeline: Pipeline) -> str:
    """Log text with URL credentials and any configured secret value blanked."""
    text = redact_text(text)
    for value in sorted({v for v in _secret_values(pipeline) if len(v) >= _MIN_VERBATIM}, key=len, reverse=True):
        text = text.replace(value, SECRET_TEXT)
    return text


def _statement_structs(tree: ast.File, pipeline: Pipeline) -> Iterator[tuple[ast.Block, msgspec.Struct]]:
    for statement in tree.body:
        if not isinstance(statement, ast.Block):
            continue
        node = pipeline.nodes.get(statement.id)
        if node is not None:
            yield statement, node.args
        elif statement.full_name in pipeline.config_blocks:
            yield statement, pipeline.config_blocks[statement.full_name]


def _secret_ranges(tree: ast.File, pipeline: Pipeline) -> Iterator[tuple[int, int]]:
    for block, struct in _statement_structs(tree, pipeline):
        yield from _walk(block.body, struct)


def _walk(body: tuple[ast.Statement, ...], struct: msgspec.Struct) -> Iterator[tuple[int, int]]:
    try:
        fields = schema_of(type(struct)).fields
    except Exception:  # noqa: BLE001 - a struct the schema reader does not know: nothing to locate
        return
    seen: dict[str, int] = {}
    for statement in body:
        if isinstance(statement, ast.Attribute):
            spec = fields.get(statement.name)
            if spec is not None and spec.kind is FieldKind.ATTRIBUTE and _holds_secret(getattr(struct, spec.attr, None)):
                yield statement.value.span.start, statement.value.span.end
            continue
        spec = fields.get(statement.full_name)
        if spec is None:
            continue
        value = getattr(struct, spec.attr, None)
        if spec.kind is FieldKind.BLOCKS and isinstance(value, list):
            index = seen.get(spec.name, 0)
            seen[spec.name] = index + 1
            value = value[index] if index < len(value) else None
        if isinstance(value, msgspec.Struct):
            yield from _walk(statement.body, value)


def _holds_secret(value: Any) -> bool:
    if isinstance(value, Secret):
        return True
    if isinstance(value, dict):
        return any(_holds_secret(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_holds_secret(v) for v in value)
    return False


def _secret_values(pipeline: Pipeline) -> Iterator[str]:
    for node in pipeline.nodes.values():
        yield from _secrets_in(node.args)
    for struct in pipeline.config_blocks.values():
        yield from _secrets_in(struct)


def _secrets_in(value: Any) -> Iterator[str]:
    if isinstance(value, Secret):
        if str(value):
            yield str(value)
    elif isinstance(value, msgspec.Struct):
        for field in msgspec.structs.fields(value):
            yield from _secrets_in(getattr(value, field.name, None))
    elif isinstance(value, dict):
        for item in value.values():
            yield from _secrets_in(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _secrets_in(item)
