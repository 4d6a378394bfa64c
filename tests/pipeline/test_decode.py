from __future__ import annotations

from typing import Any

import msgspec
import pytest

from collector.components.kit.api import ConsumerRef, MetricsReceiverRef
from collector.config.diag import Sources
from collector.config.evaluator import Evaluator
from collector.config.parser import parse
from collector.config.values import Secret
from collector.pipeline.decode import decode_block
from collector.signals import Signal
from tests.pipeline.fakes import Client, MetricsExporterArgs, ProcessorArgs, Rule

BATCH = ConsumerRef("otelcol.processor.batch.default", frozenset(Signal))
TRACES_ONLY = ConsumerRef("otelcol.connector.host_info.default", frozenset({Signal.TRACES}))
WRITE = MetricsReceiverRef("prometheus.remote_write.default")
SCOPE: dict[str, Any] = {
    "batch": {"input": BATCH},
    "host_info": {"input": TRACES_ONLY},
    "write": {"receiver": WRITE},
    "word": "text",
}


def decode(body: str, struct: type[msgspec.Struct] = ProcessorArgs) -> tuple[Any, list[str]]:
    text = f"component {{\n{body}\n}}\n".encode()
    tree, diags = parse(text, "t.alloy")
    assert diags == []
    (block,) = tree.body
    sources = Sources({"t.alloy": text})
    value, errors = decode_block(block.body, struct, Evaluator(SCOPE, stdlib={}), block.name_span)
    return value, [
        f"{sources.line_col('t.alloy', d.span.start)[0]}:{sources.line_col('t.alloy', d.span.start)[1]}: {d.message}"
        for d in errors
    ]


def test_defaults_then_values_then_blocks_in_order() -> None:
    value, errors = decode(
        """
  size = 3
  names = ["a", "b"]
  headers = { "X-Scope-OrgID" = "t1", b = "2" }
  rule {
    target_label = "first"
  }
  rule {
    action = "keep"
  }
  output {
    traces = [batch.input, host_info.input]
  }
"""
    )
    assert errors == []
    assert value == ProcessorArgs(
        output=value.output,
        size=3,
        names=["a", "b"],
        headers={"X-Scope-OrgID": "t1", "b": "2"},
        rule=[Rule(target_label="first"), Rule(action="keep")],
    )
    assert value.output.traces == [BATCH, TRACES_ONLY]
    assert value.output.metrics == [] and value.timeout == 0.2 and value.client is None


def test_assignability_numbers_strings_null_and_secrets() -> None:
    value, errors = decode(
        """
  size = "42"
  name = 7
  ratio = null
  names = [1, 2.5]
  client {
    endpoint = "http://x"
    password = "hunter2"
  }
  output { }
"""
    )
    assert errors == []
    assert value.size == 42 and value.name == "7" and value.ratio == 0.0
    assert value.names == ["1", "2.5"]
    assert isinstance(value.client.password, Secret) and value.client.password == "hunter2"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('names = "wrong"', '2:11: expected array, got string'),
        ("enabled = 1", "2:13: expected bool, got number"),
        ('names = ["a", true]', '2:17: expected string, got bool'),
        ('headers = { a = [1] }', '2:19: expected string, got array'),
        ("size = 1.5", "2:10: expected an integer, got 1.5"),
        ('size = "many"', '2:10: expected number, got string'),
        ("name = batch.input", '2:10: expected string, got capsule("otelcol.Consumer")'),
    ],
)
def test_type_mismatches_point_at_the_value(body: str, expected: str) -> None:
    value, errors = decode("  " + body + "\n  output { }")
    assert value is None
    assert errors == [expected]


def test_capsule_kinds_are_checked() -> None:
    value, errors = decode("forward_to = [write.receiver, batch.input]", MetricsExporterArgs)
    assert value is None
    assert errors == ['2:31: expected capsule("MetricsReceiver"), got capsule("otelcol.Consumer")']
    value, errors = decode("forward_to = [write.receiver]", MetricsExporterArgs)
    assert errors == [] and value.forward_to == [WRITE]


def test_wrong_signal_reference_is_reported_at_the_element() -> None:
    _, errors = decode(
        """
  output {
    metrics = [batch.input, host_info.input]
  }"""
    )
    assert errors == ['4:29: component "otelcol.connector.host_info.default" does not accept metrics']


def test_schema_errors_are_all_reported() -> None:
    value, errors = decode(
        """
  bogus = 1
  size = 1
  size = 2
  output = []
  names { }
  nope { }
  client "x" {
    endpoint = "http://x"
  }
  client {
  }
"""
    )
    assert value is None
    assert errors == [
        '3:3: unrecognized attribute name "bogus"',
        '5:3: attribute "size" may only be provided once',
        '6:3: "output" must be a block, but is used as an attribute',
        '7:3: "names" must be an attribute, but is used as a block',
        '8:3: unrecognized block name "nope"',
        '9:3: block "client" does not support specifying labels',
        "1:1: missing required block \"output\"",
        '12:3: missing required attribute "endpoint"',
    ]


def test_single_block_only_once() -> None:
    _, errors = decode(
        """
  output { }
  output { }"""
    )
    assert errors == ['4:3: block "output" may only be specified once']


def test_validate_errors_point_at_the_attribute_value() -> None:
    _, errors = decode("  size = -1\n  output { }")
    assert errors == ["2:10: size must not be negative"]
    _, errors = decode('client {\n    endpoint = "ftp://x"\n  }\n  output { }')
    assert errors == ["3:16: endpoint must be an http URL"]


def test_nested_validate_points_into_the_repeated_block() -> None:
    _, errors = decode('rule {\n    action = "replace"\n  }\n  output { }')
    assert errors == ["3:14: relabel configuration for replace action requires 'target_label' value"]
    _, errors = decode("  rule { }\n  output { }")
    assert errors == ["2:3: relabel configuration for replace action requires 'target_label' value"]


def test_evaluation_errors_keep_their_position() -> None:
    _, errors = decode("  name = missing\n  size = 1 / 0\n  output { }")
    assert errors == ['2:10: identifier "missing" does not exist', "3:10: divide by zero error"]


def test_client_defaults_are_not_shared() -> None:
    a, _ = decode('client {\n endpoint = "http://a"\n}\noutput { }')
    b, _ = decode('client {\n endpoint = "http://b"\n}\noutput { }')
    assert a.client == Client(endpoint="http://a") and b.client.endpoint == "http://b"
    assert a.names is not b.names


def test_validate_error_in_a_repeated_block_points_at_the_failing_instance() -> None:
    _, errors = decode(
        """  rule {
    target_label = "ok"
  }
  rule {
    action = "replace"
  }
  output { }"""
    )
    assert errors == ["6:14: relabel configuration for replace action requires 'target_label' value"]
