"""Visit the items of an Export request (spans, log records, data points) with their filter verdict.

Resource- and scope-level match conditions are evaluated once per resource / scope; only the item
conditions run per item. Returns whether any item was handed to the actions.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from collector.components.otelcol.processor.attributes.actions import Context, Step
from collector.components.otelcol.processor.attributes.matching import Filter, Matcher
from collector.signals import Signal

_EMPTY: Mapping[str, Sequence[str]] = {}
_POINT_KINDS = ("gauge", "sum", "histogram", "exponential_histogram", "summary")


def context_from_metadata(metadata: Sequence[tuple[str, str]]) -> Context:
    if not metadata:
        return _EMPTY
    out: dict[str, list[str]] = {}
    for key, value in metadata:
        out.setdefault(key.lower(), []).append(value)
    return out



def apply_to_items(signal: Signal, message: Any, steps: Sequence[Step], flt: Filter,
                   ctx: Context = _EMPTY) -> bool:
    spec = signal.spec
    include, exclude = flt.include, flt.exclude
    touched = False
    for container in getattr(message, spec.resource_field):
        resource = container.resource
        inc_res = include is None or include.match_resource(resource)
        if not inc_res:
            continue
        exc_res = exclude is not None and exclude.match_resource(resource)
        for scoped in getattr(container, spec.scope_field):
            if include is not None and not include.match_scope(scoped.scope):
                continue
            exc_scope = exc_res and exclude is not None and exclude.match_scope(scoped.scope)
            # Exclusion decided for the whole scope when the exclude block has no item conditions.
            if exc_scope and exclude is not None and not exclude.has_item_conditions:
                continue
            inc_items = include is not None and include.has_item_conditions
            exc_items = exc_scope
            for item, name in _items(signal, scoped):
                if inc_items and include is not None and not include.match_item(signal, item, name):
                    continue
                if exc_items and exclude is not None and exclude.match_item(signal, item, name):
                    continue
                attrs = item.attributes
                for step in steps:
                    step(attrs, ctx)
                touched = True
    return touched


def _items(signal: Signal, scoped: Any) -> Any:
    """(item, name) pairs: spans with their name, log records with "", data points with the metric name."""
    if signal is Signal.TRACES:
        for span in scoped.spans:
            yield span, span.name
    elif signal is Signal.LOGS:
        for record in scoped.log_records:
            yield record, ""
    else:
        for metric in scoped.metrics:
            kind = metric.WhichOneof("data")
            if kind is None:
                continue
            name = metric.name
            for point in getattr(metric, kind).data_points:
                yield point, name
