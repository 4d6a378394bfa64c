"""Evaluator: `ast.Expr` -> Python value (A.5).

Theory of operation: the scope is a nested mapping (component exports as nested dicts, module
arguments, the standard library), so a dotted chain like `otelcol.processor.batch.default.input`
is just repeated field access. Values are plain Python objects (see `values.py`); because `bool` is
an `int` in Python, every numeric check goes through `is_number`. Both sides of `&&`/`||` are
always evaluated, as in Alloy. Errors raise `EvalError` with the span of the offending expression.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Mapping
from typing import Any, Callable

from collector.config import ast
from collector.config.diag import Diagnostic, Span
from collector.config.values import Function, Secret, is_number, type_name, values_equal


class EvalError(Exception):
    def __init__(self, span: Span, message: str) -> None:
        super().__init__(message)
        self.span = span
        self.message = message

    def diagnostic(self) -> Diagnostic:
        return Diagnostic.error(self.span, self.message)


class FunctionError(Exception):
    """Raised by standard-library functions for bad arguments; becomes an EvalError at the call."""


def _stdlib() -> Mapping[str, Any]:
    from collector.config.stdlib import STDLIB

    return STDLIB


def _deprecated() -> Mapping[str, str]:
    from collector.config.stdlib import DEPRECATED

    return DEPRECATED


# after both operands are checked to be numbers, or strings compared as UTF-8 bytes
_ORDERING: dict[str, Callable[[Any, Any], Any]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}


class Evaluator:
    """Evaluates expressions against a scope; falls back to the standard library for names."""

    def __init__(self, scope: Mapping[str, Any], *, stdlib: Mapping[str, Any] | None = None) -> None:
        self.scope = scope
        self.stdlib = _stdlib() if stdlib is None else stdlib
        self.warnings: list[Diagnostic] = []

    def evaluate(self, expr: ast.Expr) -> Any:
        method = _DISPATCH.get(type(expr))
        if method is None:
            raise EvalError(expr.span, f"cannot evaluate {type(expr).__name__}")
        return method(self, expr)

    # -- leaves ---------------------------------------------------------------------------

    def _literal(self, expr: ast.Literal) -> Any:
        return expr.value

    def _identifier(self, expr: ast.Identifier) -> Any:
        name = expr.name
        if name in self.scope:
            return self.scope[name]
        if name in self.stdlib:
            replacement = _deprecated().get(name)
            if replacement is not None:
                self.warnings.append(Diagnostic.warning(
                    expr.span, f"{name} is deprecated; use {replacement} instead"))
            return self.stdlib[name]
        raise EvalError(expr.span, f'identifier "{name}" does not exist')

    def _paren(self, expr: ast.Paren) -> Any:
        return self.evaluate(expr.inner)

    def _array(self, expr: ast.ArrayExpr) -> Any:
        return [self.evaluate(e) for e in expr.elements]

    def _object(self, expr: ast.ObjectExpr) -> Any:
        return {f.key: self.evaluate(f.value) for f in expr.fields}

    # -- postfix --------------------------------------------------------------------------

    def _access(self, expr: ast.Access) -> Any:
        value = self.evaluate(expr.value)
        if isinstance(value, Mapping):
            if expr.name not in value:
                raise EvalError(expr.name_span, f'field "{expr.name}" does not exist')
            return value[expr.name]
        raise EvalError(
            expr.name_span,
            f'cannot access field "{expr.name}" on value of type {type_name(value)}',
        )

    def _index(self, expr: ast.Index) -> Any:
        value = self.evaluate(expr.value)
        index = self.evaluate(expr.index)
        if isinstance(value, (list, tuple)):
            if not is_number(index):
                raise EvalError(expr.index.span, f"expected number, got {type_name(index)}")
            if isinstance(index, float) and not index.is_integer():
                raise EvalError(expr.index.span, f"index {index} is not an integer")
            i = int(index)
            if i < 0 or i >= len(value):
                raise EvalError(
                    expr.index.span,
                    f"index {i} is out of range of array with length {len(value)}",
                )
            return value[i]
        if isinstance(value, Mapping):
            if not isinstance(index, str) or isinstance(index, Secret):
                raise EvalError(expr.index.span, f"expected string, got {type_name(index)}")
            return value.get(index)
        raise EvalError(expr.value.span, f"expected object or array, got {type_name(value)}")

    def _call(self, expr: ast.Call) -> Any:
        func = self.evaluate(expr.func)
        if not isinstance(func, Function):
            raise EvalError(expr.func.span, f"expected function, got {type_name(func)}")
        args = [self.evaluate(a) for a in expr.args]
        try:
            return func.call(*args)
        except EvalError:
            raise
        except (FunctionError, TypeError, ValueError, OverflowError) as exc:
            raise EvalError(expr.span, f"{func.name}: {exc}") from exc

    # -- operators ------------------------------------------------------------------------

    def _unary(self, expr: ast.Unary) -> Any:
        value = self.evaluate(expr.operand)
        if expr.op == "!":
            if not isinstance(value, bool):
                raise EvalError(expr.operand.span, f"should be bool, got {type_name(value)}")
            return not value
        if not is_number(value):
            raise EvalError(expr.operand.span, f"should be number, got {type_name(value)}")
        return -value

    def _binary(self, expr: ast.Binary) -> Any:
        left = self.evaluate(expr.left)
        right = self.evaluate(expr.right)
        op = expr.op
        if op == "==":
            return values_equal(left, right)
        if op == "!=":
            return not values_equal(left, right)
        if op in ("&&", "||"):
            for value, node in ((left, expr.left), (right, expr.right)):
                if not isinstance(value, bool):
                    raise EvalError(node.span, f"should be bool, got {type_name(value)}")
            return (left and right) if op == "&&" else (left or right)
        if op == "+" and isinstance(left, str):
            if not isinstance(right, str):
                raise EvalError(expr.right.span, f"should be string, got {type_name(right)}")
            joined = str.__add__(left, right)
            return Secret(joined) if isinstance(left, Secret) or isinstance(right, Secret) else joined
        if op in _ORDERING:
            return self._compare(expr, left, right)
        if not is_number(left):
            expected = "one of [number string]" if op == "+" else "number"
            raise EvalError(expr.left.span, f"should be {expected}, got {type_name(left)}")
        if not is_number(right):
            raise EvalError(expr.right.span, f"should be number, got {type_name(right)}")
        return _ARITHMETIC[op](expr, left, right)

    def _compare(self, expr: ast.Binary, left: Any, right: Any) -> bool:
        if is_number(left):
            if not is_number(right):
                raise EvalError(expr.right.span, f"should be number, got {type_name(right)}")
        elif isinstance(left, str) and not isinstance(left, Secret):
            if not isinstance(right, str) or isinstance(right, Secret):
                raise EvalError(expr.right.span, f"should be string, got {type_name(right)}")
            left, right = left.encode("utf-8", "surrogatepass"), right.encode("utf-8", "surrogatepass")
        else:
            raise EvalError(expr.left.span, f"should be one of [number string], got {type_name(left)}")
        return bool(_ORDERING[expr.op](left, right))


def _check_divisor(expr: ast.Binary, right: int | float) -> None:
    if right == 0:
        raise EvalError(expr.span, "divide by zero error")


def _div(expr: ast.Binary, a: int | float, b: int | float) -> int | float:
    _check_divisor(expr, b)
    if isinstance(a, int) and isinstance(b, int):
        q = abs(a) // abs(b)  # Go truncates toward zero
        return q if (a >= 0) == (b >= 0) else -q
    return a / b


def _mod(expr: ast.Binary, a: int | float, b: int | float) -> int | float:
    _check_divisor(expr, b)
    if isinstance(a, int) and isinstance(b, int):
        r = abs(a) % abs(b)  # sign follows the dividend, as in Go
        return r if a >= 0 else -r
    if math.isinf(a):
        return math.nan  # Go's math.Mod(±Inf, y) is NaN; Python's fmod raises (found by fuzzing)
    return math.fmod(a, b)


_INT_BITS = 64  # Alloy's numbers are 64-bit; past that an integer result becomes a float


def _bounded(value: int | float) -> int | float:
    """An integer past 64 bits as a float: Python's integers are unbounded, and `9 ^ 999999999`
    or a long product in a configuration would otherwise cost minutes and gigabytes."""
    if isinstance(value, int) and value.bit_length() > _INT_BITS:
        try:
            return float(value)
        except OverflowError:
            return math.inf if value > 0 else -math.inf
    return value


def _pow(expr: ast.Binary, a: int | float, b: int | float) -> int | float:
    if isinstance(a, int) and isinstance(b, int) and b >= 0:
        if abs(a) <= 1 or b * max(abs(a).bit_length() - 1, 1) <= _INT_BITS:
            return _bounded(a**b)
        a = float(a)  # the exact result would not fit in 64 bits: compute it as Go's math.Pow would
    try:
        return math.pow(a, b)
    except (ValueError, OverflowError) as exc:
        raise EvalError(expr.span, f"invalid power: {exc}") from exc


_ARITHMETIC: dict[str, Callable[[ast.Binary, Any, Any], Any]] = {
    "+": lambda e, a, b: a + b,
    "-": lambda e, a, b: a - b,
    "*": lambda e, a, b: _bounded(a * b),
    "/": _div,
    "%": _mod,
    "^": _pow,
}

_DISPATCH: dict[type, Callable[[Evaluator, Any], Any]] = {
    ast.Literal: Evaluator._literal,
    ast.Identifier: Evaluator._identifier,
    ast.Paren: Evaluator._paren,
    ast.ArrayExpr: Evaluator._array,
    ast.ObjectExpr: Evaluator._object,
    ast.Access: Evaluator._access,
    ast.Index: Evaluator._index,
    ast.Call: Evaluator._call,
    ast.Unary: Evaluator._unary,
    ast.Binary: Evaluator._binary,
}


def _chain(expr: ast.Expr) -> tuple[str, ...] | None:
    """The identifier chain `a.b.c` that `expr` consists of, or None if it is anything else."""
    if isinstance(expr, ast.Identifier):
        return (expr.name,)
    if isinstance(expr, ast.Access):
        inner = _chain(expr.value)
        return None if inner is None else (*inner, expr.name)
    return None


def _children(expr: ast.Expr) -> tuple[ast.Expr, ...]:
    if isinstance(expr, (ast.Access, ast.Paren)):
        return (expr.value if isinstance(expr, ast.Access) else expr.inner,)
    if isinstance(expr, ast.Index):
        return (expr.value, expr.index)
    if isinstance(expr, ast.Call):
        return (expr.func, *expr.args)
    if isinstance(expr, ast.Unary):
        return (expr.operand,)
    if isinstance(expr, ast.Binary):
        return (expr.left, expr.right)
    if isinstance(expr, ast.ArrayExpr):
        return expr.elements
    if isinstance(expr, ast.ObjectExpr):
        return tuple(f.value for f in expr.fields)
    return ()


def references(expr: ast.Expr) -> list[tuple[tuple[str, ...], Span]]:
    """Every maximal dotted identifier chain in `expr`, in source order (A.7 step 2).

    `a.b.c[0].d` yields `a.b.c`; `sys.env("X")` yields `sys.env`. The loader resolves each chain
    to a component ID (or the standard library) to build the dependency graph.
    """
    found: list[tuple[tuple[str, ...], Span]] = []
    stack = [expr]
    while stack:
        node = stack.pop()
        chain = _chain(node)
        if chain is not None:
            found.append((chain, node.span))
            continue
        stack.extend(reversed(_children(node)))
    return found
