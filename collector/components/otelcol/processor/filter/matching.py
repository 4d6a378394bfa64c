"""Drop the items of an Export request that match any condition (the filter processor's core).

Order follows the Collector: metric conditions before datapoint conditions, span before spanevent;
a metric left without data points is removed (only when datapoint conditions exist), then empty
scopes and resources. Deletion uses upb's `del repeated[i]`, from the back.
"""

from __future__ import annotations

from typing import Any, Callable

from collector.ottl.paths import PARENT, RESOURCE, SCOPE, Frame
from collector.ottl.runner import CompiledGroup, PropagateError

OnError = Callable[[str, Exception], None]


class Matcher:
    """`matches(frame)`: true if any condition holds; failing conditions count as false unless
    error_mode is propagate."""

    def __init__(self, group: CompiledGroup, mode: str, on_error: OnError) -> None:
        self.group = group
        self.mode = mode
        self.on_error = on_error

    def matches(self, f: Frame) -> bool:
        for text, cond in self.group.conditions:
            try:
                if cond(f):
                    return True
            except Exception as exc:  # noqa: BLE001
                if self.mode == "propagate":
                    raise PropagateError(text, exc) from exc
                if self.mode == "ignore":
                    self.on_error(text, exc)
        return False

    def enter(self, f: Frame, level: int) -> None:
        if self.group.hoister.by_level[level]:
            self.group.hoister.fill(f, level)


def _drop_where(items: Any, keep: Callable[[Any], bool]) -> int:
    doomed = [i for i, item in enumerate(items) if not keep(item)]
    for i in reversed(doomed):
        del items[i]
    return len(doomed)


def filter_request(message: Any, spec: Any, item: Matcher | None, sub: Matcher | None,
                   item_context: str) -> int:
    """Filter in place; returns the number of removed items in the signal's unit (spans, data
    points, log records). `item` matches spans/metrics/log records, `sub` span events/data points."""
    dropped = 0
    matchers = [m for m in (item, sub) if m is not None]
    f = Frame()
    f.slots = [None] * max((m.group.hoister.count for m in matchers), default=0)
    for m in matchers:
        if len(f.slots) < m.group.hoister.count:
            f.slots = [None] * m.group.hoister.count
    resources = getattr(message, spec.resource_field)
    for rx in resources:
        f.resource = rx.resource
        for m in matchers:
            m.enter(f, RESOURCE)
        scopes = getattr(rx, spec.scope_field)
        for sx in scopes:
            f.scope = sx.scope
            for m in matchers:
                m.enter(f, SCOPE)
            items = getattr(sx, spec.item_field)
            if item is not None:
                def keep_item(x: Any) -> bool:
                    f.item = x
                    return not item.matches(f)

                if item_context == "metric":
                    doomed = [i for i, x in enumerate(items) if not keep_item(x)]
                    for i in reversed(doomed):
                        dropped += _points(items[i])
                        del items[i]
                else:
                    dropped += _drop_where(items, keep_item)
            if sub is not None:
                if item_context == "metric":
                    dropped += _filter_points(f, items, sub)
                else:
                    _filter_events(f, items, sub)
        _drop_where(scopes, lambda sx: len(getattr(sx, spec.item_field)) > 0)
    _drop_where(resources, lambda rx: len(getattr(rx, spec.scope_field)) > 0)
    return dropped


def _points(metric: Any) -> int:
    kind = metric.WhichOneof("data")
    return 0 if kind is None else len(getattr(metric, kind).data_points)


def _filter_points(f: Frame, metrics: Any, sub: Matcher) -> int:
    dropped = 0
    empty: list[int] = []
    for i, metric in enumerate(metrics):
        kind = metric.WhichOneof("data")
        if kind is None:
            continue
        f.parent = metric
        sub.enter(f, PARENT)
        points = getattr(metric, kind).data_points

        def keep(dp: Any) -> bool:
            f.item = dp
            return not sub.matches(f)

        dropped += _drop_where(points, keep)
        if len(points) == 0:
            empty.append(i)
    for i in reversed(empty):
        del metrics[i]
    return dropped


def _filter_events(f: Frame, spans: Any, sub: Matcher) -> None:
    for span in spans:
        f.parent = span
        sub.enter(f, PARENT)

        def keep(ev: Any) -> bool:
            f.item = ev
            return not sub.matches(f)

        _drop_where(span.events, keep)
