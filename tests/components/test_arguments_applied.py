"""No argument is accepted and silently ignored.

Every argument of every component in the catalog (blocks included, recursively) must be one of:

* **read** by the component's code: its name is read as an attribute (`args.x`, `self.x`), or
  named by a string (`getattr(args, "x")`, tables of field names), outside any `validate*` function, in the component's module or package or in a collector module they
  import (transitively, within components/, protocols/, transport/, storage/ and ottl/);
* **refused** by validation: read in the condition of an `if` (or the iterable of a `for`) inside a
  `validate*` function whose body raises (e.g. `if self.sigv4 is not None: raise ArgumentError`);
* **declared** in the `NOT_APPLIED` table of its struct or of an enclosing block
  (`collector/components/kit/inert.py`): then the configuration loader warns, which the second
  test checks for every declaration by setting it to a non-default value.

The first rule is a static approximation ("some code reads a field of that name"), not a proof of
effect; the behaviour of what is read is the business of each component's own tests. What it does
catch is the failure this file exists for: a field added to an `Arguments` struct (or copied from
Alloy's documentation) that nothing reads and nothing declares.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import typing
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator

import msgspec
import pytest

from collector.components.kit import inert
from collector.components.kit.api import ConsumerRef, MetricsReceiverRef
from collector.components.kit.catalog import COMPONENTS, module_of
from collector.components.kit.registry import lookup
from collector.config.values import Secret
from collector.pipeline.schema import FieldKind, schema_of, strip_annotated
from collector.signals import Signal

SCANNED = ("/collector/components/", "/collector/protocols/", "/collector/transport/", "/collector/storage/",
           "/collector/ottl/")


def _package_files(module: str) -> set[Path]:
    origin = Path(importlib.import_module(module).__file__ or "")
    return set(origin.parent.rglob("*.py")) if origin.name == "__init__.py" else {origin}


@lru_cache(maxsize=None)
def _imports(path: Path) -> frozenset[Path]:
    found: set[Path] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("collector"):
            for candidate in (node.module, *(f"{node.module}.{alias.name}" for alias in node.names)):
                try:
                    spec = importlib.util.find_spec(candidate)
                except (ImportError, ValueError):
                    continue
                if spec is not None and spec.origin and spec.origin.endswith(".py") and any(
                        part in spec.origin for part in SCANNED):
                    found.add(Path(spec.origin))
    return frozenset(found)


def reachable_files(component: str) -> set[Path]:
    files = _package_files(module_of(component))
    frontier = set(files)
    while frontier:
        new = {f for path in frontier for f in _imports(path)} - files
        files |= new
        frontier = new
    return files


class _Reads(ast.NodeVisitor):
    """Attribute names read outside validation, read in validation conditions that raise, and
    name suffixes read through `getattr(x, f"{...}_suffix")`."""

    def __init__(self) -> None:
        self.read: set[str] = set()
        self.refused: set[str] = set()
        self.suffixes: set[str] = set()
        self._in_validate = 0

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        validating = node.name.lstrip("_").startswith("validate")
        self._in_validate += validating
        self.generic_visit(node)
        self._in_validate -= validating

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def _names(self, node: ast.AST) -> set[str]:
        out = set()
        for sub in ast.walk(node):
            if isinstance(sub, ast.Attribute):
                out.add(sub.attr)
            elif isinstance(sub, ast.Constant) and isinstance(sub.value, str):
                out.add(sub.value)
        return out

    @staticmethod
    def _raises(body: list[ast.stmt]) -> bool:
        return any(isinstance(sub, ast.Raise) for stmt in body for sub in ast.walk(stmt))

    def visit_If(self, node: ast.If) -> None:
        if self._in_validate and self._raises(node.body):
            self.refused |= self._names(node.test)
        self.generic_visit(node)

    def visit_For(self, node: ast.For) -> None:
        if self._in_validate and self._raises(node.body):
            self.refused |= self._names(node.iter)
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if not self._in_validate:
            self.read.add(node.attr)
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if not self._in_validate and isinstance(node.value, str) and node.value.isidentifier():
            self.read.add(node.value)

    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:
        last = node.values[-1] if node.values else None
        if not self._in_validate and isinstance(last, ast.Constant) and isinstance(last.value, str):
            self.suffixes.add(last.value)
        self.generic_visit(node)


@lru_cache(maxsize=None)
def _file_reads(path: Path) -> _Reads:
    reads = _Reads()
    reads.visit(ast.parse(path.read_text()))
    return reads


def _reads_all_fields(struct: type[msgspec.Struct]) -> bool:
    """A struct whose own methods walk its fields generically (a table of toggles)."""
    import inspect

    try:
        source = inspect.getsource(struct)
    except (OSError, TypeError):
        return False
    return "msgspec.structs.astuple(self)" in source or "msgspec.structs.asdict(self)" in source


def _fields(struct: type[msgspec.Struct], path: str, covered: set[str]) -> Iterator[tuple[type, Any, str, bool]]:
    """(struct, field spec, dotted path, declared?) for every field, depth first."""
    marks = inert.declared(struct)
    for spec in schema_of(struct).fields.values():
        dotted = f"{path}{spec.name}"
        declared = spec.name in marks or dotted in covered
        yield struct, spec, dotted, declared
        if spec.block_type is not None and not declared:
            inner = {key[len(spec.name) + 1:] for key in marks if key.startswith(spec.name + ".")}
            inner |= {c[len(dotted) + 1:] for c in covered if c.startswith(dotted + ".")}
            yield from _fields(spec.block_type, f"{dotted}.", {f"{dotted}.{i}" for i in inner})


@pytest.mark.parametrize("component", COMPONENTS)
def test_every_argument_is_read_refused_or_declared(component: str) -> None:
    info = lookup(component)
    assert info is not None
    read: set[str] = set()
    refused: set[str] = set()
    suffixes: set[str] = set()
    for path in reachable_files(component):
        reads = _file_reads(path)
        read |= reads.read
        refused |= reads.refused
        suffixes |= reads.suffixes
    inert_fields = []
    refused_blocks: list[str] = []
    for struct, spec, dotted, declared in _fields(info.arguments, "", set()):
        if declared or any(dotted.startswith(block + ".") for block in refused_blocks):
            continue
        if spec.kind is not FieldKind.ATTRIBUTE and spec.attr not in refused:
            continue  # a block acts through its fields, which are checked one by one
        if spec.attr in read or _reads_all_fields(struct) or any(
                s.startswith("_") and spec.attr.endswith(s) for s in suffixes):
            continue
        if spec.attr in refused:
            if spec.kind is not FieldKind.ATTRIBUTE:
                refused_blocks.append(dotted)
            continue
        inert_fields.append(dotted)
    assert not inert_fields, (
        f"{component}: arguments nothing reads, refuses or declares: {inert_fields}. Apply them, refuse them in "
        "validate(), or declare them in NOT_APPLIED (collector/components/kit/inert.py)")


# --- every declaration is reported ------------------------------------------------------------------
def _declaring_structs() -> dict[type[msgspec.Struct], str]:
    found: dict[type[msgspec.Struct], str] = {}

    def walk(struct: type[msgspec.Struct], owner: str) -> None:
        if struct in found:
            return
        found[struct] = owner
        for spec in schema_of(struct).fields.values():
            if spec.block_type is not None:
                walk(spec.block_type, owner)

    for name in COMPONENTS:
        info = lookup(name)
        assert info is not None
        walk(info.arguments, name)
    return {struct: owner for struct, owner in found.items() if inert.declared(struct)}


def _sample(annotation: Any, default: Any = msgspec.NODEFAULT) -> Any:
    """A valid value of `annotation` that differs from `default`."""
    tp = strip_annotated(annotation)
    args = typing.get_args(tp)
    origin = typing.get_origin(tp)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        inner = [a for a in args if a is not type(None)]
        return _sample(inner[0])
    if tp is bool:
        return not default if isinstance(default, bool) else True
    if tp is int:
        return (default if isinstance(default, int) else 0) + 7
    if tp is float:
        return (default if isinstance(default, float) else 0.0) + 7.5
    if tp is Secret:
        return Secret("s")
    if tp is MetricsReceiverRef:
        return MetricsReceiverRef("prometheus.remote_write.x")
    if tp is ConsumerRef:
        return ConsumerRef("otelcol.exporter.debug.x", frozenset(Signal))
    if tp is Any:
        return None
    if tp is str:
        return (default if isinstance(default, str) else "") + "x"
    if origin is list:
        return [_sample(args[0])]
    if origin is dict:
        return {"k": _sample(args[1])}
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
        built = _build(tp, {})
        if built == default:  # a block present with its defaults is no change: set its first field
            return _set(tp, next(iter(schema_of(tp).fields)))
        return built
    raise AssertionError(f"no sample value for {annotation!r}")


def _build(struct: type[msgspec.Struct], overrides: dict[str, Any]) -> msgspec.Struct:
    kwargs = {}
    for info in msgspec.structs.fields(struct):
        if info.name in overrides:
            kwargs[info.name] = overrides[info.name]
        elif info.required:
            kwargs[info.name] = _sample(info.type)
    return struct(**kwargs)


def _set(struct: type[msgspec.Struct], dotted: str) -> msgspec.Struct:
    """An instance of `struct` whose setting at `dotted` (Alloy names) is not its default."""
    head, _, rest = dotted.partition(".")
    spec = schema_of(struct).fields[head]
    if rest:
        assert spec.block_type is not None, dotted
        return _build(struct, {spec.attr: _set(spec.block_type, rest)})
    info = next(f for f in msgspec.structs.fields(struct) if f.name == spec.attr)
    default = info.default if info.default is not msgspec.NODEFAULT else (
        info.default_factory() if info.default_factory is not msgspec.NODEFAULT else msgspec.NODEFAULT)
    return _build(struct, {spec.attr: _sample(info.type, default)})


DECLARATIONS = [(struct, name, owner) for struct, owner in _declaring_structs().items()
                for name in inert.declared(struct)]


@pytest.mark.parametrize("struct,name,owner", DECLARATIONS,
                         ids=[f"{owner}:{struct.__name__}.{name}" for struct, name, owner in DECLARATIONS])
def test_every_declared_argument_is_reported_when_set(struct: type[msgspec.Struct], name: str, owner: str) -> None:
    value = _set(struct, name)
    reported = list(inert.deviations(value))
    assert [path for path, _ in reported] == [name]
    assert inert.message(*reported[0]).startswith(f'"{name.rsplit(".", 1)[-1]}" is accepted but not applied')
    assert list(inert.deviations(_build(struct, {}))) == []  # defaults: nothing to say


def test_the_loader_warns_with_a_position_and_still_loads(tmp_path: Path) -> None:
    from collector.config.diag import render
    from collector.pipeline.loader import load

    path = tmp_path / "config.alloy"
    path.write_text('prometheus.remote_write "out" {\n  endpoint {\n    url = "http://127.0.0.1:9/api/v1/push"\n'
                    '    round_robin_dns = true\n  }\n}\n'
                    'prometheus.scrape "s" {\n  targets = [{"__address__" = "127.0.0.1:9"}]\n'
                    '  forward_to = [prometheus.remote_write.out.receiver]\n  enable_http2 = false\n'
                    '  clustering {\n    enabled = true\n  }\n}\n')
    pipeline = load(path)
    text = render(pipeline.warnings, pipeline.sources)
    assert 'config.alloy:4:23: "round_robin_dns" is accepted but not applied by this collector' in text
    assert 'config.alloy:10:18: "enable_http2" is accepted but not applied' in text
    assert 'config.alloy:11:3: "clustering" is accepted but not applied' in text
    assert "prometheus.scrape.s" in pipeline.nodes
