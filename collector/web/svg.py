"""Render the graph document (collector/web/api.py `graph`) as a standalone SVG.

Nodes are boxes with a stripe coloured by component kind and a border coloured by health; each
links to its detail page. Edges are smooth curves through grandalf's routing points in the layout's
direction (left to right, or top to bottom), coloured by signal, with one label line per signal
carried ("traces 12/s"). Labels sit beside their edge, never on it: at the middle of the curve,
offset along the normal, on the side away from the flow. Every node and every label carries
`data-*` attributes, so tests find them without parsing geometry.
"""

from __future__ import annotations

import math
from html import escape
from typing import Any
from urllib.parse import quote

KIND_COLOURS = {
    "receiver": "#2563eb",
    "processor": "#7c3aed",
    "connector": "#0d9488",
    "exporter": "#ea580c",
    "prometheus": "#c2410c",
    "discovery": "#4d7c0f",
    "auth": "#6b7280",
}
HEALTH_COLOURS = {"healthy": "#16a34a", "unhealthy": "#dc2626", "unknown": "#9ca3af", "exited": "#4b5563"}
SIGNAL_COLOURS = {"metrics": "#b45309", "logs": "#047857", "traces": "#1d4ed8", None: "#64748b"}
_CHAR_WIDTH = 6.9  # average advance of the 12px sans-serif used below, to shrink long names only
_LINE = 14.0
_LABEL_OFFSET = 7.0  # distance between an edge and its label
_FONT = 11.5


def format_rate(rate: float | None) -> str:
    if rate is None:
        return "—"
    if rate >= 1_000_000:
        return f"{rate / 1_000_000:.1f}M/s"
    if rate >= 1000:
        return f"{rate / 1000:.1f}k/s"
    if rate >= 10 or rate == 0:
        return f"{rate:.0f}/s"
    return f"{rate:.1f}/s"


def render(graph: dict[str, Any]) -> str:
    width, height = graph["width"], graph["height"]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="graph" data-direction="{graph.get("direction", "LR")}" '
        f'width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="system-ui, -apple-system, Segoe UI, sans-serif">',
        "<defs>",
        *(f'<marker id="arrow-{_key(s)}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
          f'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{c}"/></marker>'
          for s, c in SIGNAL_COLOURS.items()),
        "</defs>",
    ]
    by_pair: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for edge in graph["edges"]:
        by_pair.setdefault((edge["source"], edge["target"]), []).append(edge)
    vertical = graph.get("direction") == "TB"
    for (source, target), edges in by_pair.items():
        parts.append(_edge(source, target, edges, vertical))
    for node in graph["nodes"]:
        parts.append(_node(node))
    for (source, target), edges in by_pair.items():  # labels last: drawn over lines and boxes
        parts.append(_labels(source, target, edges, vertical))
    parts.append("</svg>")
    return "\n".join(parts)


def _key(signal: str | None) -> str:
    return signal or "other"


def _edge(source: str, target: str, edges: list[dict[str, Any]], vertical: bool = False) -> str:
    points = edges[0]["points"]
    if len(points) < 2:
        return ""
    signals = {e["signal"] for e in edges}
    signal = next(iter(signals)) if len(signals) == 1 else None
    colour = SIGNAL_COLOURS.get(signal, SIGNAL_COLOURS[None])
    return (f'<path class="edge" data-source="{escape(source)}" data-target="{escape(target)}" '
            f'd="{_curve(points, vertical)}" fill="none" stroke="{colour}" stroke-width="1.8" '
            f'marker-end="url(#arrow-{_key(signal)})"/>')


def _curve(points: list[list[float]], vertical: bool = False) -> str:
    """Cubic segments with tangents along the flow (horizontal, or vertical for top to bottom)."""
    (x0, y0), rest = points[0], points[1:]
    d = [f"M{x0:.1f},{y0:.1f}"]
    for x1, y1 in rest:
        if vertical:
            mid = (y0 + y1) / 2
            d.append(f"C{x0:.1f},{mid:.1f} {x1:.1f},{mid:.1f} {x1:.1f},{y1:.1f}")
        else:
            mid = (x0 + x1) / 2
            d.append(f"C{mid:.1f},{y0:.1f} {mid:.1f},{y1:.1f} {x1:.1f},{y1:.1f}")
        x0, y0 = x1, y1
    return " ".join(d)


def label_place(points: list[list[float]], vertical: bool = False) -> tuple[float, float, str, float, float]:
    """Where an edge's labels go: (x, y, text-anchor, nx, ny), a point beside the middle of the
    curve and the unit normal it was pushed along. The normal points up for left-to-right edges
    and right for top-to-bottom ones, so labels of one layout all sit on the same side of their
    edges, clear of the line: text extends away from the curve in the normal's direction."""
    k = (len(points) - 1) // 2
    (x0, y0), (x1, y1) = points[k], points[k + 1]
    mx, my = (x0 + x1) / 2, (y0 + y1) / 2  # a symmetric cubic's point at t = 1/2
    dx, dy = x1 - x0, y1 - y0
    tx, ty = (2 * dx, dy) if vertical else (dx, 2 * dy)  # its tangent there (up to a factor)
    length = math.hypot(tx, ty) or 1.0
    nx, ny = -ty / length, tx / length
    if (vertical and nx < 0) or (not vertical and ny > 0):
        nx, ny = -nx, -ny
    anchor = "start" if nx > 0.35 else "end" if nx < -0.35 else "middle"
    return mx + nx * _LABEL_OFFSET, my + ny * _LABEL_OFFSET, anchor, nx, ny


def _labels(source: str, target: str, edges: list[dict[str, Any]], vertical: bool = False) -> str:
    points = edges[0]["points"]
    if len(points) < 2:
        return ""
    x, y, anchor, _nx, ny = label_place(points, vertical)
    ordered = sorted(edges, key=lambda e: e["signal"] or "")
    block = len(ordered) * _LINE
    # the block of lines grows away from the edge: upwards above it, downwards below it
    if ny < -0.35:
        top = y - block
    elif ny > 0.35:
        top = y
    else:
        top = y - block / 2
    lines = []
    for i, edge in enumerate(ordered):
        name = edge["signal"] or edge["kind"]
        text = f"{name} {format_rate(edge['rate'])}" if edge["signal"] else name
        colour = SIGNAL_COLOURS.get(edge["signal"], SIGNAL_COLOURS[None])
        lines.append(
            f'<text class="edge-label" data-edge="{escape(source)}|{escape(target)}|{escape(str(edge["signal"]))}" '
            f'x="{x:.1f}" y="{top + (i + 1) * _LINE - 3:.1f}" text-anchor="{anchor}" font-size="{_FONT}" '
            f'fill="{colour}" stroke="#ffffff" stroke-width="4" paint-order="stroke" '
            f'stroke-linejoin="round">{escape(text)}</text>')
    return "\n".join(lines)


def _node(node: dict[str, Any]) -> str:
    x, y, w, h = node["x"], node["y"], node["width"], node["height"]
    state = node["health"]["state"]
    border = HEALTH_COLOURS.get(state, HEALTH_COLOURS["unknown"])
    stripe = KIND_COLOURS.get(node["kind"], "#6b7280")
    rates = node["itemsPerSecond"]
    status = f"{state} · in {format_rate(rates['in'])} · out {format_rate(rates['out'])}"
    title = f"{node['id']}\n{state}: {node['health']['message']}"
    return "".join([
        f'<a class="node" href="/component/{quote(node["id"])}" data-id="{escape(node["id"])}" '
        f'data-kind="{escape(node["kind"])}" data-health="{escape(state)}">',
        f"<title>{escape(title)}</title>",
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" rx="6" fill="#ffffff" stroke="{border}" '
        f'stroke-width="{3 if state == "unhealthy" else 1.6}"/>',
        f'<rect x="{x:.1f}" y="{y:.1f}" width="8" height="{h:.1f}" rx="3" fill="{stripe}"/>',
        _text(node["name"], x + 16, y + 19, w - 24, 'font-size="12" font-weight="600" fill="#111827"'),
        _text(node["label"], x + 16, y + 36, w - 24, 'font-size="12" fill="#374151"'),
        f'<circle cx="{x + 20:.1f}" cy="{y + 50:.1f}" r="4" fill="{border}"/>',
        _text(status, x + 29, y + 54, w - 37, 'class="node-status" font-size="11" fill="#4b5563"'),
        "</a>",
    ])


def _text(text: str, x: float, y: float, room: float, attrs: str) -> str:
    fit = f' textLength="{room:.0f}" lengthAdjust="spacingAndGlyphs"' if len(text) * _CHAR_WIDTH > room else ""
    return f'<text x="{x:.1f}" y="{y:.1f}" {attrs}{fit}>{escape(text)}</text>'
