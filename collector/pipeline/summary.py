"""The human-readable account `collector validate` prints of a loaded pipeline."""

from __future__ import annotations

from collector.pipeline import plan
from collector.pipeline.model import Pipeline, component_kind
from collector.signals import Signal


def summary(pipeline: Pipeline, config: str) -> str:
    lines = [f"{config}: configuration is valid ({len(pipeline.nodes)} components)", "", "Components:"]
    by_kind: dict[str, list[str]] = {}
    for node_id in pipeline.order:
        by_kind.setdefault(component_kind(pipeline.nodes[node_id].name), []).append(node_id)
    width = max((len(k) for k in by_kind), default=0)
    for kind, ids in sorted(by_kind.items()):
        lines.append(f"  {kind:<{width}}  {', '.join(sorted(ids))}")

    lines += ["", "Processes:"]
    receivers = plan.receiver_components(pipeline)
    lines.append(f"  receiver:       {', '.join(receivers) if receivers else '(none)'}")
    for signal in Signal:
        workers = plan.worker_components(pipeline, signal)
        if workers:
            lines.append(f"  worker {signal.value + ':':<8} {', '.join(workers)}")
    supervisor = plan.supervisor_components(pipeline)
    if supervisor:
        lines.append(f"  supervisor:     {', '.join(supervisor)}")

    paths = plan.signal_paths(pipeline)
    lines += ["", "Signal paths:"]
    if not paths:
        lines.append("  (none)")
    for signal, signal_paths in paths.items():
        lines.append(f"  {signal.value}:")
        lines += [f"    {' -> '.join(path)}" for path in signal_paths]
        if len(signal_paths) >= plan.MAX_PATHS:
            lines.append(f"    (only the first {plan.MAX_PATHS} paths are listed)")
    return "\n".join(lines) + "\n"
