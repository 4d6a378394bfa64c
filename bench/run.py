"""Scenario runner: `python -m bench.run [--scenario traces-http] [--runs 3] [--workers 1,2]`.

A scenario (bench/scenarios/*.toml) names a configuration template (bench/configs/), a signal, a
protocol and the load's shape. For each worker count and run: start a counting sink and the collector
(as subprocesses), drive it as fast as it accepts for `--duration` seconds after a warm-up (the
collector refuses with a retryable status beyond what it sustains, so the accepted rate IS the
sustained rate), then wait until the sink has received everything that was accepted. Reported: items/s
delivered, loss (accepted - delivered), collector CPU-seconds per million items and peak RSS/PSS of the
whole process tree (from /proc), and the load generator's own CPU. Results go to bench/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import tomllib
import urllib.request
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.procstat import TreeMonitor
from collector.testing.process import CollectorProcess, free_port

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for package in ("grpcio", "protobuf", "aiohttp", "uvloop", "python-snappy", "msgspec"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "libraries": versions}


def _wait_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"sink on port {port} did not start")


def _sink_items(port: int, signal: str) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=5) as response:
        return int(json.load(response)["items"][signal])


def _load(scenario: dict[str, Any], endpoint: str, duration: float) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.load", "--signal", scenario["signal"], "--protocol", scenario["protocol"],
               "--endpoint", endpoint, "--duration", str(duration), "--concurrency", str(scenario.get("concurrency", 8)),
               "--items-per-request", str(scenario.get("items_per_request", 100)), "--quiet"]
    if scenario.get("rate"):
        command += ["--rate", str(scenario["rate"])]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output)


def run_once(name: str, scenario: dict[str, Any], workers: int, duration: float, warmup: float) -> dict[str, Any]:
    sink_port, grpc_port, http_port = free_port(), free_port(), free_port()
    sink = subprocess.Popen([sys.executable, "-m", "bench.sink", "--port", str(sink_port)])
    try:
        _wait_port(sink_port)
        template = (BENCH / "configs" / scenario["config"]).read_text()
        config = (template.replace("{grpc_port}", str(grpc_port)).replace("{http_port}", str(http_port))
                  .replace("{sink_url}", f"http://127.0.0.1:{sink_port}"))
        env = {f"COLLECTOR_{scenario['signal'].upper()}_WORKERS": str(workers)}
        with CollectorProcess(config, env=env) as collector:
            assert collector.process is not None
            endpoint = f"http://127.0.0.1:{http_port}" if scenario["protocol"] == "http" else f"127.0.0.1:{grpc_port}"
            if warmup:
                _load(scenario, endpoint, warmup)
            delivered_before = _sink_items(sink_port, scenario["signal"])
            monitor = TreeMonitor(collector.process.pid).start()
            cpu_before = monitor.cpu_total()
            load = _load(scenario, endpoint, duration)
            cpu_after = monitor.cpu_total()
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                delivered = _sink_items(sink_port, scenario["signal"]) - delivered_before
                if delivered >= load["items_accepted"]:
                    break
                time.sleep(0.2)
            drain_cpu = monitor.cpu_total() - cpu_after
            monitor.stop()
        delivered = _sink_items(sink_port, scenario["signal"]) - delivered_before
        cpu = (cpu_after - cpu_before) + drain_cpu
        return {
            "scenario": name, "workers": workers, "duration_s": load["duration_s"],
            "items_accepted": load["items_accepted"], "items_delivered": delivered,
            "loss": max(0, load["items_accepted"] - delivered),
            "items_per_s": round(delivered / load["duration_s"]),
            "cpu_s_per_million": round(cpu / max(delivered, 1) * 1e6, 2),
            "peak_rss_mib": round(monitor.peak_rss / 2**20, 1), "peak_pss_mib": round(monitor.peak_pss / 2**20, 1),
            "retried_requests": load["retried"], "failed_requests": load["failed"],
            "latency_p99_ms": load["latency_p99_ms"], "generator_cpu_s": load["generator_cpu_s"],
        }
    finally:
        sink.terminate()
        sink.wait()


def _median_spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", action="append", help="scenario name (default: all)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts to sweep")
    args = parser.parse_args(argv)
    names = args.scenario or sorted(p.stem for p in (BENCH / "scenarios").glob("*.toml"))
    RESULTS.mkdir(exist_ok=True)
    summary = []
    for name in names:
        scenario = tomllib.loads((BENCH / "scenarios" / f"{name}.toml").read_text())
        for workers in (int(w) for w in args.workers.split(",")):
            runs = [run_once(name, scenario, workers, args.duration, args.warmup) for _ in range(args.runs)]
            row = {"scenario": name, "description": scenario.get("description", ""), "workers": workers,
                   "items_per_s": _median_spread([r["items_per_s"] for r in runs]),
                   "cpu_s_per_million": _median_spread([r["cpu_s_per_million"] for r in runs]),
                   "peak_rss_mib": max(r["peak_rss_mib"] for r in runs),
                   "peak_pss_mib": max(r["peak_pss_mib"] for r in runs),
                   "loss": sum(r["loss"] for r in runs), "runs": runs}
            summary.append(row)
            print(f"{name:16} workers={workers} items/s={row['items_per_s']['median']:>9,.0f} "
                  f"[{row['items_per_s']['min']:,.0f}-{row['items_per_s']['max']:,.0f}] "
                  f"cpu-s/M={row['cpu_s_per_million']['median']:.2f} loss={row['loss']} "
                  f"rss={row['peak_rss_mib']}MiB pss={row['peak_pss_mib']}MiB", flush=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    out = RESULTS / f"{stamp}.json"
    out.write_text(json.dumps({"machine": machine(), "args": vars(args), "results": summary}, indent=2))
    print(f"wrote {out.relative_to(BENCH.parent)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
