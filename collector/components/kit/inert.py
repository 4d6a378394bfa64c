"""Arguments a component accepts (Alloy configurations must load unchanged) but does not apply,
declared where they are defined, so nothing is ignored silently.

An `Arguments` struct, or any block struct inside it, may declare `NOT_APPLIED`, a class
variable mapping an Alloy attribute or block name (or a dotted path into a nested block, such as
`tls.insecure`) to the reason. A configuration that sets such an argument to anything but its
default loads with a warning (`path:line:col: warning: "x" is accepted but not applied by this
collector: <reason>`), printed by `collector validate` and logged by `collector run`. It is meant for
settings whose absence changes no data: tuning knobs of Go's HTTP stack, debug-metrics levels,
protocols this collector does not negotiate. A setting whose absence would change what is sent
or who may read it is refused by the block's `validate()` instead (sigv4, remote write 2.0).

The configuration decoder calls `deviations` after a block's own `validate()`;
tests/components/test_arguments_applied.py fails for any argument that is neither read by its
component's code, nor refused by its validation, nor declared here, and checks that every
declaration is reported.
"""

from __future__ import annotations

from typing import Any, Iterator

import msgspec

from collector.pipeline.schema import FieldKind, schema_of, struct_defaults


def declared(struct: type[msgspec.Struct]) -> dict[str, str]:
    return dict(getattr(struct, "NOT_APPLIED", None) or {})


def _differs(value: msgspec.Struct, dotted: str) -> bool:
    """Whether `value`'s setting at `dotted` (Alloy names) is not its default; an absent
    optional block on the way counts as default."""
    head, _, rest = dotted.partition(".")
    spec = schema_of(type(value)).fields[head]
    current = getattr(value, spec.attr)
    if rest:
        return isinstance(current, msgspec.Struct) and _differs(current, rest)
    defaults = struct_defaults(type(value))
    return spec.attr not in defaults or bool(current != defaults[spec.attr])


def deviations(value: msgspec.Struct, path: str = "") -> Iterator[tuple[str, str]]:
    """(dotted attribute path, reason) of every declared setting `value` (and the blocks inside
    it) sets to something else than its default."""
    marks = declared(type(value))
    for name, reason in marks.items():
        if _differs(value, name):
            yield f"{path}{name}", reason
    for spec in schema_of(type(value)).fields.values():
        if spec.name in marks:
            continue
        current = getattr(value, spec.attr)
        where = f"{path}{spec.name}"
        if spec.kind is FieldKind.BLOCK and isinstance(current, msgspec.Struct):
            yield from deviations(current, where + ".")
        elif spec.kind is FieldKind.BLOCKS and isinstance(current, list):
            for index, item in enumerate(current):
                if isinstance(item, msgspec.Struct):
                    yield from deviations(item, f"{where}[{index}].")


def message(path: str, reason: str) -> str:
    name = path.rsplit(".", 1)[-1].split("[", 1)[0]
    return f'"{name}" is accepted but not applied by this collector: {reason}'
