"""OTLP metric and attribute names -> Prometheus names (protocols.md §6.1-6.2).

Metric names follow `prometheus/otlptranslator` (underscore escaping, with or without suffixes);
label names keep runs of underscores (Prometheus' default) and prefix `key_` / `key` for a leading
digit / single underscore. All functions are pure and cheap to memoise: the translator calls them
once per series, never per sample.
"""

from __future__ import annotations

import functools
import re
from enum import Enum
from typing import Any, Final

from collector.protocols.wire import as_string


class MetricKind(Enum):
    """What the name builder needs to know about the OTLP metric type."""

    GAUGE = "gauge"
    MONOTONIC_COUNTER = "counter"  # cumulative monotonic sum
    NON_MONOTONIC_COUNTER = "updowncounter"
    HISTOGRAM = "histogram"
    EXPONENTIAL_HISTOGRAM = "exponential_histogram"
    SUMMARY = "summary"


UNITS: Final = {
    "d": "days", "h": "hours", "min": "minutes", "s": "seconds", "ms": "milliseconds", "us": "microseconds",
    "ns": "nanoseconds",
    "By": "bytes", "KiBy": "kibibytes", "MiBy": "mebibytes", "GiBy": "gibibytes", "TiBy": "tibibytes",
    "KBy": "kilobytes", "MBy": "megabytes", "GBy": "gigabytes", "TBy": "terabytes",
    "m": "meters", "V": "volts", "A": "amperes", "J": "joules", "W": "watts", "g": "grams",
    "Cel": "celsius", "Hz": "hertz", "1": "", "%": "percent",
}
PER_UNITS: Final = {"s": "second", "m": "minute", "h": "hour", "d": "day", "w": "week", "mo": "month", "y": "year"}

_NOT_METRIC_CHAR = re.compile(r"[^A-Za-z0-9:]+")
_NOT_METRIC_CHAR_OR_UNDERSCORE = re.compile(r"[^A-Za-z0-9:_]+")
_INVALID_UNIT_CHAR = re.compile(r"[^A-Za-z0-9:]")
_UNDERSCORES = re.compile(r"__+")
_NOT_LABEL_CHAR = re.compile(r"[^A-Za-z0-9_]")
_ONLY_UNDERSCORES = re.compile(r"_*")


def _unit_parts(unit: str) -> tuple[str, str]:
    """Main and `per_` unit words, mapped but not yet cleaned."""
    main_raw, sep, per_raw = unit.partition("/")
    main_raw = main_raw.strip()
    main = ""
    if main_raw and "{" not in main_raw and "}" not in main_raw:
        main = UNITS.get(main_raw, main_raw)
    per = ""
    if sep:
        per_raw = per_raw.strip()
        if per_raw and "{" not in per_raw and "}" not in per_raw:
            per = PER_UNITS.get(per_raw, per_raw)
        if per:
            per = "per_" + per
    return main, per


def _clean_unit(word: str) -> str:
    cleaned = _UNDERSCORES.sub("_", _INVALID_UNIT_CHAR.sub("_", word))
    return cleaned[1:] if cleaned.startswith("_") else cleaned


@functools.lru_cache(maxsize=65536)
def metric_name(name: str, unit: str, kind: MetricKind, add_suffixes: bool = True) -> str | None:
    """The Prometheus base name of an OTLP metric, or None when nothing valid remains (drop it)."""
    if add_suffixes:
        tokens = [t for t in _NOT_METRIC_CHAR.split(name) if t]
        main, per = _unit_parts(unit)
        main, per = _clean_unit(main), _clean_unit(per)
        if main in tokens:
            main = ""
        if per == "per_":
            per = ""
        else:
            per = per.removesuffix("_")
            if per in tokens:
                per = ""
        if per:
            main = main.removesuffix("_")
        if main:
            tokens.append(main)
        if per:
            tokens.append(per)
        if kind is MetricKind.MONOTONIC_COUNTER:
            tokens = [t for t in tokens if t != "total"]
            tokens.append("total")
        if unit == "1" and kind is MetricKind.GAUGE:
            tokens = [t for t in tokens if t != "ratio"]
            tokens.append("ratio")
        result = "_".join(tokens)
    else:
        result = "_".join(t for t in _NOT_METRIC_CHAR_OR_UNDERSCORE.split(name) if t)
    if result[:1].isdigit():
        result = "_" + result
    if _ONLY_UNDERSCORES.fullmatch(result):
        return None
    return result


@functools.lru_cache(maxsize=65536)
def label_name(key: str) -> str | None:
    """A Prometheus label name for an attribute key, or None when the key cannot become one."""
    if not key:
        return None
    name = _NOT_LABEL_CHAR.sub("_", key)
    # protocols.md §6.2: a key that *sanitizes* to nothing but underscores ("é", "_", "日本") is
    # rejected; testing after the "key" prefix would turn "é" into a meaningless "key_".
    if _ONLY_UNDERSCORES.fullmatch(name):
        return None
    if name[0].isdigit():
        name = "key_" + name
    elif name.startswith("_") and not name.startswith("__"):
        name = "key" + name
    return name


def attributes_to_labels(attributes: Any) -> dict[str, str]:
    """Sanitised labels of an attribute list; colliding keys join their values with `;` in key order."""
    collected: dict[str, list[tuple[str, str]]] = {}
    for kv in attributes:
        name = label_name(kv.key)
        if name is None:
            continue
        text = as_string(kv.value)  # pdata AsString, as the Prometheus translator uses it
        if not text:
            continue
        collected.setdefault(name, []).append((kv.key, text))
    out: dict[str, str] = {}
    for name, pairs in collected.items():
        if len(pairs) == 1:
            out[name] = pairs[0][1]
        else:
            out[name] = ";".join(text for _, text in sorted(pairs))
    return out
