from __future__ import annotations

import pytest

from collector.pipeline.model import Pipeline
from collector.pipeline.plan import receiver_components, signal_paths, supervisor_components, worker_components
from collector.signals import Signal
from tests.pipeline.fakes import load_text

GATEWAY = """
test.receiver "in" {
  output {
    traces  = [test.processor.first.input]
    metrics = [test.processor.first.input]
  }
}

test.processor "first" {
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
    logs    = [test.exporter.loki.input]
  }
}

test.exporter "tempo" { }
test.exporter "loki" { }

test.metrics_exporter "prom" {
  forward_to = [test.sink.write.receiver]
}

test.sink "write" { }

test.targets "self" { }

test.scrape "self" {
  targets    = test.targets.self.targets
  forward_to = [test.sink.write.receiver]
}
"""


def gateway() -> Pipeline:
    return load_text(GATEWAY)


def test_receivers_and_supervisor_components() -> None:
    p = gateway()
    assert receiver_components(p) == ["test.receiver.in"]
    assert supervisor_components(p) == ["test.targets.self"]


@pytest.mark.parametrize(("signal", "expected"), [
    # traces follow the connector into the components that carry its metrics
    (Signal.TRACES, ["test.exporter.tempo", "test.sink.write", "test.metrics_exporter.prom", "test.processor.batch",
                     "test.connector.hosts", "test.processor.first"]),
    # metrics include the components that are sources inside the worker (scrape)
    (Signal.METRICS, ["test.sink.write", "test.metrics_exporter.prom", "test.processor.batch", "test.processor.first",
                      "test.scrape.self"]),
    # batch has a logs output, but no receiver sends logs into the pipeline
    (Signal.LOGS, []),
])
def test_worker_components_per_signal(signal: Signal, expected: list[str]) -> None:
    assert worker_components(gateway(), signal) == expected


def test_signal_paths_split_at_fan_out_and_mark_signal_changes() -> None:
    paths = signal_paths(gateway())
    assert paths[Signal.TRACES] == [
        ["test.receiver.in", "test.processor.first", "test.processor.batch", "test.exporter.tempo"],
        [
            "test.receiver.in",
            "test.processor.first",
            "test.connector.hosts",
            "(metrics) test.processor.batch",
            "test.metrics_exporter.prom",
            "test.sink.write",
        ],
    ]
    assert paths[Signal.METRICS] == [
        ["test.receiver.in", "test.processor.first", "test.processor.batch", "test.metrics_exporter.prom", "test.sink.write"],
        ["test.scrape.self", "test.sink.write"],
    ]
    assert Signal.LOGS not in paths
