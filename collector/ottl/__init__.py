"""OTTL, the OpenTelemetry Transformation Language: parse, compile once to closures, run in place
on decoded OTLP messages. Public API: `compile_group`, `run_group`, `compile_conditions`,
`OttlSyntaxError`, `PropagateError`, `GroupCompileError`, and `Splicer` (runs a
group of constant attribute `set`s on serialized requests)."""

from collector.ottl.errors import OttlError, OttlRuntimeError, OttlSyntaxError
from collector.ottl.runner import (
    CompiledGroup, GroupCompileError, PropagateError, compile_conditions, compile_group, run_group, visit_fn,
)
from collector.ottl.splice import Splicer, SpliceError

__all__ = [
    "CompiledGroup", "GroupCompileError", "OttlError", "OttlRuntimeError", "OttlSyntaxError",
    "PropagateError", "SpliceError", "Splicer", "compile_conditions", "compile_group", "run_group",
    "visit_fn",
]
