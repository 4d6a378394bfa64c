"""A JSONPath subset for the `json_path` function: `$`, `.key`, `['key']`, `[n]`, `[*]`, `.*`,
`..key` and `..*`. Results are always a list, empty when nothing matches."""

from __future__ import annotations

import re
from typing import Any

_STEP = re.compile(
    r"""\.\.(?P<deep>[A-Za-z_][\w-]*|\*)
      | \.(?P<key>[A-Za-z_][\w-]*|\*)
      | \[\s*(?:'(?P<sq>(?:[^'\\]|\\.)*)'|"(?P<dq>(?:[^"\\]|\\.)*)"|(?P<num>-?\d+)|(?P<star>\*))\s*\]
    """,
    re.VERBOSE,
)


def compile_path(path: str) -> list[tuple[str, Any]]:
    text = path.strip()
    if not text.startswith("$"):
        # Allow a bare `key.sub` for convenience, as several JSONPath libraries do.
        text = "$." + text if text else "$"
    steps: list[tuple[str, Any]] = []
    pos = 1
    while pos < len(text):
        m = _STEP.match(text, pos)
        if m is None:
            raise ValueError(f"invalid JSONPath {path!r} at offset {pos}")
        if m.group("deep") is not None:
            steps.append(("deep", m.group("deep")))
        elif m.group("key") is not None:
            key = m.group("key")
            steps.append(("all", None) if key == "*" else ("key", key))
        elif m.group("sq") is not None or m.group("dq") is not None:
            raw = m.group("sq") if m.group("sq") is not None else m.group("dq")
            steps.append(("key", re.sub(r"\\(.)", r"\1", raw)))
        elif m.group("num") is not None:
            steps.append(("index", int(m.group("num"))))
        else:
            steps.append(("all", None))
        pos = m.end()
    return steps


def _children(node: Any) -> list[Any]:
    if isinstance(node, dict):
        return list(node.values())
    if isinstance(node, list):
        return list(node)
    return []


def _descendants(node: Any) -> list[Any]:
    out = [node]
    for child in _children(node):
        out.extend(_descendants(child))
    return out


def query(document: Any, path: str) -> list[Any]:
    nodes = [document]
    for kind, arg in compile_path(path):
        nxt: list[Any] = []
        for node in nodes:
            if kind == "key":
                if isinstance(node, dict) and arg in node:
                    nxt.append(node[arg])
            elif kind == "index":
                if isinstance(node, list) and -len(node) <= arg < len(node):
                    nxt.append(node[arg])
            elif kind == "all":
                nxt.extend(_children(node))
            else:
                for d in _descendants(node):
                    if arg == "*":
                        nxt.extend(_children(d))
                    elif isinstance(d, dict) and arg in d:
                        nxt.append(d[arg])
        nodes = nxt
    return nodes
