"""Where a collector's memory goes: `python -m bench.memory examples/default.alloy [--load traces-http]`.

Starts the collector with the given configuration (its OTLP listen ports rewritten to free ones, its
backends (`sys.env("...URL")`) pointed at a counting sink), waits `--settle` seconds and prints the
PSS of every process split by what holds it (`bench.procstat.MemoryBreakdown`: code, modules, heap,
rings, files, stacks). With `--load <scenario>` (bench/scenarios/*.toml; its loads run at their
`rate`, or as fast as they are accepted) it then drives the load for `--load-seconds`, samples the tree every
`--interval` seconds and prints the breakdown at the peak of the summed PSS, then keeps sampling
for `--after` seconds and prints the breakdown at the end and how long the tree took to come back
within 20% of its idle PSS. Worker counts are the defaults unless the environment sets them.
`--json` writes every table to a file as well.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

from bench import scenario as scenarios
from bench.procstat import BREAKDOWN_PARTS, MemoryBreakdown, memory_breakdown, process_titles
from bench.run import Sink, drive
from collector.testing.process import CollectorProcess, free_port

MiB = 1 << 20
RECOVERED = 1.2  # "back" means within 20% of the idle PSS


def render(text: str, grpc_port: int, http_port: int) -> str:
    return text.replace("127.0.0.1:4317", f"127.0.0.1:{grpc_port}").replace("127.0.0.1:4318", f"127.0.0.1:{http_port}")


class Snapshot:
    """The breakdown of every process of the tree at one moment."""

    def __init__(self, root: int, startup_anon: dict[int, int]) -> None:
        self.at = time.monotonic()
        self.titles = process_titles(root)
        self.rows: dict[int, MemoryBreakdown] = {
            pid: memory_breakdown(pid, startup_anon.get(pid)) for pid in self.titles}

    @property
    def pss(self) -> int:
        return sum(row.pss for row in self.rows.values())

    def table(self, heading: str) -> str:
        parts = ("pss", *BREAKDOWN_PARTS)
        lines = [heading, f"{'process':<34}" + "".join(f"{p:>9}" for p in parts) + f"{'threads':>9}"]
        total = MemoryBreakdown(0)
        for pid, row in sorted(self.rows.items(), key=lambda item: self.titles[item[0]]):
            title = self.titles[pid].removeprefix("collector: ")[:33]
            lines.append(f"{title:<34}" + "".join(f"{getattr(row, p) / MiB:>9.1f}" for p in parts)
                         + f"{row.threads:>9}")
            for part in (*parts, "threads"):
                setattr(total, part, getattr(total, part) + getattr(row, part))
        lines.append(f"{'total (MiB)':<34}" + "".join(f"{getattr(total, p) / MiB:>9.1f}" for p in parts)
                     + f"{total.threads:>9}")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {"pss": self.pss, "processes": {self.titles[pid]: row.as_dict() for pid, row in self.rows.items()}}


def startup_anonymous(root: int) -> dict[int, int]:
    return {pid: memory_breakdown(pid).anon for pid in process_titles(root)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__.splitlines()[0])
    parser.add_argument("config", type=Path, help="an Alloy configuration (e.g. examples/default.alloy)")
    parser.add_argument("--load", help="a bench scenario whose loads to drive (e.g. traces-http)")
    parser.add_argument("--load-seconds", type=float, default=60.0)
    parser.add_argument("--settle", type=float, default=10.0, help="seconds between ready and the idle figure")
    parser.add_argument("--after", type=float, default=120.0, help="seconds to watch the tree after the load")
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)

    sink = Sink()
    grpc_port, http_port = free_port(), free_port()
    env = scenarios.Scenario("memory", "", ()).config_env(sink.url)
    collector = CollectorProcess(render(args.config.read_text(), grpc_port, http_port), env=env)
    report: dict[str, Any] = {"config": str(args.config), "load": args.load}
    try:
        collector.start()
        assert collector.process is not None
        root = collector.process.pid
        time.sleep(1.0)
        startup = startup_anonymous(root)
        time.sleep(max(0.0, args.settle - 1.0))
        idle = Snapshot(root, startup)
        print(idle.table(f"idle ({args.config}, {args.settle:.0f}s after ready), PSS in MiB"))
        report["idle"] = idle.as_dict()
        if args.load:
            report.update(under_load(args, root, startup, idle, grpc_port, http_port))
    finally:
        collector.close()
        sink.close()
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


def under_load(args: argparse.Namespace, root: int, startup: dict[int, int], idle: Snapshot,
               grpc_port: int, http_port: int) -> dict[str, Any]:
    sc = scenarios.load(args.load)
    endpoints = {"http": f"http://127.0.0.1:{http_port}", "grpc": f"127.0.0.1:{grpc_port}"}
    peak = idle
    done = threading.Event()
    result: dict[str, Any] = {}

    def run_load() -> None:
        try:
            result["reports"] = drive(sc.loads, endpoints, args.load_seconds)
        finally:
            done.set()

    threading.Thread(target=run_load, daemon=True).start()
    while not done.wait(args.interval):
        snap = Snapshot(root, startup)
        if snap.pss > peak.pss:
            peak = snap
    print()
    pace = ("as fast as accepted" if not any(spec.rate for spec in sc.loads) else
            "at " + " + ".join(f"{spec.rate:,.0f}/s" if spec.rate else "full speed" for spec in sc.loads))
    print(peak.table(f"peak under load ({args.load}, {args.load_seconds:.0f}s {pace}), PSS in MiB"))
    accepted = sum(r.get("items_accepted", 0) for r in result.get("reports", []))
    print(f"items accepted: {accepted} ({accepted / args.load_seconds:,.0f}/s)")
    stopped = time.monotonic()
    recovered_after: float | None = None
    last = Snapshot(root, startup)
    while time.monotonic() - stopped < args.after:
        time.sleep(args.interval)
        last = Snapshot(root, startup)
        if recovered_after is None and last.pss <= idle.pss * RECOVERED:
            recovered_after = last.at - stopped
    print()
    print(last.table(f"{args.after:.0f}s after the load stopped, PSS in MiB"))
    back = f"after {recovered_after:.0f}s" if recovered_after is not None else f"not within {args.after:.0f}s"
    print(f"back within 20% of idle ({idle.pss / MiB:.1f} MiB): {back}")
    return {"peak": peak.as_dict(), "after": last.as_dict(), "recovered_after_s": recovered_after,
            "items_accepted": accepted}


if __name__ == "__main__":
    sys.exit(main())
