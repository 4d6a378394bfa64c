"""Self-metric values when the pipeline parts share one process (`COLLECTOR_WORKERS_MODE=inline`).

In the default mode each receiver and worker is a process, and prometheus_client's multiprocess mode
keeps one value per process and merges them on scrape: counters add up, and each gauge merges as its
`multiprocess_mode` says (an exporter's queue gauges are `livesum`: the traces, metrics and logs
workers each run an instance of the exporter, and its queue is what the three hold together).
Inline, the three instances have the same labels and so share one metric child; a plain in-memory
value would let each `set()` overwrite the others. `PartValue` keeps one slot per pipeline part (the
part is a context variable set by the task running it, inherited by every task and callback it
starts) and merges the slots as the multiprocess mode would merge processes.
"""

from __future__ import annotations

import contextvars
import threading
from typing import Any, Callable, Iterable

PART: contextvars.ContextVar[str] = contextvars.ContextVar("collector_pipeline_part", default="")


def _merge(mode: str) -> Callable[[Iterable[float]], float]:
    if mode.endswith("max"):
        return lambda values: max(values, default=0.0)
    if mode.endswith("min"):
        return lambda values: min(values, default=0.0)
    return lambda values: sum(values)  # counters, histograms, and gauges in the sum/all modes


class PartValue:
    """A drop-in for prometheus_client's value class: same methods, one slot per part."""

    def __init__(self, typ: str, metric_name: str, name: str, labelnames: Any, labelvalues: Any, help_text: str,
                 multiprocess_mode: str = "", **_kwargs: Any) -> None:
        self._slots: dict[str, float] = {}
        self._lock = threading.Lock()
        self._merge = _merge(multiprocess_mode)
        self._latest = multiprocess_mode.endswith("mostrecent")
        self._last = 0.0
        self._exemplar: Any = None

    def inc(self, amount: float) -> None:
        part = PART.get()
        with self._lock:
            self._slots[part] = self._slots.get(part, 0.0) + amount

    def set(self, value: float, timestamp: float | None = None) -> None:
        with self._lock:
            self._slots[PART.get()] = value
            self._last = value

    def set_exemplar(self, exemplar: Any) -> None:
        self._exemplar = exemplar

    def get(self) -> float:
        with self._lock:
            return self._last if self._latest else self._merge(self._slots.values())

    def get_exemplar(self) -> Any:
        return self._exemplar


def use_part_values() -> None:
    """Metric children created from now on keep a value per part (children created before, such as
    unlabelled metrics made at import, are process-wide and stay as they are)."""
    from prometheus_client import values

    values.ValueClass = PartValue
