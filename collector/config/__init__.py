"""The Alloy configuration language: scanner, parser, AST, evaluator, standard library, formatter.

Imports no components; the pipeline loader builds on `parse`, `Evaluator` and `references`.
"""

from __future__ import annotations

from collector.config import ast
from collector.config.diag import (
    Diagnostic,
    DiagnosticError,
    Severity,
    Sources,
    Span,
    render,
    summarize,
)
from collector.config.evaluator import EvalError, Evaluator, FunctionError, references
from collector.config.files import read_config
from collector.config.parser import parse, parse_expression
from collector.config.stdlib import DEPRECATED, STDLIB
from collector.config.units import format_duration, parse_bytesize, parse_duration
from collector.config.values import Function, Secret, type_name

__all__ = [
    "DEPRECATED",
    "Diagnostic",
    "DiagnosticError",
    "EvalError",
    "Evaluator",
    "Function",
    "FunctionError",
    "STDLIB",
    "Secret",
    "Severity",
    "Sources",
    "Span",
    "ast",
    "format_duration",
    "parse",
    "parse_bytesize",
    "parse_duration",
    "parse_expression",
    "read_config",
    "references",
    "render",
    "summarize",
    "type_name",
]
