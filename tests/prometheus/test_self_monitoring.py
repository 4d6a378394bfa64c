"""examples/self-monitoring.alloy against a real Prometheus: what the keep rule keeps arrives, the rest not."""

from __future__ import annotations

import re

from collector.testing.process import CollectorProcess
from collector.testing.prometheus import PrometheusServer, wait_until
from tests.prometheus.conftest import EXAMPLES

JOB = "integrations/collector-check"


def keep_regex(config: str) -> str:
    """The regex of the example's keep rule, read from the file so the test follows the example."""
    match = re.search(r'regex\s*=\s*"([^"]+)"\s*\n\s*action\s*=\s*"keep"', config)
    assert match, "examples/self-monitoring.alloy lost its keep rule"
    return match.group(1)


def test_self_monitoring_keeps_only_the_selected_series(prometheus: PrometheusServer) -> None:
    config = (EXAMPLES / "self-monitoring.alloy").read_text()
    keep = keep_regex(config)
    # 10s is the shortest interval the example allows with its default 10s scrape_timeout
    env = {"PROMETHEUS_URL": prometheus.write_url, "SCRAPE_INTERVAL": "10s"}
    with CollectorProcess(config, env=env) as collector:
        up = wait_until(lambda: prometheus.query(f'up{{job="{JOB}"}}'), 90, "up of the self-scrape")
        assert [float(s["value"][1]) for s in up] == [1.0]
        assert up[0]["metric"]["instance"] == up[0]["metric"]["collector_hostname"]

        wanted = {"process_start_time_seconds", "process_resident_memory_bytes", "scrape_duration_seconds",
                  "scrape_samples_scraped", "prometheus_remote_storage_samples_total"}

        def names() -> set[str] | None:
            found = {s["metric"]["__name__"] for s in prometheus.query(f'{{job="{JOB}"}}')}
            return found if wanted <= found else None

        stored = wait_until(names, 60, f"{sorted(wanted)} in Prometheus")
        assert all(re.fullmatch(keep, name) for name in stored)

        _, text = collector.get("/metrics")
        exposed = {re.split(r"[{ ]", line)[0] for line in text.splitlines() if line and not line.startswith("#")}
        dropped = {name for name in exposed if not re.fullmatch(keep, name)}
        assert {"process_cpu_seconds_total", "collector_build_info"} <= dropped
        assert prometheus.query(f'{{job="{JOB}", __name__!~"{keep}"}}') == []
        sample = prometheus.query(f'process_start_time_seconds{{job="{JOB}"}}')
        assert float(sample[0]["value"][1]) > 1.6e9
