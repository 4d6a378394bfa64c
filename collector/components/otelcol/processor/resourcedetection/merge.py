"""Merge a fixed set of attributes into many resources, cheaply.

The detected attributes are serialized once as a `Resource` message; merging those bytes into a
resource appends all of them to its `attributes` in one upb call. Per resource, Python only scans
the existing keys (to honour `override`), never the spans/points/records beneath it.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from collector.protocols.wire import key_values


class ResourceAttributeMerger:
    """Upserts `attributes` into resources; `override=False` adds only keys a resource lacks."""

    __slots__ = ("_pairs", "_keys", "_override", "_all_bytes", "_subset_bytes")

    def __init__(self, attributes: Sequence[tuple[str, Any]], override: bool) -> None:
        self._pairs = list(attributes)
        self._keys = frozenset(key for key, _ in self._pairs)
        self._override = override
        self._all_bytes = _serialize(self._pairs)
        self._subset_bytes: dict[frozenset[str], bytes] = {}

    def apply(self, resource_containers: Iterable[Any]) -> int:
        """Merge into the `.resource` of every container (ResourceSpans/Metrics/Logs); returns how many."""
        if not self._pairs:
            return 0
        keys = self._keys
        count = 0
        for container in resource_containers:
            resource = container.resource
            attrs = resource.attributes
            present = [i for i, kv in enumerate(attrs) if kv.key in keys] if len(attrs) else ()
            if not present:
                resource.MergeFromString(self._all_bytes)
            elif self._override:
                for index in reversed(present):
                    del attrs[index]
                resource.MergeFromString(self._all_bytes)
            else:
                existing = frozenset(attrs[i].key for i in present)
                resource.MergeFromString(self._missing_bytes(existing))
            count += 1
        return count

    def _missing_bytes(self, existing: frozenset[str]) -> bytes:
        cached = self._subset_bytes.get(existing)
        if cached is None:
            cached = _serialize([(k, v) for k, v in self._pairs if k not in existing])
            if len(self._subset_bytes) < 256:
                self._subset_bytes[existing] = cached
        return cached


def _serialize(pairs: Sequence[tuple[str, Any]]) -> bytes:
    return Resource(attributes=key_values(pairs)).SerializeToString()
