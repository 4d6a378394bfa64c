"""Component references in a block body (reference A.5 "Component references", A.7 step 2).

A reference is an uninterrupted dotted chain of identifiers (`otelcol.processor.batch.default.input`).
It names the component whose ID is the shortest prefix of the chain; the rest of the chain reads
that component's exports. Chains whose first name is a standard-library namespace and that name no
component are ordinary expressions, not graph edges.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from collector.config import ast
from collector.config.diag import Span


@dataclass(frozen=True, slots=True)
class Reference:
    source: str  # the referencing component
    target: str  # the referenced component
    export: str | None  # first field read from the target's exports (None: the whole object)
    attribute: tuple[str, ...]  # enclosing block names and the attribute, e.g. ("output", "traces")
    span: Span


class UnresolvedReference(Exception):
    def __init__(self, chain: tuple[str, ...], span: Span) -> None:
        super().__init__(f'component "{".".join(chain)}" does not exist or is out of scope')
        self.chain = chain
        self.span = span


def attribute_expressions(
    body: Sequence[ast.Statement], prefix: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], ast.Expr]]:
    """Every attribute value of a body and its nested blocks, with its attribute path."""
    for stmt in body:
        if isinstance(stmt, ast.Attribute):
            yield (*prefix, stmt.name), stmt.value
        else:
            yield from attribute_expressions(stmt.body, (*prefix, stmt.full_name))


class ComponentTable:
    """Resolves chains against the declared component IDs."""

    def __init__(self, ids: Sequence[str], stdlib_names: Mapping[str, object]) -> None:
        self._by_parts = {tuple(i.split(".")): i for i in ids}
        self._longest = max((len(p) for p in self._by_parts), default=0)
        self._stdlib = stdlib_names

    def resolve(self, chain: tuple[str, ...], span: Span) -> tuple[str, str | None] | None:
        """(component ID, export name) for a chain naming a component; None for a stdlib chain;
        raises `UnresolvedReference` otherwise."""
        for k in range(1, min(len(chain), self._longest) + 1):
            found = self._by_parts.get(chain[:k])
            if found is not None:
                return found, chain[k] if len(chain) > k else None
        if chain and chain[0] in self._stdlib:
            return None
        raise UnresolvedReference(chain, span)
