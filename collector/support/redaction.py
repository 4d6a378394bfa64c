"""The support bundle's redaction: configuration files and log text with their secrets blanked.

The configuration is redacted by `collector.web.redaction.redact_config` (every attribute whose
schema type is `secret`, whatever expression sets it, and URL credentials: userinfo passwords and
token query parameters), the one implementation the admin server shares. On top of it, as a
second net, every secret value the loaded configuration holds is replaced wherever it still
appears verbatim: in an OpenTelemetry Collector YAML file (which the Alloy schema walk cannot read),
in a log line that quoted one, or in the environment listing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import msgspec

from collector.config.redact import SECRET_TEXT, redact_text
from collector.config.values import Secret
from collector.pipeline.model import Pipeline
from collector.web.redaction import redact_config

_MIN_VERBATIM = 4  # shorter values would blank unrelated text; their attributes are still blanked by the schema


def redacted_sources(pipeline: Pipeline) -> dict[str, str]:
    """Every configuration file of `pipeline`, file name -> text with its secrets replaced."""
    values = _verbatim_secrets(pipeline)
    return {name: _replace(redact_config(source, name), values) for name, source in pipeline.sources.items()}


def redacted_lines(text: str, pipeline: Pipeline) -> str:
    """Log or environment text with URL credentials and every configured secret value blanked."""
    return _replace(redact_text(text), _verbatim_secrets(pipeline))


def _replace(text: str, values: list[str]) -> str:
    for value in values:
        text = text.replace(value, SECRET_TEXT)
    return text


def _verbatim_secrets(pipeline: Pipeline) -> list[str]:
    found: set[str] = set()
    for node in pipeline.nodes.values():
        found.update(_secrets_in(node.args))
    for struct in pipeline.config_blocks.values():
        found.update(_secrets_in(struct))
    return sorted((v for v in found if len(v) >= _MIN_VERBATIM), key=len, reverse=True)


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
