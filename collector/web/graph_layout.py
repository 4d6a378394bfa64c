"""Layered layout of the component graph, computed by grandalf's Sugiyama layout.

Two directions: top to bottom (`TB`, Alloy's graph, and the one that fits a laptop screen best:
pipelines are deeper than wide) and left to right (`LR`). grandalf lays layers out top to bottom;
for `LR` we give it each node with width and height swapped and transpose the result, so layers
become columns. Parallel edges between the same two components (one per signal) share one routed
path: the renderer labels that path once per signal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Literal

NODE_WIDTH = 262.0
NODE_HEIGHT = 64.0
LAYER_GAP = {"LR": 130.0, "TB": 84.0}  # room between layers, beside which edge labels sit
NODE_GAP = {"LR": 40.0, "TB": 48.0}  # room between nodes of one layer
MARGIN = 24.0

Direction = Literal["LR", "TB"]
DIRECTIONS: tuple[Direction, ...] = ("TB", "LR")


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
    points: tuple[tuple[float, float], ...]  # from the source's outgoing side to the target's incoming side


@dataclass(frozen=True, slots=True)
class Layout:
    nodes: dict[str, NodeBox]
    edges: dict[tuple[str, str], EdgePath]
    width: float
    height: float
    direction: Direction = "LR"


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


def layout(node_ids: Iterable[str], pairs: Iterable[tuple[str, str]], direction: Direction = "LR") -> Layout:
    """Positions for every node and a routed path for every distinct (source, target) pair."""
    # imported here: without grandalf only the graph page fails, not the supervisor
    from grandalf.graphs import Edge as GEdge
    from grandalf.graphs import Graph, Vertex
    from grandalf.layouts import SugiyamaLayout

    across_size, along_size = ((NODE_HEIGHT, NODE_WIDTH) if direction == "LR" else (NODE_WIDTH, NODE_HEIGHT))
    node_gap, layer_gap = NODE_GAP[direction], LAYER_GAP[direction]
    ids = list(dict.fromkeys(node_ids))
    vertices = {nid: Vertex(nid) for nid in ids}
    for vertex in vertices.values():
        vertex.view = _View(across_size + node_gap, along_size)
    edges: dict[tuple[str, str], Any] = {}
    for source, target in pairs:
        if source == target or (source, target) in edges or source not in vertices or target not in vertices:
            continue
        edge = GEdge(vertices[source], vertices[target])
        edge.view = _EdgeView()
        edges[(source, target)] = edge
    graph = Graph(list(vertices.values()), list(edges.values()))

    # Each connected part is laid out on its own and the parts are placed side by side across the
    # flow (stacked vertically for LR, next to each other for TB).
    boxes: dict[str, NodeBox] = {}
    paths: dict[tuple[str, str], EdgePath] = {}
    offset = MARGIN  # across the flow
    extent = 0.0  # along the flow
    for part in graph.C:
        sugiyama = SugiyamaLayout(part)
        sugiyama.xspace = 0.0  # the node gap is already inside each vertex's size
        sugiyama.yspace = layer_gap
        roots = [v for v in part.sV if not v.e_in()]
        sugiyama.init_all(roots=roots or None)
        sugiyama.draw(3)
        min_across = min(v.view.xy[0] for v in part.sV)
        max_across = max(v.view.xy[0] for v in part.sV)
        min_along = min(v.view.xy[1] for v in part.sV)

        def place(point: tuple[float, float]) -> tuple[float, float]:
            across = offset + point[0] - min_across + across_size / 2
            along = MARGIN + point[1] - min_along + along_size / 2
            return (along, across) if direction == "LR" else (across, along)

        for vertex in part.sV:
            cx, cy = place(vertex.view.xy)
            boxes[vertex.data] = NodeBox(vertex.data, cx - NODE_WIDTH / 2, cy - NODE_HEIGHT / 2, NODE_WIDTH, NODE_HEIGHT)
            extent = max(extent, (cx + NODE_WIDTH / 2 if direction == "LR" else cy + NODE_HEIGHT / 2) + MARGIN)
        members = {v.data for v in part.sV}
        for key, edge in edges.items():
            if edge.v[0].data not in members:
                continue
            points = [place(p) for p in edge.view.points]
            if points and points[0] == place(edge.v[1].view.xy):  # grandalf may hand back inverted paths
                points.reverse()
            paths[key] = _clip(points, boxes, key, direction)
        offset += max_across - min_across + across_size + node_gap
    across_total = offset - node_gap + MARGIN
    width, height = (extent, across_total) if direction == "LR" else (across_total, extent)
    return Layout(boxes, paths, width, height, direction)


def _clip(points: list[tuple[float, float]], boxes: dict[str, NodeBox], key: tuple[str, str],
          direction: Direction) -> EdgePath:
    """Start on the source's outgoing side and end on the target's incoming side (right and left
    for LR, bottom and top for TB) instead of at centres."""
    source, target = boxes[key[0]], boxes[key[1]]
    inner = points[1:-1]
    if direction == "LR":
        start = (source.x + source.width, source.y + source.height / 2)
        end = (target.x, target.y + target.height / 2)
    else:
        start = (source.x + source.width / 2, source.y + source.height)
        end = (target.x + target.width / 2, target.y)
    return EdgePath(key[0], key[1], (start, *inner, end))
