"""Print a syntax tree back to OTTL text (canonical spacing, minimal parentheses). Parsing the
output gives an equal tree; the parser property test relies on that."""

from __future__ import annotations

from collector.ottl import ast

_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2}


def quote(s: str) -> str:
    out = ['"']
    for c in s:
        if c == '"':
            out.append('\\"')
        elif c == "\\":
            out.append("\\\\")
        elif c == "\n":
            out.append("\\n")
        elif c == "\t":
            out.append("\\t")
        elif c == "\r":
            out.append("\\r")
        elif ord(c) < 0x20 or ord(c) == 0x7F:
            out.append(f"\\x{ord(c):02x}")
        else:
            out.append(c)
    out.append('"')
    return "".join(out)


def _literal(v: ast.Scalar) -> str:
    if v is None:
        return "nil"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return quote(v)
    if isinstance(v, bytes):
        return "0x" + v.hex()
    if isinstance(v, float):
        text = repr(v)
        return text if any(c in text for c in ".eEn") else text + ".0"
    return str(v)


def _keys(keys: tuple[ast.Value, ...]) -> str:
    return "".join(f"[{print_value(k)}]" for k in keys)


def _call(c: ast.Call) -> str:
    args = ", ".join((f"{a.name} = " if a.name else "") + print_value(a.value) for a in c.args)
    return f"{c.name}({args}){_keys(c.keys)}"


def print_value(v: ast.Value, parent_prec: int = 0, right: bool = False) -> str:
    if isinstance(v, ast.Literal):
        text = _literal(v.value)
        # a negative number as a product operand or right operand must stay one factor
        if text.startswith("-") and (parent_prec > 0):
            return f"({text})"
        return text
    if isinstance(v, ast.Enum):
        return v.name
    if isinstance(v, ast.MapLit):
        return "{" + ", ".join(f"{quote(k)}: {print_value(x)}" for k, x in v.items) + "}"
    if isinstance(v, ast.ListLit):
        return "[" + ", ".join(print_value(x) for x in v.items) + "]"
    if isinstance(v, ast.Path):
        return ".".join(v.fields) + _keys(v.keys)
    if isinstance(v, ast.Call):
        return _call(v)
    if isinstance(v, ast.Neg):
        return "-" + print_value(v.operand, 3)
    if isinstance(v, ast.MathOp):
        prec = _PRECEDENCE[v.op]
        text = f"{print_value(v.left, prec)} {v.op} {print_value(v.right, prec, right=True)}"
        if prec < parent_prec or (prec == parent_prec and right):
            return f"({text})"
        return text
    raise TypeError(f"not a value node: {v!r}")


def print_bool(b: ast.BoolExpr, nested: bool = False) -> str:
    if isinstance(b, ast.Or):
        text = " or ".join(print_bool(x, True) for x in b.items)
        return f"({text})" if nested else text
    if isinstance(b, ast.And):
        text = " and ".join(print_bool(x, True) for x in b.items)
        return f"({text})" if nested else text
    if isinstance(b, ast.Not):
        return "not " + print_bool(b.operand, True)
    if isinstance(b, ast.Comparison):
        return f"{print_value(b.left)} {b.op} {print_value(b.right)}"
    return print_value(b)


def print_statement(s: ast.Statement) -> str:
    text = _call(s.editor)
    if s.where is not None:
        text += " where " + print_bool(s.where)
    return text
