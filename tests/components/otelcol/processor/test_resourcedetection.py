from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import msgspec
import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from collector.components.kit.api import ArgumentError
from collector.components.otelcol.processor.resourcedetection import ResourceDetectionProcessor
from collector.components.otelcol.processor.resourcedetection import detectors
from collector.components.otelcol.processor.resourcedetection.detectors import DetectionError, SystemSources
from collector.components.otelcol.processor.resourcedetection.merge import ResourceAttributeMerger
from collector.signals import AckToken, Payload, Signal
from tests.components.otelcol.connector.doubles import OUTPUT_ALL, decode_args, make_context

NAME = "otelcol.processor.resourcedetection"


# --- env ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", {}),
        ("   ", {}),
        ("a=b", {"a": "b"}),
        (" service.name = checkout , deployment.environment=prod ", {"service.name": "checkout",
                                                                      "deployment.environment": "prod"}),
        ("k=hello%20world", {"k": "hello world"}),
        ("k=a+b", {"k": "a b"}),
        ("k=%E2%9C%93", {"k": "\u2713"}),
        ("k=", {"k": ""}),
        ("k=x,k=y", {"k": "y"}),
    ],
)
def test_env_parsing(text: str, expected: dict[str, str]) -> None:
    assert detectors.parse_resource_attributes(text) == expected


@pytest.mark.parametrize("text", ["novalue", "a=b,,c=d", "=v", "a=b,c", "k=%FF", "x" * 300 + "=v"])
def test_env_malformed(text: str) -> None:
    with pytest.raises(DetectionError, match="invalid resource format"):
        detectors.parse_resource_attributes(text)


def test_env_falls_back_to_deprecated_variable() -> None:
    assert detectors.detect_env({"OTEL_RESOURCE": "a=1"}) == {"a": "1"}
    assert detectors.detect_env({"OTEL_RESOURCE": "a=1", "OTEL_RESOURCE_ATTRIBUTES": "b=2"}) == {"b": "2"}
    assert detectors.detect_env({}) == {}


# --- system ---------------------------------------------------------------------------------------
def _failing() -> str:
    raise OSError("no resolver")


def _sources(tmp_path: Path, *, machine_id: str | None = "abc123\n") -> SystemSources:
    path = tmp_path / "machine-id"
    if machine_id is not None:
        path.write_text(machine_id)
    return SystemSources(
        hostname={"os": lambda: "kernel-host", "dns": _failing, "cname": lambda: "cname.example.com",
                  "lookup": lambda: "lookup.example.com"},
        machine_id_paths=(tmp_path / "missing", path),
        platform_name="linux",
        machine=lambda: "x86_64",
        os_description=lambda: "Test OS 1.0",
        interfaces=lambda: (["10.0.0.5"], ["AC-DE-48-23-45-67"]),
        cpuinfo_path=tmp_path / "cpuinfo",
    )


def test_system_hostname_sources_in_order(tmp_path: Path) -> None:
    sources = _sources(tmp_path)
    on = frozenset({"host.name"})
    assert detectors.detect_system(["dns", "os"], on, sources) == {"host.name": "kernel-host"}
    assert detectors.detect_system(["cname", "os"], on, sources) == {"host.name": "cname.example.com"}
    assert detectors.detect_system(["lookup"], on, sources) == {"host.name": "lookup.example.com"}
    with pytest.raises(DetectionError, match="all hostname sources failed: dns: no resolver"):
        detectors.detect_system(["dns"], on, sources)


def test_system_attributes_and_switches(tmp_path: Path) -> None:
    (tmp_path / "cpuinfo").write_text("vendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 85\n"
                                      "model name\t: Xeon\nstepping\t: 7\ncache size\t: 1024 KB\n\nprocessor: 1\n")
    sources = _sources(tmp_path)
    everything = frozenset({"host.name", "host.id", "os.type", "os.description", "host.arch", "host.ip", "host.mac",
                            "host.cpu.vendor.id", "host.cpu.family", "host.cpu.model.id", "host.cpu.model.name",
                            "host.cpu.stepping", "host.cpu.cache.l2.size"})
    assert detectors.detect_system(["os"], everything, sources) == {
        "host.name": "kernel-host", "host.id": "abc123", "os.type": "linux", "os.description": "Test OS 1.0",
        "host.arch": "amd64", "host.ip": ["10.0.0.5"], "host.mac": ["AC-DE-48-23-45-67"],
        "host.cpu.vendor.id": "GenuineIntel", "host.cpu.family": "6", "host.cpu.model.id": "85",
        "host.cpu.model.name": "Xeon", "host.cpu.stepping": "7", "host.cpu.cache.l2.size": 1024 * 1024,
    }
    no_machine_id = tmp_path / "none"
    no_machine_id.mkdir()
    with pytest.raises(DetectionError, match="host.id"):
        detectors.detect_system(["os"], frozenset({"host.id"}), _sources(no_machine_id, machine_id=None))


@pytest.mark.parametrize(("platform", "os_type"), [("linux", "linux"), ("darwin", "darwin"), ("win32", "windows"),
                                                   ("freebsd14", "freebsd"), ("sunos5", "solaris")])
def test_semconv_os_type(platform: str, os_type: str) -> None:
    assert detectors.semconv_os_type(platform) == os_type


@pytest.mark.parametrize(("machine", "arch"), [("x86_64", "amd64"), ("aarch64", "arm64"), ("armv7l", "arm32"),
                                               ("i686", "x86"), ("ppc64le", "ppc64"), ("s390x", "s390x")])
def test_semconv_arch(machine: str, arch: str) -> None:
    assert detectors.semconv_arch(machine) == arch


def test_detect_all_first_detector_wins_and_failures_are_skipped(tmp_path: Path) -> None:
    sources = _sources(tmp_path)
    outcome = detectors.detect_all(["env", "system"], hostname_sources=["os"], enabled=frozenset({"host.name",
                                                                                                  "os.type"}),
                                   sources=sources, environ={"OTEL_RESOURCE_ATTRIBUTES": "host.name=from-env,x=1"})
    assert outcome.attributes == {"host.name": "from-env", "x": "1", "os.type": "linux"}
    broken = detectors.detect_all(["env", "ec2", "system"], hostname_sources=["os"], enabled=frozenset({"host.name"}),
                                  sources=sources, environ={"OTEL_RESOURCE_ATTRIBUTES": "oops"})
    assert broken.attributes == {"host.name": "kernel-host"}
    assert [f.split(":")[0] for f in broken.failed] == ["env", "ec2"]


# --- arguments ------------------------------------------------------------------------------------
def test_arguments_defaults_and_dotted_blocks() -> None:
    args = decode_args(NAME, {})
    assert args.detectors == ["env"] and args.override is True and args.timeout == 5.0
    assert args.system.hostname_sources == ["dns", "os"]
    assert args.system.resource_attributes.enabled() == {"host.name", "os.type"}
    args = decode_args(NAME, {"system": {"resource_attributes": {"host.name": {"enabled": False},
                                                                 "host.arch": {"enabled": True}}}})
    assert args.system.resource_attributes.enabled() == {"host.arch", "os.type"}


@pytest.mark.parametrize(("values", "attribute"), [
    ({"detectors": ["nope"]}, "detectors"),
    ({"system": {"hostname_sources": ["dns", "magic"]}}, "system.hostname_sources"),
    ({"timeout": 0.0}, "timeout"),
])
def test_arguments_invalid(values: dict[str, Any], attribute: str) -> None:
    with pytest.raises(ArgumentError) as info:
        decode_args(NAME, values)
    assert info.value.attribute == attribute


def test_output_block_is_required() -> None:
    from collector.components.otelcol.processor.resourcedetection import Arguments

    with pytest.raises(msgspec.ValidationError, match="output"):
        msgspec.convert({}, Arguments)


# --- applying ---------------------------------------------------------------------------------------
def _attrs(resource: Any) -> dict[str, Any]:
    return {kv.key: kv.value.WhichOneof("value") and getattr(kv.value, kv.value.WhichOneof("value"))
            for kv in resource.attributes}


def _traces(resources: list[dict[str, str]], spans_per_resource: int = 1) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    for attrs in resources:
        rs = request.resource_spans.add()
        for key, value in attrs.items():
            rs.resource.attributes.add(key=key).value.string_value = value
        scope = rs.scope_spans.add()
        for n in range(spans_per_resource):
            scope.spans.add(name=f"s{n}").attributes.add(key="host.name").value.string_value = "span-level"
    return request


@pytest.mark.parametrize("override", [True, False])
def test_merge_override(override: bool) -> None:
    request = _traces([{"service.name": "a", "host.name": "app-host"}, {"service.name": "b"}, {}])
    merger = ResourceAttributeMerger([("host.name", "collector-host"), ("os.type", "linux")], override)
    assert merger.apply(request.resource_spans) == 3
    got = [_attrs(rs.resource) for rs in request.resource_spans]
    first_host = "collector-host" if override else "app-host"
    assert got == [
        {"service.name": "a", "host.name": first_host, "os.type": "linux"},
        {"service.name": "b", "host.name": "collector-host", "os.type": "linux"},
        {"host.name": "collector-host", "os.type": "linux"},
    ]
    # exactly one host.name per resource
    assert all([kv.key for kv in rs.resource.attributes].count("host.name") == 1 for rs in request.resource_spans)


def test_merge_is_per_resource_and_leaves_items_alone() -> None:
    request = _traces([{"service.name": f"svc-{r}"} for r in range(3)], spans_per_resource=500)
    before = [span.SerializeToString() for rs in request.resource_spans for ss in rs.scope_spans for span in ss.spans]
    ResourceAttributeMerger([("host.name", "h"), ("host.ip", ["10.0.0.1", "10.0.0.2"])], True) \
        .apply(request.resource_spans)
    after = [span.SerializeToString() for rs in request.resource_spans for ss in rs.scope_spans for span in ss.spans]
    assert before == after
    for rs in request.resource_spans:
        attrs = {kv.key: kv.value for kv in rs.resource.attributes}
        assert attrs["host.name"].string_value == "h"
        assert [v.string_value for v in attrs["host.ip"].array_value.values] == ["10.0.0.1", "10.0.0.2"]


def _component(tmp_path: Path, values: dict[str, Any], environ: dict[str, str]) -> tuple[Any, Any]:
    args = decode_args(NAME, {**OUTPUT_ALL, **values})
    ctx, recorders = make_context(NAME)
    component = ResourceDetectionProcessor(ctx, args)
    component.sources = _sources(tmp_path)
    component.environ = environ
    return component, recorders


@pytest.mark.parametrize("override", [True, False])
def test_component_applies_to_every_signal(tmp_path: Path, override: bool) -> None:
    async def run() -> None:
        component, recorders = _component(tmp_path, {"detectors": ["env", "system"], "override": override,
                                                     "system": {"hostname_sources": ["os"]}},
                                          {"OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=prod"})
        await component.start()
        released: list[int] = []
        traces = Payload(Signal.TRACES, data=_traces([{"host.name": "app"}], 3).SerializeToString(),
                         acks=[AckToken(1, lambda t: released.append(t.seq))])
        metrics = ExportMetricsServiceRequest()
        metrics.resource_metrics.add().scope_metrics.add().metrics.add(name="m").gauge.data_points.add(as_int=1)
        logs = ExportLogsServiceRequest()
        logs.resource_logs.add().scope_logs.add().log_records.add().body.string_value = "x"
        await component.consume(traces)
        await component.consume(Payload(Signal.METRICS, data=metrics.SerializeToString()))
        await component.consume(Payload(Signal.LOGS, data=logs.SerializeToString()))
        forwarded = recorders[Signal.TRACES].payloads[0]
        assert forwarded.item_count == 3
        decoded = ExportTraceServiceRequest.FromString(forwarded.data)  # re-serialized after the change
        assert _attrs(decoded.resource_spans[0].resource) == {
            "host.name": "kernel-host" if override else "app", "deployment.environment": "prod", "os.type": "linux"}
        for sig, field in ((Signal.METRICS, "resource_metrics"), (Signal.LOGS, "resource_logs")):
            msg = recorders[sig].payloads[0].message
            assert _attrs(getattr(msg, field)[0].resource)["host.name"] == "kernel-host"
        assert released == [1]
        await component.shutdown()
        await component.shutdown()

    asyncio.run(run())


def test_component_fail_on_missing_metadata(tmp_path: Path) -> None:
    async def run() -> None:
        component, _ = _component(tmp_path, {"detectors": ["env"], "fail_on_missing_metadata": True},
                                  {"OTEL_RESOURCE_ATTRIBUTES": "broken"})
        with pytest.raises(RuntimeError, match="invalid resource format"):
            await component.start()
        lenient, recorders = _component(tmp_path, {"detectors": ["env"]}, {"OTEL_RESOURCE_ATTRIBUTES": "broken"})
        await lenient.start()
        request = _traces([{"a": "b"}])
        await lenient.consume(Payload(Signal.TRACES, message=request))
        assert _attrs(recorders[Signal.TRACES].payloads[0].message.resource_spans[0].resource) == {"a": "b"}

    asyncio.run(run())

