"""Left-to-right layered layout of the component graph, computed by grandalf's Sugiyama layout.

grandalf lays layers out top to bottom; we give it each node with width and height swapped and
transpose the result, so layers become columns. Parallel edges between the same two components
(one per signal) share one routed path: the renderer labels that path once per signal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

NODE_WIDTH = 262.0
NODE_HEIGHT = 64.0
LAYER_GAP = 130.0  # horizontal room between columns, where edge labels sit
NODE_GAP = 40.0  # vertical room between nodes of one column
MARGIN = 24.0


@dataclass(frozen=True, slots=True)
class NodeBox:
    id: str
    x: float  # left
    y: float  # top
    width: float
    height: float


@dataclass(frozen=True, slots=True)
class EdgePath:
    source: str
    target: str
    points: tuple[tuple[float, float], ...]  # from the source's right side to the target's left side


@dataclass(frozen=True, slots=True)
class Layout:
    nodes: dict[str, NodeBox]
    edges: dict[tuple[str, str], EdgePath]
    width: float
    height: float


class _View:
    """The geometry grandalf reads (w, h) and writes (xy) for a vertex."""

    def __init__(self, w: float, h: float) -> None:
        self.w = w
        self.h = h
        self.xy: tuple[float, float] = (0.0, 0.0)


class _EdgeView:
    def __init__(self) -> None:
        self.points: list[tuple[float, float]] = []

    def setpath(self, points: list[tuple[float, float]]) -> None:
        self.points = list(points)


def layout(node_ids: Iterable[str], pairs: Iterable[tuple[str, str]]) -> Layout:
    """Positions for every node and a routed path for every distinct (source, target) pair."""
    # imported here: without grandalf only the graph page fails, not the supervisor
    from grandalf.graphs import Edge as GEdge
    from grandalf.graphs import Graph, Vertex
    from grandalf.layouts import SugiyamaLayout

    ids = list(dict.fromkeys(node_ids))
    vertices = {nid: Vertex(nid) for nid in ids}
    for vertex in vertices.values():
        vertex.view = _View(NODE_HEIGHT + NODE_GAP, NODE_WIDTH)  # swapped: grandalf's x is our y
    edges: dict[tuple[str, str], Any] = {}
    for source, target in pairs:
        if source == target or (source, target) in edges or source not in vertices or target not in vertices:
            continue
        edge = GEdge(vertices[source], vertices[target])
        edge.view = _EdgeView()
        edges[(source, target)] = edge
    graph = Graph(list(vertices.values()), list(edges.values()))

    # Each connected part is laid out on its own and the parts are stacked vertically.
    boxes: dict[str, NodeBox] = {}
    paths: dict[tuple[str, str], EdgePath] = {}
    offset_y = MARGIN
    width = 0.0
    for part in graph.C:
        sugiyama = SugiyamaLayout(part)
        sugiyama.xspace = 0.0  # NODE_GAP is already inside each vertex's size
        sugiyama.yspace = LAYER_GAP
        roots = [v for v in part.sV if not v.e_in()]
        sugiyama.init_all(roots=roots or None)
        sugiyama.draw(3)
        xs = [v.view.xy[0] for v in part.sV]
        ys = [v.view.xy[1] for v in part.sV]
        min_across, min_along = min(xs), min(ys)
        max_across = max(xs)

        def place(point: tuple[float, float]) -> tuple[float, float]:
            across, along = point
            return (MARGIN + along - min_along + NODE_WIDTH / 2,
                    offset_y + across - min_across + NODE_HEIGHT / 2)

        for vertex in part.sV:
            cx, cy = place(vertex.view.xy)
            boxes[vertex.data] = NodeBox(vertex.data, cx - NODE_WIDTH / 2, cy - NODE_HEIGHT / 2, NODE_WIDTH, NODE_HEIGHT)
            width = max(width, cx + NODE_WIDTH / 2 + MARGIN)
        for key, edge in edges.items():
            if edge.v[0].data not in {v.data for v in part.sV}:
                continue
            points = [place(p) for p in edge.view.points]
            if points and points[0] == place(edge.v[1].view.xy):  # grandalf may hand back inverted paths
                points.reverse()
            paths[key] = _clip(points, boxes, key)
        offset_y += max_across - min_across + NODE_HEIGHT + NODE_GAP
    return Layout(boxes, paths, width, offset_y - NODE_GAP + MARGIN)


def _clip(points: list[tuple[float, float]], boxes: dict[str, NodeBox], key: tuple[str, str]) -> EdgePath:
    """Start on the source's right side and end on the target's left side instead of at centres."""
    source, target = boxes[key[0]], boxes[key[1]]
    inner = points[1:-1]
    start = (source.x + source.width, source.y + source.height / 2)
    end = (target.x, target.y + target.height / 2)
    return EdgePath(key[0], key[1], (start, *inner, end))
