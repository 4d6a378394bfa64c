"""Arguments and exports as Alloy UI bodies (reference C.3)."""

from __future__ import annotations

from collector.components.kit.api import ConsumerRef
from collector.config.values import Secret
from collector.pipeline.loader import load_sources
from collector.signals import Signal
from collector.web.bodies import exports_body, struct_body, typed

CONFIG = b"""
prometheus.remote_write "out" {
  endpoint {
    url            = "http://127.0.0.1:9/api/v1/write"
    bearer_token   = "hunter2"
    remote_timeout = "10s"
  }
  external_labels = { "b" = "2", "a" = "1" }
}
"""


def test_values_carry_alloy_types() -> None:
    assert typed(None) == {"type": "null", "value": None}
    assert typed(3) == {"type": "number", "value": 3.0}
    assert typed(True) == {"type": "bool", "value": True}
    assert typed("x") == {"type": "string", "value": "x"}
    assert typed(Secret("pw")) == {"type": "capsule", "value": "(secret)"}
    assert typed(ConsumerRef("otelcol.processor.batch.default", frozenset({Signal.LOGS}))) == {
        "type": "capsule", "value": "otelcol.processor.batch.default.input"}
    assert typed([1, "a"]) == {"type": "array", "value": [{"type": "number", "value": 1.0},
                                                          {"type": "string", "value": "a"}]}
    assert typed({"z": 1, "a": 2})["value"][0]["key"] == "a"
    assert typed(1.5, alloy_type="duration") == {"type": "string", "value": "1.5s"}


def test_arguments_body_omits_defaults_and_redacts_secrets() -> None:
    node = load_sources({"t.alloy": CONFIG}).nodes["prometheus.remote_write.out"]
    body = struct_body(node.args)
    assert [s["name"] for s in body] == ["external_labels", "endpoint"]
    labels = body[0]["value"]
    assert labels == {"type": "object", "value": [{"key": "a", "value": {"type": "string", "value": "1"}},
                                                  {"key": "b", "value": {"type": "string", "value": "2"}}]}
    endpoint = body[1]
    assert endpoint["type"] == "block" and endpoint["label"] == ""
    attrs = {s["name"]: s["value"] for s in endpoint["body"]}
    assert attrs == {
        "url": {"type": "string", "value": "http://127.0.0.1:9/api/v1/write"},
        "remote_timeout": {"type": "string", "value": "10s"},
        "bearer_token": {"type": "capsule", "value": "(secret)"},
    }
    assert "hunter2" not in repr(body)
    assert exports_body(node.export_values) == [{"name": "receiver", "type": "attr", "value": {
        "type": "capsule", "value": "prometheus.remote_write.out.receiver"}}]
