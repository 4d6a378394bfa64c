"""Small builders: one-record requests and a run-one-statement helper for golden tests."""

from __future__ import annotations

from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from collector.ottl.runner import compile_group, run_group
from collector.ottl.values import map_from_python, map_to_python, to_any
from collector.signals import Signal


def logs_request(attributes: dict[str, Any], body: Any = None, resource: dict[str, Any] | None = None,
                 **fields: Any) -> ExportLogsServiceRequest:
    req = ExportLogsServiceRequest()
    rl = req.resource_logs.add()
    map_from_python(rl.resource.attributes, resource or {})
    sl = rl.scope_logs.add()
    sl.scope.name = "lib"
    record = sl.log_records.add()
    map_from_python(record.attributes, attributes)
    if body is not None:
        to_any(record.body, body)
    for name, value in fields.items():
        setattr(record, name, value)
    return req


def run_log(statements: list[str], attributes: dict[str, Any], *, error_mode: str = "ignore",
            body: Any = None, **fields: Any) -> tuple[dict[str, Any], list[str], Any]:
    """Run statements on one log record; returns (attributes after, error messages, record)."""
    req = logs_request(attributes, body, **fields)
    errors: list[str] = []
    group = compile_group("log", statements, error_mode=error_mode)  # type: ignore[arg-type]
    run_group(req, Signal.LOGS.spec, group, lambda text, exc: errors.append(str(exc)))
    record = req.resource_logs[0].scope_logs[0].log_records[0]
    return map_to_python(record.attributes), errors, record
