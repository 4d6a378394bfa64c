"""`include` / `exclude` matching of `otelcol.processor.attributes` (the Collector's filterset rules).

Within one match block every listed category must match (AND); within a category any entry may
match (OR), except `attribute`/`resource` lists where every listed attribute must match. An item is
processed when it matches `include` (if given) and does not match `exclude` (if given).

Conditions are split by the level they look at so a walk can evaluate them once per resource, once
per scope and then per item: `resource` (services, resource attributes), `scope` (libraries) and
`item` (names, bodies, kinds, severities, item attributes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Literal, Sequence

from collector.protocols.wire import as_string, format_f, to_python
from collector.components.otelcol.processor.attributes.actions import go_regex
from collector.protocols.regex import Regex
from collector.signals import Signal

_SPAN_KINDS = {
    "SPAN_KIND_UNSPECIFIED": 0, "SPAN_KIND_INTERNAL": 1, "SPAN_KIND_SERVER": 2, "SPAN_KIND_CLIENT": 3,
    "SPAN_KIND_PRODUCER": 4, "SPAN_KIND_CONSUMER": 5,
}


@dataclass(frozen=True, slots=True)
class MatchSpec:
    match_type: Literal["strict", "regexp"]
    services: tuple[str, ...] = ()
    span_names: tuple[str, ...] = ()
    span_kinds: tuple[str, ...] = ()
    log_bodies: tuple[str, ...] = ()
    log_severity_texts: tuple[str, ...] = ()
    log_severity_min: int | None = None
    log_severity_match_undefined: bool = False
    metric_names: tuple[str, ...] = ()
    attributes: tuple[tuple[str, Any], ...] = ()
    resources: tuple[tuple[str, Any], ...] = ()
    libraries: tuple[tuple[str, str | None], ...] = ()


# Categories each signal may use.
_ALLOWED = {
    Signal.TRACES: {"services", "span_names", "span_kinds", "attributes", "resources", "libraries"},
    Signal.LOGS: {"log_bodies", "log_severity_texts", "log_severity_min", "attributes", "resources", "libraries"},
    Signal.METRICS: {"metric_names", "attributes", "resources", "libraries"},
}
_CATEGORIES = ("services", "span_names", "span_kinds", "log_bodies", "log_severity_texts", "log_severity_min",
               "metric_names", "attributes", "resources", "libraries")


def _used(spec: MatchSpec) -> set[str]:
    return {name for name in _CATEGORIES if getattr(spec, name) not in ((), None)}


def check_for_signal(spec: MatchSpec, signal: Signal) -> None:
    """Spans and logs reject foreign categories (filterspan/filterlog); metrics ignore them (filtermetric)."""
    if signal is Signal.METRICS:
        return
    used = _used(spec)
    extra = sorted(used - _ALLOWED[signal])
    if extra:
        raise ValueError(f"{', '.join(extra)} should not be specified for {signal.value}")
    if not used:
        raise ValueError("at least one of " + ", ".join(sorted(_ALLOWED[signal])) + " must be specified")


class _Strings:
    """Any-of matcher over strings: exact set membership or any regex search."""

    __slots__ = ("_exact", "_regexes")

    def __init__(self, values: Sequence[str], regexp: bool) -> None:
        self._exact = frozenset(values) if not regexp else frozenset()
        self._regexes = [go_regex(v) for v in values] if regexp else []

    def __call__(self, text: str) -> bool:
        if text in self._exact:
            return True
        return any(r.test(text) for r in self._regexes)


def _attribute_predicate(pairs: Sequence[tuple[str, Any]], regexp: bool) -> Callable[[Any], bool]:
    """All listed attributes must be present and equal (strict) or match (regexp, string values)."""
    checks: list[tuple[str, Callable[[Any], bool]]] = []
    for key, expected in pairs:
        if expected is None:
            checks.append((key, _present))
        elif regexp:
            if not isinstance(expected, str):
                raise ValueError(f"match_type=regexp for attribute {key!r} requires a string value")
            checks.append((key, _regex_check(go_regex(expected))))
        else:
            checks.append((key, _equal_check(expected)))

    def predicate(attrs: Any) -> bool:
        found = {kv.key: kv.value for kv in attrs}
        return all(key in found and check(found[key]) for key, check in checks)

    return predicate


def _present(_value: Any) -> bool:
    return True


_TEXT_KINDS = frozenset(("string_value", "int_value", "bool_value"))  # filtered as AsString gives them


def filter_text(value: Any) -> str | None:
    """The text a regexp attribute filter sees (filtermatcher's attributeStringValue): strings as
    they are, bools and ints in decimal, doubles as Go's FormatFloat 'f' (`0.0000001`, not AsString's
    `1e-7`); other kinds never match."""
    kind = value.WhichOneof("value")
    if kind == "double_value":
        return format_f(value.double_value)
    return as_string(value) if kind in _TEXT_KINDS else None


def _regex_check(regex: Regex) -> Callable[[Any], bool]:
    def check(value: Any) -> bool:
        text = filter_text(value)
        return text is not None and regex.test(text)

    return check


def _equal_check(expected: Any) -> Callable[[Any], bool]:
    def check(value: Any) -> bool:
        return _strict_equal(to_python(value), expected)

    return check


def _strict_equal(actual: Any, expected: Any) -> bool:
    if isinstance(actual, bool) or isinstance(expected, bool):
        return type(actual) is type(expected) and actual == expected
    return bool(actual == expected)


class Matcher:
    """One compiled match block; each level returns True when it has no conditions."""

    def __init__(self, spec: MatchSpec) -> None:
        regexp = spec.match_type == "regexp"
        self._services = _Strings(spec.services, regexp) if spec.services else None
        self._resources = _attribute_predicate(spec.resources, regexp) if spec.resources else None
        self._libraries = [(_Strings([name], regexp), None if version is None else _Strings([version], regexp))
                           for name, version in spec.libraries]
        self._names = _Strings(spec.span_names or spec.metric_names, regexp) \
            if (spec.span_names or spec.metric_names) else None
        self._bodies = _Strings(spec.log_bodies, regexp) if spec.log_bodies else None
        self._severity_texts = _Strings(spec.log_severity_texts, regexp) if spec.log_severity_texts else None
        self._severity_min = spec.log_severity_min
        self._severity_undefined = spec.log_severity_match_undefined
        self._kinds = frozenset(_SPAN_KINDS.get(k, _SPAN_KINDS.get("SPAN_KIND_" + k.upper(), -1))
                                for k in spec.span_kinds) if spec.span_kinds else None
        self._attributes = _attribute_predicate(spec.attributes, regexp) if spec.attributes else None
        self.has_item_conditions = any(x is not None for x in (
            self._names, self._bodies, self._severity_texts, self._severity_min, self._kinds, self._attributes))

    def match_resource(self, resource: Any) -> bool:
        if self._services is not None:
            service = next((kv.value for kv in resource.attributes if kv.key == "service.name"), None)
            if service is None or not self._services(as_string(service)):
                return False
        return self._resources is None or self._resources(resource.attributes)

    def match_scope(self, scope: Any) -> bool:
        if not self._libraries:
            return True
        return any(name(scope.name) and (version is None or version(scope.version))
                   for name, version in self._libraries)

    def match_item(self, signal: Signal, item: Any, name: str) -> bool:
        if self._names is not None and not self._names(name):
            return False
        if self._kinds is not None and item.kind not in self._kinds:
            return False
        if self._bodies is not None and not self._bodies(as_string(item.body)):  # filterlog: Body().AsString()
            return False
        if self._severity_texts is not None and not self._severity_texts(item.severity_text):
            return False
        if self._severity_min is not None:
            number = item.severity_number
            if number == 0:
                if not self._severity_undefined:
                    return False
            elif number < self._severity_min:
                return False
        return self._attributes is None or self._attributes(item.attributes)


@dataclass(frozen=True, slots=True)
class Filter:
    include: Matcher | None
    exclude: Matcher | None

    @property
    def trivial(self) -> bool:
        return self.include is None and self.exclude is None


def compile_filter(include: MatchSpec | None, exclude: MatchSpec | None, signal: Signal | None = None) -> Filter:
    """Compile both blocks; with `signal`, also reject categories that signal cannot use."""
    if signal is not None:
        for spec in (include, exclude):
            if spec is not None:
                check_for_signal(spec, signal)
    if signal is Signal.METRICS:
        include, exclude = _for_metrics(include), _for_metrics(exclude)
    return Filter(None if include is None else Matcher(include), None if exclude is None else Matcher(exclude))


def _for_metrics(spec: MatchSpec | None) -> MatchSpec | None:
    """Only the categories metrics understand; a block left empty matches nothing (it is dropped)."""
    if spec is None:
        return None
    kept = MatchSpec(spec.match_type, metric_names=spec.metric_names, attributes=spec.attributes,
                     resources=spec.resources, libraries=spec.libraries)
    return kept if _used(kept) else None
