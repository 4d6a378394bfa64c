"""Scenario runner: `python -m bench.run [--scenario traces-http] [--runs 3] [--duration 10]`.

Theory of operation. For each scenario (bench/scenarios/*.toml), each target (our collector, then the
peers the scenario names, e.g. rotel) and each worker count: start a counting sink and the target as
subprocesses, warm up, then measure `--runs` runs against the same processes. A run drives the
scenario's load(s) as fast as they are accepted for `--duration` seconds: a collector refuses with a
retryable status beyond what it sustains, so the accepted rate is the sustained rate, provided
nothing accepted is lost. After the load, the runner waits until the sink holds every accepted item;
a run with loss is repeated at a fixed rate 20% below what was delivered (twice at most), so each
reported figure is the highest rate measured with zero loss, and says how it was obtained.

Per run: items/s delivered, loss, CPU-seconds per million items of the target's whole process tree
(utime+stime from /proc, load and drain), peak RSS and PSS of the tree, p99 end-to-end delay (send
stamp -> sink receipt), the load generator's own CPU, and how busy the rest of the machine was (other
processes' CPU in cores, so a noisy run can be recognised). Per point: median [min-max] of the runs.
Results: bench/results/run-<time>.json (with the machine), then bench/results/README.md and charts.
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
import urllib.request
from importlib import metadata
from pathlib import Path
from typing import Any

from bench import scenario as scenarios
from bench.procstat import TreeMonitor, cpu_model, cpu_seconds, sample_tree, tree
from bench.scenario import LoadSpec, Scenario
from bench.targets import TARGETS, rotel_binary
from collector.testing.process import free_port

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
LIBRARIES = ("grpcio", "protobuf", "aiohttp", "uvloop", "python-snappy", "msgspec", "orjson", "rotel", "matplotlib",
             "tqdm", "pytest-benchmark")
DRAIN_STALL = 10.0  # give up waiting when nothing more arrived for this long ...
DRAIN_CAP = 90.0  # ... or after this long in all
STEP_DOWN = 0.8
BUFFERING = 2.0  # accepted/forwarded ratio above which a load is paced (see `calibrate`) ...
PACE_HEADROOM = 1.25  # ... at this multiple of the forwarded rate


def machine() -> dict[str, Any]:
    cpu = cpu_model()
    versions = {}
    for package in LIBRARIES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
            "libraries": versions, "loadavg_at_start": os.getloadavg()}


def _machine_busy_s() -> float:
    """Busy CPU-seconds of the whole machine since boot (all cores), from /proc/stat."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


class Sink:
    """The counting sink as a subprocess (its CPU is not the target's)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([sys.executable, "-m", "bench.sink", "--port", str(self.port)])
        deadline = time.monotonic() + 30
        while True:
            try:
                self.stats()
                break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.close()
                    raise RuntimeError("sink did not start")
                time.sleep(0.05)

    def stats(self, reset_delays: bool = False) -> dict[str, Any]:
        url = f"{self.url}/stats" + ("?reset_delays=1" if reset_delays else "")
        with urllib.request.urlopen(url, timeout=10) as response:
            return json.load(response)  # type: ignore[no-any-return]

    def cpu_s(self) -> float:
        return cpu_seconds(self.proc.pid)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def drive(loads: tuple[LoadSpec, ...], endpoints: dict[str, str], duration: float,
          rates: dict[int, float] | None = None) -> list[dict[str, Any]]:
    """Run every load of the scenario at once, each in its own generator process."""
    procs = []
    for i, spec in enumerate(loads):
        command = [sys.executable, "-m", "bench.load", *spec.args(), "--endpoint", endpoints[spec.protocol],
                   "--duration", str(duration), "--quiet"]
        rate = (rates or {}).get(i, spec.rate)
        if rate:
            command += ["--rate", str(round(rate))]
        procs.append(subprocess.Popen(command, stdout=subprocess.PIPE, text=True))
    outputs = []
    for proc in procs:
        out, _ = proc.communicate()
        if proc.returncode:
            raise RuntimeError(f"load generator failed with {proc.returncode}")
        outputs.append(json.loads(out))
    return outputs


def _accepted(loads: tuple[LoadSpec, ...], reports: list[dict[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for spec, report in zip(loads, reports):
        out[spec.signal] = out.get(spec.signal, 0) + int(report["items_accepted"])
    return out


def _wait_delivered(sink: Sink, before: dict[str, int], accepted: dict[str, int]) -> tuple[dict[str, int], int]:
    """Wait until the sink holds everything accepted (or delivery stalls); (delivered, last receipt ns)."""
    cap = time.monotonic() + DRAIN_CAP
    progress_at, last_total = time.monotonic(), -1
    while True:
        stats = sink.stats()
        delivered = {signal: stats["items"][signal] - before[signal] for signal in accepted}
        now = time.monotonic()
        if sum(delivered.values()) != last_total:
            progress_at, last_total = now, sum(delivered.values())
        if all(delivered[s] >= accepted[s] for s in accepted) or now > cap or now - progress_at > DRAIN_STALL:
            return delivered, int(stats["last_ns"] or 0)
        time.sleep(0.1)


def steady_rate(per_second: list[list[int]], start_ns: int, sent_for: float) -> float | None:
    """Mean items/s received over the whole seconds from one second after the first send to the last send."""
    first = start_ns // 1_000_000_000 + 2
    last = (start_ns + int(sent_for * 1e9)) // 1_000_000_000 - 1
    if last < first:
        return None
    counts = dict((second, count) for second, count in per_second)
    return sum(counts.get(s, 0) for s in range(first, last + 1)) / (last - first + 1)


def calibrate(sc: Scenario, sink: Sink, endpoints: dict[str, str], warmup: float) -> dict[int, float] | None:
    """Warm up as fast as accepted; pace the loads whose signal the target accepts much faster than it
    forwards (it buffers: an unpaced run would mostly measure the drain of its queue). The pace has
    headroom above the forwarded rate, so the sink-side rate of a run still shows the capacity."""
    before = sink.stats(reset_delays=True)["items"]
    reports = drive(sc.loads, endpoints, warmup)
    accepted = _accepted(sc.loads, reports)
    delivered, last_ns = _wait_delivered(sink, before, accepted)
    first_ns = sink.stats()["window_first_ns"] or last_ns
    sent_for = max(r["duration_s"] for r in reports)
    forwarding_s = max(sent_for, (last_ns - first_ns) / 1e9)
    rates = {}
    for i, spec in enumerate(sc.loads):
        forwarded = delivered[spec.signal] / forwarding_s
        if accepted[spec.signal] / sent_for > BUFFERING * forwarded:
            rates[i] = PACE_HEADROOM * forwarded / sum(1 for x in sc.loads if x.signal == spec.signal)
    return rates or None


def measure(sc: Scenario, sink: Sink, monitor: TreeMonitor, endpoints: dict[str, str], duration: float,
            paced: dict[int, float] | None = None) -> dict[str, Any]:
    """One run, stepping the rate down until nothing accepted is lost."""
    rates = paced
    for attempt in range(3):
        before = sink.stats(reset_delays=True)["items"]
        monitor.reset_peaks()
        cpu0, busy0, sink0 = monitor.cpu_total(), _machine_busy_s(), sink.cpu_s()
        start_ns, start = time.time_ns(), time.monotonic()
        reports = drive(sc.loads, endpoints, duration, rates)
        accepted = _accepted(sc.loads, reports)
        delivered, last_ns = _wait_delivered(sink, before, accepted)
        elapsed = time.monotonic() - start
        cpu1, busy1, sink1 = monitor.cpu_total(), _machine_busy_s(), sink.cpu_s()
        delays = sink.stats()["delays"]
        # Sustained rate: what reached the sink per second over the whole seconds of steady sending (the
        # first second is start-up); a collector that buffers is credited with what it forwards, and a
        # pipeline's fixed flush delay does not count against it. Also kept: first send -> last receipt.
        sent_for = max(r["duration_s"] for r in reports)
        wall = max(sent_for, (last_ns - start_ns) / 1e9)
        steady = steady_rate(sink.stats()["per_second"], start_ns, sent_for)
        loss = {s: max(0, accepted[s] - delivered[s]) for s in accepted}
        total = sum(delivered.values())
        cpu = cpu1 - cpu0
        generator_cpu = sum(r["generator_cpu_s"] for r in reports)
        other = (busy1 - busy0) - cpu - generator_cpu - (sink1 - sink0)  # over `elapsed`, load and drain
        run = {
            "mode": ("fixed-rate" if sc.fixed_rate else "max") if rates is None else ("paced" if attempt == 0 else "fixed"),
            "attempt": attempt + 1,
            "rates": None if rates is None else {sc.loads[i].signal: round(r) for i, r in rates.items()},
            "duration_s": wall, "items_accepted": accepted, "items_delivered": delivered, "loss": sum(loss.values()),
            # more delivered than accepted: the target re-sent something the sink had taken (retry after a timeout)
            "duplicates": sum(max(0, delivered[s] - accepted[s]) for s in accepted),
            "items_per_s": round(steady if steady is not None else total / wall),
            "items_per_s_incl_drain": round(total / wall),
            "items_per_s_by_signal": {s: round(v / wall) for s, v in delivered.items()},
            "cpu_s": round(cpu, 3), "cpu_s_per_million": round(cpu / max(total, 1) * 1e6, 2),
            "cores_used": round(cpu / wall, 2), "cpu_percent": round(100 * cpu / wall, 1),
            "peak_rss_mib": round(monitor.peak_rss / 2**20, 1), "peak_pss_mib": round(monitor.peak_pss / 2**20, 1),
            "processes": len(tree(monitor.root)),
            "e2e_delay_ms": delays, "e2e_p99_ms": max((d["p99_ms"] for d in delays.values()), default=None),
            "generator_cpu_s": round(generator_cpu, 3), "sink_cpu_s": round(sink1 - sink0, 3),
            "other_cores_busy": round(max(0.0, other) / elapsed, 2),
            "load": reports,
        }
        if run["loss"] == 0 or sc.fixed_rate:  # a fixed rate is the measurement: its loss is reported, not avoided
            return run
        print(f"    loss {run['loss']} at {run['items_per_s']:,}/s; retrying {STEP_DOWN:.0%} of the delivered rate",
              flush=True)
        rates = {i: STEP_DOWN * delivered[spec.signal] / wall / sum(1 for x in sc.loads if x.signal == spec.signal)
                 for i, spec in enumerate(sc.loads)}
    return run


def measure_idle(monitor: TreeMonitor, duration: float, interval: float = 0.5) -> dict[str, Any]:
    """One idle run: the tree's CPU over `duration` as % of one core, and its summed PSS/RSS (median and
    peak of samples every `interval`)."""
    cpu0, start = monitor.cpu_total(), time.monotonic()
    samples = []
    while time.monotonic() - start < duration:
        samples.append(sample_tree(monitor.root))
        time.sleep(interval)
    elapsed = time.monotonic() - start
    cpu = monitor.cpu_total() - cpu0
    return {"mode": "idle", "duration_s": round(elapsed, 2), "cpu_s": round(cpu, 3),
            "cpu_percent": round(100 * cpu / elapsed, 2),
            "pss_mib": round(statistics.median(x.pss for x in samples) / 2**20, 1),
            "peak_pss_mib": round(max(x.pss for x in samples) / 2**20, 1),
            "rss_mib": round(statistics.median(x.rss for x in samples) / 2**20, 1),
            "peak_rss_mib": round(max(x.rss for x in samples) / 2**20, 1),
            "processes": len(tree(monitor.root))}


def warm_up(sc: Scenario, sink: Sink, endpoints: dict[str, str], warmup: float) -> None:
    """A fixed-rate scenario warms up at its own rates (no calibration: the rate is the point)."""
    before = sink.stats()["items"]
    reports = drive(sc.loads, endpoints, warmup)
    _wait_delivered(sink, before, _accepted(sc.loads, reports))


def run_idle_point(sc: Scenario, target: str, workers: int, runs: int, duration: float, warmup: float) -> dict[str, Any]:
    sink = Sink()
    try:
        with TARGETS[target](sc, free_port(), free_port(), sink.url, workers) as proc:
            monitor = TreeMonitor(proc.pid)
            time.sleep(warmup)  # start-up work (imports, first garbage collections) is not idling
            results = []
            for i in range(runs):
                run = measure_idle(monitor, duration)
                results.append(run)
                print(f"    idle run {i + 1}/{runs}: {run['cpu_percent']:.2f}% of a core  pss {run['pss_mib']} MiB "
                      f"(peak {run['peak_pss_mib']})  rss {run['rss_mib']} MiB  {run['processes']} processes", flush=True)
    finally:
        sink.close()
    return {
        "scenario": sc.name, "description": sc.description, "target": target, "workers": workers, "idle": True,
        "loads": [], "cpu_percent": spread([r["cpu_percent"] for r in results]),
        "pss_mib": spread([r["pss_mib"] for r in results]), "peak_pss_mib": spread([r["peak_pss_mib"] for r in results]),
        "rss_mib": spread([r["rss_mib"] for r in results]), "processes": results[-1]["processes"],
        "modes": ["idle"], "loss": 0, "zero_loss": True, "runs": results,
    }


def run_point(sc: Scenario, target: str, workers: int, runs: int, duration: float, warmup: float) -> dict[str, Any]:
    if sc.idle:
        return run_idle_point(sc, target, workers, runs, duration, warmup)
    sink = Sink()
    try:
        grpc_port, http_port = free_port(), free_port()
        endpoints = {"http": f"http://127.0.0.1:{http_port}", "grpc": f"127.0.0.1:{grpc_port}"}
        with TARGETS[target](sc, grpc_port, http_port, sink.url, workers) as proc:
            monitor = TreeMonitor(proc.pid).start()
            try:
                paced = None
                if sc.fixed_rate and warmup:
                    warm_up(sc, sink, endpoints, warmup)
                elif warmup:
                    paced = calibrate(sc, sink, endpoints, warmup)
                if paced:
                    print(f"    paced at {PACE_HEADROOM:.2f}x the forwarded rate: "
                          f"{ {sc.loads[i].signal: round(r) for i, r in paced.items()} } items/s", flush=True)
                results = []
                for i in range(runs):
                    run = measure(sc, sink, monitor, endpoints, duration, paced)
                    results.append(run)
                    print(f"    run {i + 1}/{runs}: {run['items_per_s']:>9,} items/s  "
                          f"{run['cpu_s_per_million']:6.2f} cpu-s/M  loss {run['loss']}  "
                          f"p99 e2e {run['e2e_p99_ms']} ms  rss {run['peak_rss_mib']} MiB  "
                          f"pss {run['peak_pss_mib']} MiB  {run['processes']} processes  "
                          f"others {run['other_cores_busy']} cores", flush=True)
            finally:
                monitor.stop()
    finally:
        sink.close()
    return summarise(sc, target, workers, results)


def spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def summarise(sc: Scenario, target: str, workers: int, runs: list[dict[str, Any]]) -> dict[str, Any]:
    p99 = [r["e2e_p99_ms"] for r in runs if r["e2e_p99_ms"] is not None]
    return {
        "scenario": sc.name, "description": sc.description, "target": target, "workers": workers,
        "loads": [vars(spec) for spec in sc.loads],
        "items_per_s": spread([r["items_per_s"] for r in runs]),
        "cpu_s_per_million": spread([r["cpu_s_per_million"] for r in runs]),
        "peak_rss_mib": spread([r["peak_rss_mib"] for r in runs]),
        "peak_pss_mib": spread([r["peak_pss_mib"] for r in runs]),
        "e2e_p99_ms": spread(p99) if p99 else None,
        "loss": sum(r["loss"] for r in runs), "zero_loss": all(r["loss"] == 0 for r in runs),
        "modes": sorted({r["mode"] for r in runs}),
        "other_cores_busy": spread([r["other_cores_busy"] for r in runs]),
        "cpu_percent": spread([r["cpu_percent"] for r in runs]),
        "processes": runs[-1]["processes"],
        "runs": runs,
    }


def comparisons(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """ours / peer for each scenario a peer ran (same load, sink and machine, same run)."""
    out = []
    ours = {(p["scenario"], p["workers"]): p for p in points if p["target"] == "collector"}
    for peer in (p for p in points if p["target"] != "collector"):
        mine = ours.get((peer["scenario"], peer["workers"]))
        if mine is None or peer.get("idle"):
            continue
        out.append({
            "scenario": peer["scenario"], "peer": peer["target"], "workers": peer["workers"],
            "items_per_s": {"ours": mine["items_per_s"]["median"], "peer": peer["items_per_s"]["median"],
                            "ratio": round(mine["items_per_s"]["median"] / max(peer["items_per_s"]["median"], 1), 3)},
            "cpu_s_per_million": {"ours": mine["cpu_s_per_million"]["median"], "peer": peer["cpu_s_per_million"]["median"],
                                  "ratio": round(mine["cpu_s_per_million"]["median"]
                                                 / max(peer["cpu_s_per_million"]["median"], 1e-9), 2)},
        })
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", action="append", help="scenario name (default: all); repeatable")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load per run")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--sweep", default=None, help="worker counts for the sweep (default: each scenario's `sweep`)")
    parser.add_argument("--no-sweep", action="store_true")
    parser.add_argument("--no-peers", action="store_true", help="skip rotel")
    parser.add_argument("--no-micro", action="store_true", help="skip the micro-benchmarks")
    parser.add_argument("--light", action="store_true",
                        help="only the idle and fixed-rate scenarios (the memory and light-load figures)")
    parser.add_argument("--no-report", action="store_true",
                        help="write the results JSON only (no README tables or charts): for trial runs")
    parser.add_argument("--out", type=Path, default=None, help="results JSON (default bench/results/run-<time>.json)")
    args = parser.parse_args(argv)
    names = args.scenario or scenarios.names()
    if args.light:
        names = [n for n in names if scenarios.load(n).idle or scenarios.load(n).fixed_rate]
    started = time.monotonic()
    doc: dict[str, Any] = {"machine": machine(), "args": {k: str(v) if isinstance(v, Path) else v
                                                         for k, v in vars(args).items()},
                           "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "points": []}
    if not args.no_peers and rotel_binary() is None:
        print("rotel not installed: peer comparison skipped (pip install rotel)", file=sys.stderr)
    for name in names:
        sc = scenarios.load(name)
        workers = [sc.workers]
        sweep = [int(w) for w in args.sweep.split(",")] if args.sweep else list(sc.sweep)
        if not args.no_sweep:
            workers += [w for w in sweep if w != sc.workers]
        plan = [("collector", w) for w in workers]
        if not args.no_peers and rotel_binary() is not None:
            plan += [(peer, sc.workers) for peer in sc.peers]
        for target, count in plan:
            print(f"{name}: {target} workers={count} ({sc.description})", flush=True)
            try:
                point = run_point(sc, target, count, args.runs, args.duration, args.warmup)
            except Exception as exc:  # one broken point must not cost the whole run; it is recorded
                print(f"  !! {name} {target} workers={count} failed: {exc!s:.2000}", flush=True)
                doc.setdefault("failures", []).append({"scenario": name, "target": target, "workers": count,
                                                       "error": f"{exc!s:.4000}"})
                continue
            point["sweep"] = count != sc.workers
            doc["points"].append(point)
            if point.get("idle"):
                print(f"  => idle {point['cpu_percent']['median']:.2f}% of a core, pss {point['pss_mib']['median']:.1f} MiB",
                      flush=True)
                continue
            print(f"  => {point['items_per_s']['median']:,.0f} items/s "
                  f"[{point['items_per_s']['min']:,.0f}-{point['items_per_s']['max']:,.0f}]  "
                  f"{point['cpu_s_per_million']['median']:.2f} cpu-s/M  loss {point['loss']}", flush=True)
    doc["comparisons"] = comparisons(doc["points"])
    for c in doc["comparisons"]:
        print(f"{c['scenario']}: ours/{c['peer']} items/s {c['items_per_s']['ours']:,.0f}/{c['items_per_s']['peer']:,.0f}"
              f" = {c['items_per_s']['ratio']:.3f}; cpu-s/M {c['cpu_s_per_million']['ours']:.2f}/"
              f"{c['cpu_s_per_million']['peer']:.2f} = {c['cpu_s_per_million']['ratio']:.2f}", flush=True)
    if not args.no_micro:
        from bench import micro

        doc["micro"] = micro.run_all()
    doc["elapsed_s"] = round(time.monotonic() - started, 1)
    RESULTS.mkdir(exist_ok=True)
    out = args.out or RESULTS / f"run-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.write_text(json.dumps(doc, indent=2))
    print(f"wrote {out} in {doc['elapsed_s']:.0f}s")
    if args.no_report:
        return 0
    from bench import report

    report.write(RESULTS)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
