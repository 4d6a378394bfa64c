"""OTTL, the OpenTelemetry Transformation Language: parse, compile once to closures, run in place
on decoded OTLP messages. Public API: `compile_group`, `run_group`, `compile_conditions`,
`filter_request`, `OttlSyntaxError`, `PropagateError`, `GroupCompileError`."""

from collector.ottl.errors import OttlError, OttlRuntimeError, OttlSyntaxError
from collector.ottl.filtering import Matcher, filter_request
from collector.ottl.runner import (
    CompiledGroup, GroupCompileError, PropagateError, compile_conditions, compile_group, run_group,
)

__all__ = [
    "CompiledGroup", "GroupCompileError", "Matcher", "OttlError", "OttlRuntimeError", "OttlSyntaxError",
    "PropagateError", "compile_conditions", "compile_group", "filter_request", "run_group",
]
