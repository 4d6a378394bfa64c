"""JSON documents of the UI API, built from the supervisor's state and the observer's samples.

Component documents are shaped like Alloy's `/api/v0/web/components[/<id>]` (reference C.3), so
tools written for Alloy read them; fields Alloy does not have (`kind`, `itemsPerSecond`, `counters`,
`edges`, `recentErrors`, `health.derived`) are additions, never changes of Alloy's fields.
"""

from __future__ import annotations

import os
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from collector.config.redact import redact_text
from collector.pipeline.model import Edge, Node, component_kind
from collector.runtime.view import adopted_rings, child_running
from collector.web.bodies import exports_body, struct_body
from collector.web.graph_layout import Direction, Layout, layout
from collector.web.rates import COUNTER_STATS

if TYPE_CHECKING:
    from collector.runtime.view import SupervisorView
    from collector.web.observe import Observer

GO_ZERO_TIME = "0001-01-01T00:00:00Z"

# Alloy's live-graph data types (reference C.4), by (edge kind, signal)
_FLOW_TYPES = {
    ("otlp", "metrics"): "otel_metric",
    ("otlp", "logs"): "otel_log",
    ("otlp", "traces"): "otel_trace",
    ("samples", "metrics"): "prometheus_metric",
    ("targets", None): "target",
}


def iso_time(at: float | None) -> str:
    if not at:
        return GO_ZERO_TIME
    return datetime.fromtimestamp(at, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def edge_signal(edge: Edge) -> str | None:
    return edge.signal.value if edge.signal is not None else None


def flow_type(edge: Edge) -> str:
    return _FLOW_TYPES.get((edge.kind, edge_signal(edge)), edge.kind)


def edge_rate(observer: Observer, edge: Edge) -> float | None:
    """The source's out rate for the edge's signal (see collector/web/rates.py for why)."""
    signal = edge_signal(edge)
    if signal is None:
        return None
    return observer.rates.component_rate(edge.source, "out", signal)


# --- components ------------------------------------------------------------------------------------
def in_rate(supervisor: SupervisorView, observer: Observer, node: Node) -> float | None:
    """Items per second into a component: its own counter where it keeps one (receivers,
    processors, connectors); otherwise (exporters) what its upstream components send it, the sum of
    its incoming edges' rates (each edge's source sends a copy of what it emits to every target)."""
    own = observer.rates.component_rate(node.id, "in")
    if own is not None:
        return own
    rates = [r for r in (edge_rate(observer, e) for e in supervisor.pipeline.edges_to(node.id)) if r is not None]
    return sum(rates) if rates else None


def component_info(supervisor: SupervisorView, observer: Observer, node: Node,
                   health: dict[str, Any]) -> dict[str, Any]:
    out_edges = supervisor.pipeline.edges_from(node.id)
    return {
        "name": node.name,
        "type": "block",
        "localID": node.id,
        "moduleID": "",
        "label": node.label,
        "yamlID": node.yaml_id,
        "referencesTo": list(node.references_to),
        "referencedBy": list(node.referenced_by),
        "dataFlowEdgesTo": sorted({e.target for e in out_edges}),
        "health": {
            "state": health["state"],
            "message": redact_text(health["message"]),  # may quote an endpoint's URL
            "updatedTime": iso_time(health.get("updated")),
            "derived": bool(health.get("derived", False)),
        },
        "original": "",
        "liveDebuggingEnabled": supervisor.pipeline.livedebugging_enabled,
        "kind": component_kind(node.name),
        "placement": node.info.placement.value,
        "itemsPerSecond": {
            "in": in_rate(supervisor, observer, node),
            "out": observer.rates.component_rate(node.id, "out"),
        },
    }


def components(supervisor: SupervisorView, observer: Observer) -> list[dict[str, Any]]:
    health = observer.health()
    pipeline = supervisor.pipeline
    # sources first: the order data flows in, the reverse of the dependency order
    return [component_info(supervisor, observer, pipeline.nodes[cid], health[cid]) for cid in reversed(pipeline.order)]


def component_detail(supervisor: SupervisorView, observer: Observer, component_id: str) -> dict[str, Any] | None:
    node = supervisor.pipeline.nodes.get(component_id)
    if node is None:
        return None
    health = observer.health()[component_id]
    doc = component_info(supervisor, observer, node, health)
    doc["arguments"] = struct_body(node.args)
    exports = exports_body(node.export_values)
    if exports:
        doc["exports"] = exports
    counters: dict[str, Any] = {stat: observer.rates.component_total(component_id, stat) for stat in COUNTER_STATS}
    size = observer.rates.component_total(component_id, "queue_size")
    capacity = observer.rates.component_total(component_id, "queue_capacity")
    counters["queue"] = {"size": size, "capacity": capacity,
                         "fill": (size / capacity) if size is not None and capacity else None}
    doc["counters"] = counters
    doc["sendingQueue"] = sending_queue(observer, component_id)
    backends = load_balancer_backends(observer, component_id)
    if backends is not None:
        doc["backends"] = backends
    doc["itemsPerSecondBySignal"] = {
        direction: {signal: observer.rates.component_rate(component_id, direction, signal)
                    for signal in _signals(observer, component_id, direction)}
        for direction in ("in", "out")
    }
    doc["edges"] = [edge_doc(observer, e) for e in supervisor.pipeline.edges
                    if component_id in (e.source, e.target)]
    doc["recentErrors"] = [{"time": iso_time(e.at), "message": redact_text(e.message)}
                           for e in reversed(observer.errors.get(component_id, ()))]
    return doc


def sending_queue(observer: Observer, component_id: str) -> dict[str, Any] | None:
    """An exporter's sending queue from the `collector_exporter_queue_*` gauges (summed over its
    processes; the age is the oldest of them), or None for a component without one."""
    found: dict[str, dict[str, float]] = {}
    for (component, stat, label), number in observer.rates.latest.items():
        if component == component_id and stat.startswith("sending_queue_"):
            found.setdefault(stat[len("sending_queue_"):], {})[label] = number
    if "items" not in found:
        return None
    storage = "disk" if "disk" in found["items"] else "memory"

    def value(name: str) -> float | None:
        return found.get(name, {}).get(storage)

    sizer, capacity = next(iter(found.get("capacity", {}).items()), (None, None))
    used = {"requests": value("requests"), "items": value("items"), "bytes": value("bytes")}.get(sizer or "")
    held_bytes, capacity_bytes = value("bytes"), value("capacity_bytes")
    return {
        "storage": storage, "sizer": sizer,
        "requests": value("requests"), "items": value("items"), "bytes": held_bytes,
        "fileBytes": value("file_bytes"),
        "capacity": capacity, "capacityBytes": capacity_bytes,
        "fill": used / capacity if used is not None and capacity else None,
        "bytesFill": held_bytes / capacity_bytes if held_bytes is not None and capacity_bytes else None,
        "oldestAgeSeconds": value("oldest_age"),
    }


def load_balancer_backends(observer: Observer, component_id: str) -> list[dict[str, Any]] | None:
    """The backends now in a load balancer's ring (`collector_loadbalancer_backend`, 1 per worker
    process that has it) with the items routed to each; None for a component that is not one."""
    members: dict[str, float] = {}
    routed: dict[str, float] = {}
    for (component, stat, endpoint), number in observer.rates.latest.items():
        if component == component_id and stat == "lb_backend":
            members[endpoint] = number
        elif component == component_id and stat == "lb_backend_items":
            routed[endpoint] = number
    if not members:
        return None
    return [{"endpoint": endpoint, "processes": int(count), "items": routed.get(endpoint, 0.0)}
            for endpoint, count in sorted(members.items()) if count > 0]


def _signals(observer: Observer, component_id: str, stat: str) -> list[str]:
    return sorted({s for (c, st, s) in observer.rates.latest if c == component_id and st == stat and s})


def edge_doc(observer: Observer, edge: Edge) -> dict[str, Any]:
    return {"source": edge.source, "target": edge.target, "signal": edge_signal(edge), "kind": edge.kind,
            "type": flow_type(edge), "rate": edge_rate(observer, edge)}


# --- graph -----------------------------------------------------------------------------------------
class LayoutCache:
    """The layout depends only on the graph's shape: recompute it when that changes (a reload)."""

    def __init__(self) -> None:
        self._key: tuple[Any, ...] | None = None
        self._layouts: dict[Direction, Layout] = {}

    def get(self, supervisor: SupervisorView, direction: Direction = "LR") -> Layout:
        pipeline = supervisor.pipeline
        pairs = tuple(dict.fromkeys((e.source, e.target) for e in pipeline.edges))
        key = (tuple(pipeline.order), pairs)
        if key != self._key:
            self._layouts = {}
            self._key = key
        if direction not in self._layouts:
            self._layouts[direction] = layout(pipeline.order, pairs, direction)
        return self._layouts[direction]


def graph(supervisor: SupervisorView, observer: Observer, cache: LayoutCache,
          direction: Direction = "LR") -> dict[str, Any]:
    """Nodes with their boxes, edges with their routed paths, signals and live rates."""
    shape = cache.get(supervisor, direction)
    infos = {c["localID"]: c for c in components(supervisor, observer)}
    nodes = []
    for cid, box in shape.nodes.items():
        info = infos[cid]
        nodes.append({"id": cid, "name": info["name"], "label": info["label"], "kind": info["kind"],
                      "health": info["health"], "itemsPerSecond": info["itemsPerSecond"],
                      "x": box.x, "y": box.y, "width": box.width, "height": box.height})
    edges = []
    for edge in supervisor.pipeline.edges:
        path = shape.edges.get((edge.source, edge.target))
        doc = edge_doc(observer, edge)
        doc["points"] = [list(p) for p in path.points] if path else []
        edges.append(doc)
    return {"width": shape.width, "height": shape.height, "direction": shape.direction, "nodes": nodes,
            "edges": edges, "rateWindowSeconds": observer.rates.span, "updatedTime": iso_time(observer.last_tick)}


def live_flows(supervisor: SupervisorView, observer: Observer) -> list[dict[str, Any]]:
    """One record of Alloy's streaming graph API (reference C.4): rate per (component, data type).
    Edges without a measurable rate are left out, as Alloy leaves out components without data."""
    grouped: dict[tuple[str, str], dict[str, Any]] = {}
    for edge in supervisor.pipeline.edges:
        rate = edge_rate(observer, edge)
        if rate is None:
            continue
        record = grouped.setdefault((edge.source, flow_type(edge)), {
            "componentID": edge.source, "type": flow_type(edge), "targetComponentIDs": [], "rate": rate})
        if edge.target not in record["targetComponentIDs"]:
            record["targetComponentIDs"].append(edge.target)
    return list(grouped.values())


# --- processes and status --------------------------------------------------------------------------
def _ringless_row(key: str, role: str, pid: int, observer: Observer, *, ready: bool,
                  uptime: float | None) -> dict[str, Any]:
    """The row of a process that is neither receiver nor worker (the supervisor, the fork server)."""
    return {
        "key": key, "role": role, "signal": None, "index": 0, "pid": pid, "running": True, "ready": ready,
        "uptimeSeconds": uptime, "restarts": 0, "cpuPercent": observer.cpu.get(pid),
        "rssBytes": observer.rss.get(pid), "memory": observer.memory.get(pid), "ringFill": None, "rings": [],
    }


def processes(supervisor: SupervisorView, observer: Observer) -> list[dict[str, Any]]:
    observer.watch_processes()
    now_mono, now = time.monotonic(), time.time()
    own = os.getpid()
    rows = [_ringless_row("supervisor", "supervisor", own, observer, ready=supervisor.ready,
                          uptime=now - supervisor.started_at)]
    server = supervisor.fork_server_pid
    if server:  # it holds the modules the children share: its memory is theirs too
        rows.append(_ringless_row("fork server", "fork-server", server, observer, ready=True, uptime=None))
    for key, child in supervisor.children.items():
        spec = child.spec
        process = child.process
        running = child_running(child)
        pid = process.pid if process is not None else None
        rings = []
        for (receiver, signal, worker), ring in supervisor.rings.items():
            mine = (receiver == spec.index) if spec.role == "receiver" else (
                signal.value == spec.signal and worker == spec.index)
            if mine:
                used = ring.used_bytes()
                rings.append({"receiver": receiver, "signal": signal.value, "worker": worker,
                              "usedBytes": used, "capacityBytes": ring.capacity,
                              "fill": used / ring.capacity if ring.capacity else 0.0})
        rows.append({
            "key": key, "role": spec.role, "signal": spec.signal or None, "index": spec.index, "pid": pid,
            "running": running, "ready": child.ready,
            "uptimeSeconds": (now_mono - child.started_at) if running and child.started_at else None,
            "restarts": child.restarts,
            "cpuPercent": observer.cpu.get(pid) if running and pid else None,
            "rssBytes": observer.rss.get(pid) if running and pid else None,
            "memory": observer.memory.get(pid) if running and pid else None,  # PSS by kind (web/procmem.py)
            "ringFill": max((r["fill"] for r in rings), default=None),
            "rings": rings,
            # rings a previous run left, drained by this worker until empty (then released)
            "adoptedRings": [{"name": a.ring_name, "records": a.records,
                              "usedBytes": a.ring.used_bytes()}
                             for a in adopted_rings(supervisor)
                             if spec.role == "worker" and a.signal.value == spec.signal and a.worker == spec.index],
        })
    return rows


def status(supervisor: SupervisorView) -> dict[str, Any]:
    last = supervisor.last_reload
    pipeline = supervisor.pipeline
    return {
        "ready": supervisor.ready,
        "startedTime": iso_time(supervisor.started_at),
        "configHash": pipeline.config_hash,
        "configFiles": sorted(str(name) for name in pipeline.sources),
        "components": len(pipeline.nodes),
        "lastReload": None if last is None else {"ok": last.ok, "message": last.message, "time": iso_time(last.at)},
    }
