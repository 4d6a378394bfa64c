"""`otelcol.storage.file`: Alloy's arguments, the ones refused, and the handler an exporter receives."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.config.diag import DiagnosticError, Sources, format_one
from collector.pipeline.loader import load_sources

EXPORTER = """
otelcol.storage.file "q" {{
{storage}
}}

otelcol.exporter.otlphttp "out" {{
  client {{
    endpoint = "http://127.0.0.1:1"
  }}
  sending_queue {{
    storage = otelcol.storage.file.q.handler
  }}
}}
"""


def _load(storage: str, storage_path: Path = Path("/var/lib/collector")) -> object:
    return load_sources(Sources({"main.alloy": EXPORTER.format(storage=storage).encode()}), storage_path=storage_path)


def _errors(storage: str) -> list[str]:
    with pytest.raises(DiagnosticError) as info:
        _load(storage)
    return [format_one(d, info.value.sources) for d in info.value.diagnostics]


def test_handler_defaults_under_the_storage_path_and_reaches_the_exporter() -> None:
    pipeline = _load("")
    args = pipeline.nodes["otelcol.exporter.otlphttp.out"].args  # type: ignore[attr-defined]
    handler = args.sending_queue.storage
    assert handler.directory == Path("/var/lib/collector/otelcol.storage.file.q")
    assert (handler.fsync, handler.timeout, handler.create_directory, handler.directory_permissions) == (
        False, 1.0, True, 0o750)
    assert handler.queue_directory("otelcol.exporter.otlphttp.out", None, 0).name == "any-0"


def test_applied_arguments_reach_the_handler() -> None:
    pipeline = _load('  directory = "/srv/q"\n  fsync = true\n  timeout = "3s"\n  create_directory = false\n'
                     '  directory_permissions = "0700"\n  compaction {\n    on_start = true\n'
                     '    on_rebound = true\n    max_transaction_size = 1024\n  }')
    handler = pipeline.nodes["otelcol.exporter.otlphttp.out"].args.sending_queue.storage  # type: ignore[attr-defined]
    assert (handler.directory, handler.fsync, handler.timeout, handler.create_directory,
            handler.directory_permissions, handler.compact_on_start, handler.compaction_chunk) == (
        Path("/srv/q"), True, 3.0, False, 0o700, True, 1024)


@pytest.mark.parametrize("storage,message", [
    ('  compaction {\n    directory = "/tmp"\n  }', "compaction.directory is not supported"),
    ("  compaction {\n    rebound_needed_threshold_mib = 5\n  }", "rebound_needed_threshold_mib is not supported"),
    ('  compaction {\n    check_interval = "1s"\n  }', "check_interval is not supported"),
    ('  directory_permissions = "rwx"', "not an octal number"),
    ('  timeout = "-1s"', "timeout must not be negative"),
])
def test_arguments_we_do_not_apply_are_refused(storage: str, message: str) -> None:
    errors = _errors(storage)
    assert any(message in error for error in errors), errors


def test_storage_without_an_enabled_queue_is_refused() -> None:
    text = EXPORTER.format(storage="").replace("sending_queue {", "sending_queue {\n    enabled = false")
    with pytest.raises(DiagnosticError) as info:
        load_sources(Sources({"main.alloy": text.encode()}))
    assert any("storage needs the sending queue" in format_one(d, info.value.sources) for d in info.value.diagnostics)


def test_storage_must_be_a_storage_handler() -> None:
    text = EXPORTER.format(storage="").replace("otelcol.storage.file.q.handler", '"a string"')
    with pytest.raises(DiagnosticError):
        load_sources(Sources({"main.alloy": text.encode()}))
