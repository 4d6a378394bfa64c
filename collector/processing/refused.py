"""`otelcol_processor_refused_{spans,metric_points,log_records}`: items a processor refused.

Defined here because `collector.selfmetrics.otelcol` has no such family yet (wanted there).
"""

from __future__ import annotations

from typing import Final

from prometheus_client import Counter

from collector.signals import Signal

PROCESSOR_REFUSED: Final = {
    signal: Counter(
        f"otelcol_processor_refused_{signal.spec.items}",
        f"Number of {signal.spec.items.replace('_', ' ')} that were rejected by the next component in the pipeline.",
        ("component_id", "component_path"),
    )
    for signal in Signal
}
