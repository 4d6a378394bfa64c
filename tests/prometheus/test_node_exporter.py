"""prometheus.scrape of a real node exporter, remote-written to a real Prometheus."""

from __future__ import annotations

from collector.testing.process import CollectorProcess
from collector.testing.prometheus import NodeExporter, PrometheusServer, wait_until

CONFIG = """
prometheus.scrape "node" {
  targets         = [{"__address__" = "%(target)s"}]
  forward_to      = [prometheus.remote_write.local.receiver]
  scrape_interval = "1s"
  scrape_timeout  = "1s"
}

prometheus.remote_write "local" {
  endpoint {
    url = "%(url)s"
    queue_config {
      batch_send_deadline = "500ms"
    }
  }
}
"""


def test_node_exporter_samples_arrive_with_job_and_instance(prometheus: PrometheusServer,
                                                           node_exporter: NodeExporter) -> None:
    config = CONFIG % {"target": node_exporter.address, "url": prometheus.write_url}
    with CollectorProcess(config):
        selector = f'{{job="prometheus.scrape.node", instance="{node_exporter.address}"}}'
        up = wait_until(lambda: prometheus.query(f"up{selector}"), 60, "up of the node exporter")
        assert float(up[0]["value"][1]) == 1.0
        memory = wait_until(lambda: prometheus.query(f"node_memory_MemTotal_bytes{selector}"), 30, "node_memory")
        assert float(memory[0]["value"][1]) > 0
        load = prometheus.query(f"node_load1{selector}")
        assert len(load) == 1 and load[0]["metric"]["__name__"] == "node_load1"
        names = {s["metric"]["__name__"] for s in prometheus.query(f'{{__name__=~"node_.+", job!=""}}')}
        assert {"node_load1", "node_memory_MemTotal_bytes", "node_time_seconds"} <= names
        assert all(s["metric"]["job"] == "prometheus.scrape.node"
                   for s in prometheus.query('{__name__=~"node_.+"}'))
