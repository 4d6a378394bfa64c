"""Scenarios are data: `bench/scenarios/<name>.toml` names a configuration and the load that drives it.

    description = "traces OTLP/gRPC -> batch -> otlphttp"
    config = "otlp-batch-otlphttp.alloy"      # bench/configs/, with {grpc_port} {http_port} {sink_url}
    # or: example = "opentelemetry.alloy"     # examples/, used unchanged but for its listen ports
    workers = 1                                # COLLECTOR_<SIGNAL>_WORKERS for every loaded signal
    sweep = [1, 2, 3]                          # optional: worker counts for the throughput sweep
    peers = ["rotel"]                          # optional: run the same load through these collectors
    livedebugging = true                       # optional: add `livedebugging { enabled = true }`
    debug_viewer = "otelcol.processor.batch.b" # optional: one live debugging viewer of this component
    debug_sample_prob = 0.01                   #   at this sampling probability, for the whole run
    default_workers = true                     # optional: leave the worker counts at their defaults
    [env]                                      # optional: more environment for our collector
    COLLECTOR_WORKERS_MODE = "inline"

    [[load]]                                   # one or more; several run at once (a mixed load)
    signal = "traces"
    protocol = "grpc"
    concurrency = 16
    items_per_request = 100
    rate = 10000                               # optional: items/s; every load with a rate = a fixed-rate scenario

A scenario without `[[load]]` measures the idle collector: CPU % of a core and summed PSS over `--duration`.
A fixed-rate scenario sends at its rates (warm-up included) and is never stepped down: it reports CPU-seconds
per million items and memory at that load, and its loss as measured (it must be zero).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent


@dataclass(frozen=True)
class LoadSpec:
    signal: str
    protocol: str = "http"
    format: str = "protobuf"
    compression: str = "none"
    concurrency: int = 8
    items_per_request: int = 100
    rate: float | None = None

    def args(self) -> list[str]:
        out = ["--signal", self.signal, "--protocol", self.protocol, "--format", self.format,
               "--compression", self.compression, "--concurrency", str(self.concurrency),
               "--items-per-request", str(self.items_per_request)]
        return out


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    loads: tuple[LoadSpec, ...]
    config: str | None = None
    example: str | None = None
    workers: int = 1
    sweep: tuple[int, ...] = ()
    peers: tuple[str, ...] = ()
    signals: tuple[str, ...] = field(default=())
    livedebugging: bool = False
    debug_viewer: str | None = None
    debug_sample_prob: float = 1.0
    env: tuple[tuple[str, str], ...] = ()
    default_workers: bool = False

    @property
    def idle(self) -> bool:
        return not self.loads

    @property
    def fixed_rate(self) -> bool:
        return bool(self.loads) and all(spec.rate for spec in self.loads)

    def render_config(self, grpc_port: int, http_port: int, sink_url: str) -> str:
        """The collector configuration with this run's ports; an example keeps its own text."""
        prefix = "livedebugging {\n  enabled = true\n}\n\n" if self.livedebugging else ""
        if self.config:
            template = (BENCH / "configs" / self.config).read_text()
            return prefix + (template.replace("{grpc_port}", str(grpc_port)).replace("{http_port}", str(http_port))
                             .replace("{sink_url}", sink_url))
        assert self.example
        text = (ROOT / "examples" / self.example).read_text()
        return prefix + text.replace("127.0.0.1:4317", f"127.0.0.1:{grpc_port}").replace(
            "127.0.0.1:4318", f"127.0.0.1:{http_port}")

    def config_env(self, sink_url: str) -> dict[str, str]:
        """Where the example configuration reads its backends from (`sys.env`)."""
        return {"LOKI_OTLP_URL": sink_url, "TEMPO_OTLP_URL": sink_url, "PROMETHEUS_URL": f"{sink_url}/api/v1/write"}


def load(name: str) -> Scenario:
    doc = tomllib.loads((BENCH / "scenarios" / f"{name}.toml").read_text())
    loads = tuple(LoadSpec(**entry) for entry in doc.pop("load", ()))
    if not doc.get("config") and not doc.get("example"):
        raise ValueError(f"scenario {name}: needs `config` or `example`")
    return Scenario(name=name, description=doc.get("description", name), loads=loads, config=doc.get("config"),
                    example=doc.get("example"), workers=int(doc.get("workers", 1)),
                    sweep=tuple(doc.get("sweep", ())), peers=tuple(doc.get("peers", ())),
                    signals=tuple(dict.fromkeys(spec.signal for spec in loads)),
                    livedebugging=bool(doc.get("livedebugging", False)), debug_viewer=doc.get("debug_viewer"),
                    debug_sample_prob=float(doc.get("debug_sample_prob", 1.0)),
                    env=tuple((str(k), str(v)) for k, v in doc.get("env", {}).items()),
                    default_workers=bool(doc.get("default_workers", False)))


def names() -> list[str]:
    return sorted(p.stem for p in (BENCH / "scenarios").glob("*.toml"))
