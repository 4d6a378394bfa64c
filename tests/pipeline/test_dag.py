from __future__ import annotations

from collector.pipeline.dag import Graph


def graph(edges: list[tuple[str, str]], nodes: list[str]) -> Graph:
    g = Graph(nodes)
    for dependant, dependency in edges:
        g.add_edge(dependant, dependency)
    return g


def test_topological_order_puts_dependencies_first_and_keeps_file_order() -> None:
    g = graph([("scrape", "relabel"), ("scrape", "write"), ("relabel", "write"), ("discover", "self")],
              ["scrape", "discover", "relabel", "self", "write"])
    assert g.topological_order() == ["self", "discover", "write", "relabel", "scrape"]


def test_independent_nodes_keep_file_order() -> None:
    assert Graph(["c", "a", "b"]).topological_order() == ["c", "a", "b"]


def test_no_cycles_in_a_dag() -> None:
    g = graph([("a", "b"), ("b", "c"), ("a", "c")], ["a", "b", "c"])
    assert g.cycles() == []


def test_two_cycle_is_reported_as_a_chain() -> None:
    g = graph([("b", "a"), ("a", "b")], ["a", "b"])
    assert g.cycles() == [["a", "b"]]


def test_three_cycle_follows_references_from_the_earliest_member() -> None:
    g = graph([("x", "z"), ("z", "y"), ("y", "x"), ("w", "x")], ["w", "x", "y", "z"])
    assert g.cycles() == [["x", "z", "y"]]
    # nodes on (or behind) a cycle never become ready
    assert g.topological_order() == []


def test_separate_cycles_are_separate() -> None:
    g = graph([("a", "b"), ("b", "a"), ("c", "d"), ("d", "c"), ("e", "a")], ["c", "d", "a", "b", "e"])
    assert g.cycles() == [["c", "d"], ["a", "b"]]


def test_dependencies_and_dependants() -> None:
    g = graph([("a", "b"), ("a", "c"), ("d", "b")], ["a", "b", "c", "d"])
    assert g.dependencies("a") == ["b", "c"]
    assert g.dependants("b") == ["a", "d"]


def test_deep_chain_has_no_recursion_limit() -> None:
    n = 5000
    names = [f"n{i}" for i in range(n)]
    g = graph([(names[i], names[i + 1]) for i in range(n - 1)] + [(names[-1], names[0])], names)
    (cycle,) = g.cycles()
    assert cycle == names
