"""The dependency graph of a configuration: one node per component, an edge dependant -> dependency.

Alloy evaluates dependencies first and rejects cycles (reference A.7 steps 2-4). Node order is the
order the components appear in the files, and every result here keeps it, so the same
configuration always gives the same evaluation order, messages and UI listing.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable


class Graph:
    def __init__(self, nodes: Iterable[str] = ()) -> None:
        self._index: dict[str, int] = {}
        self._deps: dict[str, list[str]] = {}  # dependant -> dependencies, first reference first
        for node in nodes:
            self.add_node(node)

    def add_node(self, node: str) -> None:
        if node not in self._index:
            self._index[node] = len(self._index)
            self._deps[node] = []

    def add_edge(self, dependant: str, dependency: str) -> None:
        self.add_node(dependant)
        self.add_node(dependency)
        if dependency not in self._deps[dependant]:
            self._deps[dependant].append(dependency)

    @property
    def nodes(self) -> list[str]:
        return list(self._index)

    def dependencies(self, node: str) -> list[str]:
        return list(self._deps[node])

    def dependants(self, node: str) -> list[str]:
        return [n for n, deps in self._deps.items() if node in deps]

    def cycles(self) -> list[list[str]]:
        """Strongly connected components with more than one node, each as a chain: every member
        references the next (as far as the component allows), the first member the earliest in
        the file. Self references are not cycles here; the loader reports them on their own."""
        found = [scc for scc in self._strongly_connected() if len(scc) > 1]
        return sorted((self._chain(scc) for scc in found), key=lambda c: self._index[c[0]])

    def _strongly_connected(self) -> list[list[str]]:
        # Tarjan's algorithm, iterative so deep chains cannot hit the recursion limit.
        index: dict[str, int] = {}
        low: dict[str, int] = {}
        on_stack: set[str] = set()
        stack: list[str] = []
        result: list[list[str]] = []
        counter = 0
        for root in self._index:
            if root in index:
                continue
            work: list[tuple[str, int]] = [(root, 0)]
            while work:
                node, child = work.pop()
                if child == 0:
                    index[node] = low[node] = counter
                    counter += 1
                    stack.append(node)
                    on_stack.add(node)
                deps = self._deps[node]
                if child < len(deps):
                    work.append((node, child + 1))
                    nxt = deps[child]
                    if nxt not in index:
                        work.append((nxt, 0))
                    elif nxt in on_stack:
                        low[node] = min(low[node], index[nxt])
                    continue
                if low[node] == index[node]:
                    scc: list[str] = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        scc.append(member)
                        if member == node:
                            break
                    result.append(scc)
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
        return result

    def _chain(self, scc: list[str]) -> list[str]:
        """Linear in the members and their references (a 10,000-component cycle is one pass)."""
        members = set(scc)
        by_position = sorted(scc, key=self._index.__getitem__)
        earliest = 0  # by_position[:earliest] are all in the chain already
        start = by_position[0]
        chain = [start]
        seen = {start}
        node = start
        while len(chain) < len(scc):
            nxt = next((d for d in self._deps[node] if d in members and d not in seen), None)
            if nxt is None:  # not a simple cycle: continue from the earliest unvisited member
                while by_position[earliest] in seen:
                    earliest += 1
                nxt = by_position[earliest]
            chain.append(nxt)
            seen.add(nxt)
            node = nxt
        return chain

    @staticmethod
    def describe_cycle(cycle: list[str], shown: int = 5) -> str:
        """`a, b, c` as Alloy lists a cycle; a long one by its first members and how many more,
        since every member gets the message (10,000 members x 10,000 names would be gigabytes)."""
        if len(cycle) <= shown:
            return ", ".join(cycle)
        return ", ".join(cycle[:shown]) + f", ... ({len(cycle)} components in the cycle)"

    def topological_order(self, skip: Iterable[str] = ()) -> list[str]:
        """Dependencies first; among ready nodes, the earliest in the file first. Nodes in `skip`
        (and nodes on cycles) are left out."""
        skipped = set(skip)
        remaining = {n: len([d for d in deps if d != n]) for n, deps in self._deps.items()}
        dependants: dict[str, list[str]] = {n: [] for n in self._deps}
        for node, deps in self._deps.items():
            for dep in deps:
                if dep != node:
                    dependants[dep].append(node)
        ready = [(self._index[n], n) for n, count in remaining.items() if count == 0]
        heapq.heapify(ready)
        order: list[str] = []
        while ready:
            _, node = heapq.heappop(ready)
            order.append(node)
            for nxt in dependants[node]:
                remaining[nxt] -= 1
                if remaining[nxt] == 0:
                    heapq.heappush(ready, (self._index[nxt], nxt))
        return [n for n in order if n not in skipped]
