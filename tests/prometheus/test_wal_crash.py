"""The remote-write WAL end to end: Prometheus down, 60 s of load, a SIGKILL of the whole process
tree (supervisor, receivers and workers at once), restart: nothing is lost.

The samples must be in the WAL before the ring records are released, so this does not depend on a
restarted collector adopting its predecessor's rings."""

from __future__ import annotations

import time
from pathlib import Path

import psutil
import pytest
import snappy

from collector.protocols.prometheus import walrecord
from collector.storage.wal import SEGMENT_MAGIC, scan

from collector.testing.process import CollectorProcess
from collector.testing.prometheus import PrometheusServer, wait_until
from collector.testing.sdk import send_metrics
from tests.prometheus.otel_config import opentelemetry_config

LOAD_SECONDS = 60.0
RESOURCE = {"service.name": "walcheck", "service.instance.id": "one"}


def kill_collector(collector: CollectorProcess) -> None:
    """SIGKILL every process of the tree at once (`os.killpg` on each process group: the children
    run in sessions of their own), so no worker gets to flush anything after the supervisor died."""
    assert collector.process is not None
    family = [psutil.Process(collector.process.pid), *psutil.Process(collector.process.pid).children(recursive=True)]
    assert len(family) > 2, "expected the supervisor with receiver and worker children"
    killed = collector.kill_tree()
    assert set(killed) >= {p.pid for p in family}
    gone, alive = psutil.wait_procs(family, timeout=30)
    assert not alive, f"still running after the whole-tree SIGKILL: {alive}"


def rounds_in_wal(storage: Path) -> set[str]:
    """The `batch` labels of the requests_total samples on disk in the WAL (read without opening it)."""
    found: set[str] = set()
    for directory in storage.glob("prometheus.remote_write.*/wal-*"):
        decoder = walrecord.Decoder()
        for segment in sorted(p for p in directory.iterdir() if p.name.isdigit()):
            data = segment.read_bytes()
            framed = data.startswith(SEGMENT_MAGIC)
            spans, _ = scan(data, len(SEGMENT_MAGIC) if framed else 0, framed=framed)
            for span in spans:
                if span.body is not None:
                    batch = decoder.decode(snappy.uncompress(span.body), int(segment.name))
                    found.update(dict(s.labels)["batch"] for s in batch.series
                                 if dict(s.labels).get("__name__") == "requests_total")
    return found


@pytest.mark.slow
def test_samples_accepted_while_prometheus_is_down_survive_a_sigkill(prometheus: PrometheusServer,
                                                                     tmp_path: Path) -> None:
    prometheus.stop()
    config, grpc = opentelemetry_config()
    # tiny shards: the queue is full from the first round on, so every later sample must reach the
    # WAL without waiting for the endpoint (and the queue catch up from the WAL after the restart)
    url = 'url = coalesce(sys.env("PROMETHEUS_URL"), "http://127.0.0.1:9090/api/v1/write")'
    assert url in config
    config = config.replace(url, url + "\n    queue_config {\n      capacity = 5\n      max_samples_per_send = 5\n    }")
    env = {"PROMETHEUS_URL": prometheus.write_url}
    workdir = tmp_path / "collector"
    workdir.mkdir()
    collector = CollectorProcess(config, env=env, workdir=workdir)
    try:
        collector.start()
        sent = 0
        deadline = time.monotonic() + LOAD_SECONDS
        while time.monotonic() < deadline:
            # one new series per round: "batch" tells exactly which rounds arrived
            send_metrics("grpc", f"127.0.0.1:{grpc}", resource=RESOURCE, counter_value=sent + 1,
                         attributes={"batch": str(sent)})
            sent += 1
            time.sleep(0.5)
        time.sleep(2)  # the load stopped; 2 s later the collector is killed
        kill_collector(collector)
        wal = list((workdir / "data").glob("prometheus.remote_write.*/wal-*/0*"))
        assert wal and sum(p.stat().st_size for p in wal) > 0
        # in the WAL, not just in the rings: delivery must not depend on adopting the rings
        in_wal = rounds_in_wal(workdir / "data")
        assert in_wal == set(map(str, range(sent))), f"{sent - len(in_wal)} of {sent} rounds are not in the WAL"

        prometheus.start()
        collector.start()

        def arrived() -> set[str] | None:
            # each series goes through its own shard: wait for every family, not just the first one
            for name in ("queue_depth", "latency_milliseconds_count", "temperature_celsius"):
                if len(prometheus.query(f'{name}{{job="walcheck"}}[1h]')) < sent:
                    return None
            batches = {s["metric"]["batch"] for s in prometheus.query('requests_total{job="walcheck"}[1h]')}
            return batches if len(batches) >= sent else None

        try:
            batches = wait_until(arrived, 120, f"{sent} rounds of samples", interval=1.0)
        except TimeoutError:
            got = {s["metric"]["batch"] for s in prometheus.query('requests_total{job="walcheck"}[1h]')}
            missing = sorted(set(map(str, range(sent))) - got, key=int)
            raise AssertionError(f"lost {len(missing)} of {sent} rounds: {missing[:20]}...\n"
                                 f"{collector.logs()[-4000:]}") from None
        assert batches == set(map(str, range(sent)))
        for name in ("queue_depth", "latency_milliseconds_count", "temperature_celsius"):
            assert len(prometheus.query(f'{name}{{job="walcheck"}}[1h]')) == sent, name
        samples = prometheus.samples('requests_total{job="walcheck"}')
        assert sorted(values[0][1] for values in samples.values()) == [float(i + 1) for i in range(sent)]
    finally:
        collector.close()
