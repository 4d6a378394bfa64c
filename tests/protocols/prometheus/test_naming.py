from __future__ import annotations

import pytest

from collector.protocols.prometheus.naming import MetricKind, label_name, metric_name

G, C, U, H, S = (MetricKind.GAUGE, MetricKind.MONOTONIC_COUNTER, MetricKind.NON_MONOTONIC_COUNTER,
                 MetricKind.HISTOGRAM, MetricKind.SUMMARY)

# (otlp name, unit, kind, expected with suffixes)
NAMES = [
    ("system.filesystem.usage", "By", G, "system_filesystem_usage_bytes"),
    ("system.io", "By", C, "system_io_bytes_total"),
    ("system.cpu.utilization", "1", G, "system_cpu_utilization_ratio"),
    ("apache.requests", "1", C, "apache_requests_total"),
    ("mongodbatlas.process.network.io", "By/s", G, "mongodbatlas_process_network_io_bytes_per_second"),
    ("broken.metric.speed", "km/h", G, "broken_metric_speed_km_per_hour"),
    ("bigip.virtual_server.request.count", "{requests}", C, "bigip_virtual_server_request_count_total"),
    ("system.network.packets.dropped", "packets", G, "system_network_packets_dropped"),
    ("3.14 digits", "", G, "_3_14_digits"),
    ("envoy__rule_engine_zlib_buf_error", "", G, "envoy_rule_engine_zlib_buf_error"),
    ("http.server.duration", "s", H, "http_server_duration_seconds"),
    ("http.server.duration", "ms", H, "http_server_duration_milliseconds"),
    ("rpc.latency", "us", S, "rpc_latency_microseconds"),
    ("gc.pause", "ns", G, "gc_pause_nanoseconds"),
    ("uptime", "d", G, "uptime_days"),
    ("uptime", "h", C, "uptime_hours_total"),
    ("uptime", "min", G, "uptime_minutes"),
    ("mem", "KiBy", G, "mem_kibibytes"),
    ("mem", "MiBy", G, "mem_mebibytes"),
    ("mem", "GiBy", G, "mem_gibibytes"),
    ("mem", "TiBy", G, "mem_tibibytes"),
    ("disk", "KBy", G, "disk_kilobytes"),
    ("disk", "MBy", G, "disk_megabytes"),
    ("disk", "GBy", G, "disk_gigabytes"),
    ("disk", "TBy", G, "disk_terabytes"),
    ("distance", "m", G, "distance_meters"),
    ("voltage", "V", G, "voltage_volts"),
    ("current", "A", G, "current_amperes"),
    ("energy", "J", C, "energy_joules_total"),
    ("power", "W", G, "power_watts"),
    ("weight", "g", G, "weight_grams"),
    ("temperature", "Cel", G, "temperature_celsius"),
    ("frequency", "Hz", G, "frequency_hertz"),
    ("cpu.usage", "%", G, "cpu_usage_percent"),
    ("requests", "1/s", G, "requests_per_second"),
    ("requests", "{objects}/s", G, "requests_per_second"),
    ("throughput", "By/min", G, "throughput_bytes_per_min"),
    ("rate", "m/m", G, "rate_meters_per_minute"),
    ("rate", "By/w", G, "rate_bytes_per_week"),
    ("rate", "By/mo", G, "rate_bytes_per_month"),
    ("rate", "By/y", G, "rate_bytes_per_year"),
    ("rate", "By/d", G, "rate_bytes_per_day"),
    ("rate", "By/{x}", G, "rate_bytes"),
    ("rate", "By/", G, "rate_bytes"),
    ("total.requests", "", C, "requests_total"),
    ("requests.total", "", C, "requests_total"),
    ("requests_total", "", C, "requests_total"),
    ("requests_total", "", U, "requests_total"),
    ("requests", "", U, "requests"),
    ("requests", "", H, "requests"),
    ("ratio.cpu", "1", G, "cpu_ratio"),
    ("cpu_ratio", "1", G, "cpu_ratio"),
    ("cpu", "1", U, "cpu"),
    ("cpu", "1", H, "cpu"),
    ("latency.seconds", "s", H, "latency_seconds"),
    ("seconds.latency", "s", H, "seconds_latency"),
    ("app:requests", "", C, "app:requests_total"),
    (":foo::bar", "", G, ":foo::bar"),
    ("métrique.latence", "s", G, "m_trique_latence_seconds"),
    ("foo bar", "", G, "foo_bar"),
    ("foo--bar__baz", "", G, "foo_bar_baz"),
    ("_leading", "", G, "leading"),
    ("trailing_", "", G, "trailing"),
    ("1st.metric", "", C, "_1st_metric_total"),
    ("space", " By ", G, "space_bytes"),
    ("unit", "custom unit", G, "unit_custom_unit"),
    ("unit", "a/b/c", G, "unit_a_per_b_c"),
    ("volume", "m/s", C, "volume_meters_per_second_total"),
    ("x", "{packets}", G, "x"),
]


NAMES_NO_SUFFIX = [
    ("system.io", "By", C, "system_io"),
    ("system.cpu.utilization", "1", G, "system_cpu_utilization"),
    ("envoy__rule_engine_zlib_buf_error", "", G, "envoy__rule_engine_zlib_buf_error"),
    ("3.14 digits", "", G, "_3_14_digits"),
    ("app:requests", "", C, "app:requests"),
    ("foo..bar", "s", H, "foo_bar"),
    ("a-b", "", G, "a_b"),
]


@pytest.mark.parametrize(("name", "unit", "kind", "add_suffixes", "expected"), [
    *((name, unit, kind, True, expected) for name, unit, kind, expected in NAMES),
    *((name, unit, kind, False, expected) for name, unit, kind, expected in NAMES_NO_SUFFIX),
])
def test_metric_name(name: str, unit: str, kind: MetricKind, add_suffixes: bool, expected: str) -> None:
    assert metric_name(name, unit, kind, add_suffixes) == expected


@pytest.mark.parametrize("name", ["", "___", "...", "☃"])
def test_metric_name_rejected(name: str) -> None:
    assert metric_name(name, "", G, True) is None
    assert metric_name(name, "", G, False) is None


LABELS = [
    ("http.request.method", "http_request_method"),
    ("a/b", "a_b"),
    ("label:with:colons", "label_with_colons"),
    ("name (of the host)", "name__of_the_host_"),
    ("2 cents", "key_2_cents"),
    ("123label", "key_123label"),
    ("_name", "key_name"),
    (".foo", "key_foo"),
    ("__name", "__name"),
    ("__reserved__", "__reserved__"),
    ("deployment.environment", "deployment_environment"),
    ("grafana.host.id", "grafana_host_id"),
    ("valid_name", "valid_name"),
    ("UPPER", "UPPER"),
    ("Mixed.Case", "Mixed_Case"),
    ("k8s.pod.name", "k8s_pod_name"),
    ("a..b", "a__b"),
    ("a__b", "a__b"),
    ("é", None),
    ("éa", "key_a"),
    ("aé", "a_"),
    ("日本", None),
    ("a-b-c", "a_b_c"),
    ("0", "key_0"),
    ("9lives", "key_9lives"),
    ("_", None),
    ("__", None),
    ("", None),
    ("...", None),
    ("x", "x"),
    ("host.name", "host_name"),
    ("service.instance.id", "service_instance_id"),
    ("a b", "a_b"),
    ("tab\tsep", "tab_sep"),
]


@pytest.mark.parametrize(("key", "expected"), LABELS)
def test_label_name(key: str, expected: str | None) -> None:
    assert label_name(key) == expected
