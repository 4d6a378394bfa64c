from __future__ import annotations

import json
from pathlib import Path

import pytest

from collector.components.kit.api import ConsumerRef, InputExports, MetricsReceiverRef, ReceiverExports
from collector.config.diag import DiagnosticError, Sources, format_one
from collector.pipeline.loader import load, load_sources
from collector.pipeline.model import Edge
from collector.signals import Signal
from tests.pipeline.fakes import TEST_COMPONENTS, load_text


def errors_of(text: str, **files: str) -> list[str]:
    sources = Sources({"main.alloy": text.encode(), **{k: v.encode() for k, v in files.items()}})
    with pytest.raises(DiagnosticError) as info:
        load_sources(sources, components=TEST_COMPONENTS)
    return [format_one(d, info.value.sources) for d in info.value.diagnostics]


OTEL = """
test.receiver "in" {
  output {
    traces  = [test.processor.batch.input, test.connector.hosts.input]
    metrics = [test.processor.batch.input]
  }
}

test.connector "hosts" {
  output {
    metrics = [test.processor.batch.input]
  }
}

test.processor "batch" {
  output {
    traces  = [test.exporter.tempo.input]
    metrics = [test.metrics_exporter.prom.input]
  }
}

test.exporter "tempo" { }

test.metrics_exporter "prom" {
  forward_to = [test.sink.write.receiver]
}

test.sink "write" { }
"""


def test_pipeline_nodes_order_and_exports() -> None:
    p = load_text(OTEL)
    assert p.order == [
        "test.exporter.tempo",
        "test.sink.write",
        "test.metrics_exporter.prom",
        "test.processor.batch",
        "test.connector.hosts",
        "test.receiver.in",
    ]
    batch = p.nodes["test.processor.batch"]
    assert (batch.name, batch.label) == ("test.processor", "batch")
    assert batch.exports == InputExports(ConsumerRef("test.processor.batch", frozenset(Signal)))
    assert batch.export_values == {"input": ConsumerRef("test.processor.batch", frozenset(Signal))}
    assert p.nodes["test.sink.write"].exports == ReceiverExports(MetricsReceiverRef("test.sink.write"))
    assert batch.references_to == ["test.exporter.tempo", "test.metrics_exporter.prom"]
    assert batch.referenced_by == ["test.connector.hosts", "test.receiver.in"]
    assert len(p.config_hash) == 64


def test_data_flow_edges_carry_signals() -> None:
    p = load_text(OTEL)
    assert set(p.edges) == {
        Edge("test.receiver.in", "test.processor.batch", Signal.TRACES, "otlp"),
        Edge("test.receiver.in", "test.connector.hosts", Signal.TRACES, "otlp"),
        Edge("test.receiver.in", "test.processor.batch", Signal.METRICS, "otlp"),
        Edge("test.connector.hosts", "test.processor.batch", Signal.METRICS, "otlp"),
        Edge("test.processor.batch", "test.exporter.tempo", Signal.TRACES, "otlp"),
        Edge("test.processor.batch", "test.metrics_exporter.prom", Signal.METRICS, "otlp"),
        Edge("test.metrics_exporter.prom", "test.sink.write", Signal.METRICS, "samples"),
    }


def test_targets_flow_from_the_referenced_component() -> None:
    p = load_sources(
        Sources({"main.alloy": b"""
test.targets "self" { }
test.relabel "r" {
  targets = test.targets.self.targets
}
test.scrape "s" {
  targets    = test.relabel.r.output
  forward_to = [test.sink.w.receiver]
}
test.sink "w" { }
"""}),
        components=TEST_COMPONENTS,
        http_listen_addr="127.0.0.1:9999",
    )
    assert p.edges == [
        Edge("test.targets.self", "test.relabel.r", None, "targets"),
        Edge("test.relabel.r", "test.scrape.s", None, "targets"),
        Edge("test.scrape.s", "test.sink.w", Signal.METRICS, "samples"),
    ]
    assert p.nodes["test.scrape.s"].args.targets == [
        {"__address__": "127.0.0.1:9", "listen": "127.0.0.1:9999", "relabelled": "yes"}
    ]


def test_to_dict_is_json_ready() -> None:
    p = load_text(OTEL + 'test.processor "other" {\n  client {\n    endpoint = "http://x"\n    password = "p"\n  }\n  output { }\n}\n')
    data = json.loads(json.dumps(p.to_dict()))
    nodes = {n["id"]: n for n in data["nodes"]}
    assert nodes["test.receiver.in"]["arguments"]["output"]["traces"] == [
        "test.processor.batch.input",
        "test.connector.hosts.input",
    ]
    assert nodes["test.processor.other"]["arguments"]["client"]["password"] == "(secret)"
    assert nodes["test.sink.write"]["exports"] == {"receiver": "test.sink.write.receiver"}
    assert nodes["test.receiver.in"]["data_flow_edges_to"] == ["test.connector.hosts", "test.processor.batch"]
    assert {"source": "test.metrics_exporter.prom", "target": "test.sink.write", "signal": "metrics",
            "kind": "samples"} in data["edges"]


def test_config_blocks() -> None:
    p = load_text('logging {\n  level = "debug"\n  format = "json"\n}\nlivedebugging {\n  enabled = true\n}\n')
    assert (p.logging.level, p.logging.format) == ("debug", "json")
    assert p.livedebugging_enabled
    assert p.nodes == {} and p.edges == []


def test_stdlib_chains_are_not_references() -> None:
    p = load_text('test.exporter "e" {\n  endpoint = coalesce(sys.env("NOPE_NOT_SET_X"), "http://" + constants.os)\n}\n')
    assert p.nodes["test.exporter.e"].args.endpoint.startswith("http://")
    assert p.edges == []


def test_directory_of_files(tmp_path: Path) -> None:
    (tmp_path / "a.alloy").write_text('test.exporter "e" { }\n')
    (tmp_path / "b.alloy").write_text('test.processor "p" {\n  output {\n    logs = [test.exporter.e.input]\n  }\n}\n')
    (tmp_path / "ignored.txt").write_text("not alloy")
    p = load(tmp_path, components=TEST_COMPONENTS)
    assert p.order == ["test.exporter.e", "test.processor.p"]
    assert p.edges == [Edge("test.processor.p", "test.exporter.e", Signal.LOGS, "otlp")]


def test_duplicate_ids_across_files() -> None:
    assert errors_of('test.exporter "e" { }\n', **{"other.alloy": '\ntest.exporter "e" { }\n'}) == [
        "other.alloy:2:1: block test.exporter.e already declared at main.alloy:1:1"
    ]


GRAPH_ERRORS = [
    ("x = 1\n", ["main.alloy:1:1: unrecognized attribute x"]),
    ('local.missing "a" { }\n', ['main.alloy:1:1: cannot find the definition of component name "local.missing"']),
    ("test.exporter { }\n", ['main.alloy:1:1: component "test.exporter" must have a label']),
    ('logging { }\nlogging { }\n', ["main.alloy:2:1: block logging already declared at main.alloy:1:1"]),
    ('logging "x" { }\n', ['main.alloy:1:1: block "logging" does not support specifying labels']),
    ('logging {\n  level = "loud"\n}\n', ['main.alloy:2:11: unrecognized log level "loud"']),
    ('declare "x" { }\n', ["main.alloy:1:1: declare blocks are not supported by this collector"]),
    (
        'test.chain "a" {\n  value = test.chain.nope.value\n}\n',
        ['main.alloy:2:11: component "test.chain.nope.value" does not exist or is out of scope'],
    ),
    ('test.chain "a" {\n  value = nope\n}\n', ['main.alloy:2:11: component "nope" does not exist or is out of scope']),
    ('test.chain "a" {\n  value = test.chain.a.value\n}\n', ["main.alloy:2:11: cannot reference self"]),
    (
        'test.chain "a" {\n  value = test.chain.b.value\n}\ntest.chain "b" {\n  value = test.chain.a.value\n}\n',
        ["main.alloy:1:1: cycle detected: test.chain.a, test.chain.b",
         "main.alloy:4:1: cycle detected: test.chain.a, test.chain.b"],
    ),
    (
        'test.chain "b" {\n  value = test.chain.a.nope\n}\ntest.chain "a" { }\n',
        ['main.alloy:2:24: field "nope" does not exist'],
    ),
]


@pytest.mark.parametrize(("text", "expected"), GRAPH_ERRORS)
def test_graph_errors(text: str, expected: list[str]) -> None:
    assert errors_of(text) == expected


def test_three_cycle_reported_per_member_and_dependant_errors_at_failed_references_dropped() -> None:
    text = "\n".join(
        f'test.chain "{a}" {{\n  value = test.chain.{b}.value\n}}' for a, b in [("x", "y"), ("y", "z"), ("z", "x")]
    ) + '\ntest.chain "after" {\n  value = test.chain.x.value + 1\n}\n'
    assert errors_of(text) == [
        f"main.alloy:{line}:1: cycle detected: test.chain.x, test.chain.y, test.chain.z" for line in (1, 4, 7)
    ]


def test_independent_errors_are_all_reported_and_dependants_skipped() -> None:
    text = """test.processor "a" {
  size = "big"
  output { }
}
test.exporter "b" {
  endpoint = 5 + "x"
}
test.chain "c" {
  value = test.processor.a.input
}
test.exporter "d" {
  bogus = 1
}
"""
    assert errors_of(text) == [
        "main.alloy:2:10: expected number, got string",
        "main.alloy:6:18: should be number, got string",
        'main.alloy:12:3: unrecognized attribute name "bogus"',
    ]
