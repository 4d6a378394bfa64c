"""The standard multi-tenant gateway (issue 12, second "Must show"): two clients send spans with
`X-Scope-OrgID: a` and `b` (one over HTTP, one over gRPC, at the same time) to a receiver with
`include_metadata = true`; the attributes processor tags each span with its request's tenant
(`from_context = "metadata.x-scope-orgid"`); the batch processor partitions by `metadata_keys = ["x-scope-orgid"]`;
otlphttp sets `X-Scope-OrgID` from the batch's metadata through `otelcol.auth.headers`. The sink
receives every span, and every request it gets carries the tenant of all the spans in it. A second
exporter authenticates to its sink with `otelcol.auth.basic`'s client side."""

from __future__ import annotations

import base64
import threading

from collector.signals import Signal
from collector.testing.configs import otlp_receiver, otlphttp_exporter
from collector.testing.process import CollectorProcess, free_port
from collector.testing.sdk import send_spans, wait_until
from collector.testing.sink import OtlpSink, SinkThread

SPANS_PER_TENANT = 300


TAG_AND_BATCH = """
otelcol.processor.attributes "tag" {
  action {
    key          = "tenant.id"
    action       = "insert"
    from_context = "metadata.x-scope-orgid"
  }
  output {
    traces = [otelcol.processor.batch.b.input]
  }
}

otelcol.processor.batch "b" {
  timeout       = "200ms"
  metadata_keys = ["x-scope-orgid"]
  output {
    traces = [otelcol.exporter.otlphttp.tenants.input, otelcol.exporter.otlphttp.basic.input]
  }
}

otelcol.auth.headers "h" {
  header {
    key          = "X-Scope-OrgID"
    from_context = "x-scope-orgid"
  }
}

otelcol.auth.basic "out" {
  client_auth {
    username = "gateway"
    password = "pa55"
  }
}
"""


def config(grpc_port: int, http_port: int, tenant_sink: str, basic_sink: str) -> str:
    return (otlp_receiver(to="otelcol.processor.attributes.tag", grpc_port=grpc_port, http_port=http_port,
                          server_attributes={"include_metadata": "true"})
            + TAG_AND_BATCH
            + otlphttp_exporter(name="tenants", sink_url=tenant_sink,
                                client_attributes={"auth": "otelcol.auth.headers.h.handler"})
            + otlphttp_exporter(name="basic", sink_url=basic_sink,
                                client_attributes={"auth": "otelcol.auth.basic.out.handler"}))


def tenants_of(message: object) -> set[str]:
    """The tenants the spans of a request belong to: their resource's `tenant` (set by the client)
    and their own `tenant.id` (set by the attributes processor from the request's metadata)."""
    found = set()
    for rs in message.resource_spans:  # type: ignore[attr-defined]
        for attribute in rs.resource.attributes:
            if attribute.key == "tenant":
                found.add(attribute.value.string_value)
        for ss in rs.scope_spans:
            for span in ss.spans:
                tagged = [a.value.string_value for a in span.attributes if a.key == "tenant.id"]
                found.add(tagged[0] if tagged else "<untagged>")
    return found


def test_each_request_carries_the_tenant_of_all_its_spans() -> None:
    tenant_sink = SinkThread(OtlpSink(keep_requests=True)).start()
    basic_sink = SinkThread(OtlpSink(keep_requests=True)).start()
    grpc_port, http_port = free_port(), free_port()
    collector = CollectorProcess(config(grpc_port, http_port, tenant_sink.url, basic_sink.url))
    try:
        collector.start()
        results: dict[str, bool] = {}

        def client(tenant: str, protocol: str, endpoint: str) -> None:
            results[tenant] = send_spans(protocol, endpoint, SPANS_PER_TENANT,  # type: ignore[arg-type]
                                         resource={"service.name": f"svc-{tenant}", "tenant": tenant},
                                         headers={"X-Scope-OrgID": tenant})

        threads = [threading.Thread(target=client, args=("a", "http", f"http://127.0.0.1:{http_port}")),
                   threading.Thread(target=client, args=("b", "grpc", f"127.0.0.1:{grpc_port}"))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert results == {"a": True, "b": True}
        total = 2 * SPANS_PER_TENANT
        assert wait_until(lambda: tenant_sink.sink.items(Signal.TRACES) == total)
        assert wait_until(lambda: basic_sink.sink.items(Signal.TRACES) == total)

        sink = tenant_sink.sink
        assert len(sink.received[Signal.TRACES]) == len(sink.headers) >= 2
        per_tenant = {"a": 0, "b": 0}
        for message, headers in zip(sink.received[Signal.TRACES], sink.headers):
            tenant = headers.get("X-Scope-OrgID")
            assert tenant in per_tenant, headers
            assert tenants_of(message) == {tenant}
            per_tenant[tenant] += Signal.TRACES.spec.count_items(message)
        assert per_tenant == {"a": SPANS_PER_TENANT, "b": SPANS_PER_TENANT}

        expected = "Basic " + base64.b64encode(b"gateway:pa55").decode()
        assert {h.get("Authorization") for h in basic_sink.sink.headers} == {expected}
        assert "pa55" not in collector.logs()
    finally:
        collector.close()
        tenant_sink.stop()
        basic_sink.stop()
