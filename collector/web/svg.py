"""Render the graph document (collector/web/api.py `graph`) as a standalone SVG.

Nodes are boxes with a stripe coloured by component kind and a border coloured by health; each
links to its detail page. Edges are smooth left-to-right curves through grandalf's routing points,
coloured by signal, with one label line per signal carried ("traces 12/s"). Every node and every
label carries `data-*` attributes, so tests find them without parsing geometry.
"""

from __future__ import annotations

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
        f'<svg xmlns="http://www.w3.org/2000/svg" class="graph" width="{width:.0f}" height="{height:.0f}" '
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
    for (source, target), edges in by_pair.items():
        parts.append(_edge(source, target, edges))
    for node in graph["nodes"]:
        parts.append(_node(node))
    for (source, target), edges in by_pair.items():  # labels last: drawn over lines and boxes
        parts.append(_labels(source, target, edges))
    parts.append("</svg>")
    return "\n".join(parts)


def _key(signal: str | None) -> str:
    return signal or "other"


def _edge(source: str, target: str, edges: list[dict[str, Any]]) -> str:
    points = edges[0]["points"]
    if len(points) < 2:
        return ""
    signals = {e["signal"] for e in edges}
    signal = next(iter(signals)) if len(signals) == 1 else None
    colour = SIGNAL_COLOURS.get(signal, SIGNAL_COLOURS[None])
    return (f'<path class="edge" data-source="{escape(source)}" data-target="{escape(target)}" d="{_curve(points)}" '
            f'fill="none" stroke="{colour}" stroke-width="1.8" marker-end="url(#arrow-{_key(signal)})"/>')


def _curve(points: list[list[float]]) -> str:
    """Cubic segments with horizontal tangents: reads as flow from left to right."""
    (x0, y0), rest = points[0], points[1:]
    d = [f"M{x0:.1f},{y0:.1f}"]
    for x1, y1 in rest:
        mid = (x0 + x1) / 2
        d.append(f"C{mid:.1f},{y0:.1f} {mid:.1f},{y1:.1f} {x1:.1f},{y1:.1f}")
        x0, y0 = x1, y1
    return " ".join(d)


def _labels(source: str, target: str, edges: list[dict[str, Any]]) -> str:
    points = edges[0]["points"]
    if len(points) < 2:
        return ""
    if len(points) == 2:
        (ax, ay), (bx, by) = points
        x, y = (ax + bx) / 2, (ay + by) / 2
    else:
        x, y = points[len(points) // 2]
    lines = []
    top = y - (len(edges) - 1) * _LINE / 2
    for i, edge in enumerate(sorted(edges, key=lambda e: e["signal"] or "")):
        name = edge["signal"] or edge["kind"]
        text = f"{name} {format_rate(edge['rate'])}" if edge["signal"] else name
        colour = SIGNAL_COLOURS.get(edge["signal"], SIGNAL_COLOURS[None])
        lines.append(
            f'<text class="edge-label" data-edge="{escape(source)}|{escape(target)}|{escape(str(edge["signal"]))}" '
            f'x="{x:.1f}" y="{top + i * _LINE + 4:.1f}" text-anchor="middle" font-size="11.5" fill="{colour}" '
            f'stroke="#ffffff" stroke-width="4" paint-order="stroke" stroke-linejoin="round">{escape(text)}</text>')
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
