"""Scrape targets: label population, URL, ownership, and turning one scrape into samples.

`populate` follows Prometheus `scrape.PopulateLabels` without relabelling (Alloy's `prometheus.scrape`
has none): defaults for `job`, `__scheme__`, `__metrics_path__`, `__param_*`, `__scrape_interval__`,
`__scrape_timeout__`; `instance` defaults to `__address__`; labels starting with `__` are then removed.

`ScrapeState` is the per-target memory of a scrape loop: a `Series` per exposed sample identity, the
set of series written last time (for staleness markers) and the last written timestamp per series.
"""

from __future__ import annotations

import hashlib
import urllib.parse
from dataclasses import dataclass, field
from typing import Mapping

from collector.protocols.prometheus.series import STALE_NAN, Metadata, MetricType, SampleBatch, Series
from collector.protocols.prometheus.textparse import Exposition


@dataclass(frozen=True, slots=True)
class Target:
    url: str
    labels: tuple[tuple[str, str], ...]  # the final target labels (no `__` labels)
    interval: float
    timeout: float
    key: str  # stable identity across processes (ownership, jitter)


def stable_hash(text: str) -> int:
    """A hash that is the same in every process (Python's `hash()` of str is salted per process)."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def parse_duration(text: str) -> float | None:
    """Prometheus model.Duration (`15s`, `1m30s`, `500ms`); None if invalid."""
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
    total, number = 0.0, ""
    i = 0
    if not text:
        return None
    while i < len(text):
        c = text[i]
        if c.isdigit():
            number += c
            i += 1
            continue
        unit = text[i:i + 2] if text[i:i + 2] == "ms" else c
        if not number or unit not in units:
            return None
        total += int(number) * units[unit]
        number = ""
        i += len(unit)
    return None if number else total


def populate(raw: Mapping[str, str], *, job_name: str, scheme: str, metrics_path: str,
             params: Mapping[str, list[str]], interval: float, timeout: float) -> Target | None:
    """Final labels and URL of a discovered target; None when it has no `__address__`."""
    labels = dict(raw)
    address = labels.get("__address__", "")
    if not address:
        return None
    labels.setdefault("job", job_name)
    scheme = labels.get("__scheme__") or scheme
    path = labels.get("__metrics_path__") or metrics_path
    query: dict[str, list[str]] = {k: list(v) for k, v in params.items()}
    for name, value in labels.items():
        if name.startswith("__param_"):
            key = name[len("__param_"):]
            values = query.get(key)
            if values:
                values[0] = value
            else:
                query[key] = [value]
    interval = parse_duration(labels.get("__scrape_interval__", "")) or interval
    timeout = parse_duration(labels.get("__scrape_timeout__", "")) or timeout
    labels.setdefault("instance", address)
    final = tuple(sorted((k, v) for k, v in labels.items() if not k.startswith("__") and v))
    url = f"{scheme}://{address}{path}"
    if query:
        url += ("&" if "?" in path else "?") + urllib.parse.urlencode(query, doseq=True)
    key = url + "\xff" + "\xff".join(f"{k}={v}" for k, v in final)
    return Target(url, final, interval, min(timeout, interval), key)


def owns(target: Target, worker_index: int, workers: int) -> bool:
    """Exactly one metrics worker scrapes a target."""
    return stable_hash(target.key) % max(1, workers) == worker_index


_METADATA_TYPES = {"counter": MetricType.COUNTER, "gauge": MetricType.GAUGE, "histogram": MetricType.HISTOGRAM,
                   "summary": MetricType.SUMMARY}


class LimitExceeded(RuntimeError):
    """A scrape broke one of the label limits: the whole scrape fails (`up` 0), as in Prometheus."""


@dataclass
class ScrapeState:
    target: Target
    honor_labels: bool = False
    honor_timestamps: bool = True
    label_limit: int = 0
    label_name_length_limit: int = 0
    label_value_length_limit: int = 0
    # `extra_metrics = true`: (sample_limit) to report scrape_timeout_seconds, scrape_sample_limit
    # and scrape_body_size_bytes, as Prometheus's extra-scrape-metrics do; None: not reported
    extra_metrics: tuple[int] | None = None
    body_size: int = 0  # of the last scrape, for scrape_body_size_bytes
    # Prometheus writes no staleness markers for series exposed with their own timestamp unless
    # `track_timestamps_staleness` is set; `_exempt` holds the last scrape's such series
    track_timestamps_staleness: bool = False
    _exempt: frozenset[Series] = frozenset()
    _series: dict[tuple[str, tuple[tuple[str, str], ...]], Series] = field(default_factory=dict)
    _previous: dict[Series, None] = field(default_factory=dict)
    _synthetic: dict[str, Series] = field(default_factory=dict)

    def _labelled(self, name: str, scraped: tuple[tuple[str, str], ...]) -> Series:
        key = (name, scraped)
        series = self._series.get(key)
        if series is None:
            labels = dict(scraped)
            for tname, tvalue in self.target.labels:
                if tname in labels:
                    if self.honor_labels:
                        continue
                    exported = "exported_" + tname
                    while exported in labels:
                        exported = "exported_" + exported
                    labels[exported] = labels[tname]
                labels[tname] = tvalue
            labels["__name__"] = name
            self._check_limits(name, labels)
            series = self._series[key] = Series(labels)
        return series

    def _check_limits(self, name: str, labels: dict[str, str]) -> None:
        """Prometheus's `verifyLabelLimits`, on the labels the series is stored with (checked when
        a series is first seen: a cached one passed already)."""
        if self.label_limit and len(labels) > self.label_limit:
            raise LimitExceeded(f"label_limit exceeded (metric: {name[:50]}, number of labels: {len(labels)}, "
                                f"limit: {self.label_limit})")
        for label, value in labels.items():
            if self.label_name_length_limit and len(label) > self.label_name_length_limit:
                raise LimitExceeded(f"label_name_length_limit exceeded (metric: {name[:50]}, label name: "
                                    f"{label[:50]}, length: {len(label)}, limit: {self.label_name_length_limit})")
            if self.label_value_length_limit and len(value) > self.label_value_length_limit:
                raise LimitExceeded(f"label_value_length_limit exceeded (metric: {name[:50]}, label name: "
                                    f"{label[:50]}, value: {value[:50]!r}, length: {len(value)}, "
                                    f"limit: {self.label_value_length_limit})")

    def synthetic(self, name: str) -> Series:
        series = self._synthetic.get(name)
        if series is None:
            series = self._synthetic[name] = Series(dict(self.target.labels, __name__=name))
        return series

    def success(self, exposition: Exposition, scrape_ms: int, duration: float) -> SampleBatch:
        """Samples of a successful scrape, stale markers for vanished series, and the synthetic series."""
        batch = SampleBatch()
        current: dict[Series, None] = {}
        exempt: list[Series] = []
        untracked = self.honor_timestamps and not self.track_timestamps_staleness
        added = 0
        for name, scraped, value, ts in exposition.samples:
            series = self._labelled(name, scraped)
            if series in current:  # duplicate sample in one exposition: Prometheus keeps the first
                continue
            current[series] = None
            if series not in self._previous:
                added += 1
            if ts is not None and untracked:
                exempt.append(series)
            batch.append(series, value, ts if (ts is not None and self.honor_timestamps) else scrape_ms)
        for series in self._previous:
            if series not in current and series not in self._exempt:
                batch.append(series, STALE_NAN, scrape_ms)
        self._previous = current
        self._exempt = frozenset(exempt)
        if len(self._series) > 2 * len(current) + 64:  # forget identities that stopped being exposed
            self._series = {k: v for k, v in self._series.items() if v in current}
        for family in exposition.types.keys() | exposition.help.keys():
            kind = _METADATA_TYPES.get(exposition.types.get(family, ""), MetricType.UNKNOWN)
            batch.metadata.append(Metadata(family, kind, exposition.help.get(family, "")))
        scraped_count = len(exposition.samples)
        for name, value in (("up", 1.0), ("scrape_duration_seconds", duration),
                            ("scrape_samples_scraped", float(scraped_count)),
                            ("scrape_samples_post_metric_relabeling", float(len(current))),
                            ("scrape_series_added", float(added))):
            batch.append(self.synthetic(name), value, scrape_ms)
        self._extra(batch, scrape_ms, float(self.body_size))
        return batch

    def _extra(self, batch: SampleBatch, scrape_ms: int, body_size: float) -> None:
        if self.extra_metrics is None:
            return
        for name, value in (("scrape_timeout_seconds", self.target.timeout),
                            ("scrape_sample_limit", float(self.extra_metrics[0])),
                            ("scrape_body_size_bytes", body_size)):
            batch.append(self.synthetic(name), value, scrape_ms)

    def failure(self, scrape_ms: int, duration: float) -> SampleBatch:
        """`up` 0 and stale markers for everything the last successful scrape wrote."""
        batch = SampleBatch()
        for series in self._previous:
            if series not in self._exempt:
                batch.append(series, STALE_NAN, scrape_ms)
        self._previous = {}
        self._exempt = frozenset()
        for name, value in (("up", 0.0), ("scrape_duration_seconds", duration), ("scrape_samples_scraped", 0.0),
                            ("scrape_samples_post_metric_relabeling", 0.0), ("scrape_series_added", 0.0)):
            batch.append(self.synthetic(name), value, scrape_ms)
        self._extra(batch, scrape_ms, 0.0)
        return batch

    def ended(self, scrape_ms: int) -> SampleBatch:
        """The target went away: stale markers for all its series, including the synthetic ones."""
        batch = SampleBatch()
        for series in list(self._previous) + list(self._synthetic.values()):
            if series not in self._exempt:
                batch.append(series, STALE_NAN, scrape_ms)
        self._previous = {}
        return batch
