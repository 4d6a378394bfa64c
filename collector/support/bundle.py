"""The support bundle zip, as Alloy's `/-/support?duration=N` builds it: what the collector runs,
how it is doing, and what it said, collected over `duration` seconds.

Contents (all plain text, secrets redacted, so an operator can read it before sharing):

- `collector-metadata.json`: version, Python, platform, uptime, listen address, storage path,
  process topology, configuration format and the bundle's own time window;
- `collector-components.json`: every component's detail as `/api/v0/web/components/{id}` shows it
  (arguments with secrets shown as `(secret)`, health, counters, recent errors);
- `collector-processes.json`, `collector-status.json`: the Processes page and the status API;
- `collector-metrics-sample-start.txt`, `collector-metrics-sample-end.txt`: `/metrics` at the start
  and the end of the window;
- `collector-environment.txt`: the `COLLECTOR_*` settings the processes run with;
- `collector-logs/<process>.log`: each process's recent lines (its last MiB or two, see
  `collector/runtime/logs.py`), read at the end of the window;
- `sources/<file>`: the configuration files with every secret attribute blanked
  (`collector/support/redaction.py`, built on `collector/web/redaction.py`).
"""

from __future__ import annotations

import asyncio
import io
import os
import platform
import sys
import time
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import orjson

import collector
from collector.runtime import logs
from collector.support.redaction import redacted_lines, redacted_sources
from collector.web import api

if TYPE_CHECKING:
    from collector.runtime.view import SupervisorView
    from collector.web.observe import Observer

MAX_DURATION = 300.0
ENV_PREFIXES = ("COLLECTOR_",)


def _json(doc: Any) -> bytes:
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)


async def build_bundle(supervisor: SupervisorView, observer: Observer, metrics: Callable[[], bytes], *,
                       duration: float, run_dir: Path, extra: dict[str, Any] | None = None) -> bytes:
    """The zip's bytes. Waits `duration` seconds between the two metric samples (and so lets the
    logs of that window reach the per-process files)."""
    started = time.time()
    metrics_start = metrics()
    if duration > 0:
        await asyncio.sleep(duration)
    metrics_end = metrics()
    pipeline = supervisor.pipeline
    metadata = {
        "version": collector.__version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "pid": os.getpid(),
        "startedTime": api.iso_time(supervisor.started_at),
        "uptimeSeconds": round(started - supervisor.started_at, 3),
        "bundleStartTime": api.iso_time(started),
        "bundleEndTime": api.iso_time(time.time()),
        "durationSeconds": duration,
        "components": len(pipeline.nodes),
        "configHash": pipeline.config_hash,
        "logging": {"level": pipeline.logging.level, "format": pipeline.logging.format},
        **(extra or {}),
    }
    details = [api.component_detail(supervisor, observer, cid) for cid in pipeline.nodes]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("collector-metadata.json", _json(metadata))
        bundle.writestr("collector-components.json", _json([d for d in details if d is not None]))
        bundle.writestr("collector-processes.json", _json(api.processes(supervisor, observer)))
        bundle.writestr("collector-status.json", _json(api.status(supervisor)))
        bundle.writestr("collector-metrics-sample-start.txt", metrics_start)
        bundle.writestr("collector-metrics-sample-end.txt", metrics_end)
        bundle.writestr("collector-environment.txt", _environment(pipeline))
        for name, content in logs.read_recent(run_dir).items():
            text = content.decode("utf-8", errors="replace")
            bundle.writestr(f"collector-logs/{name}", redacted_lines(text, pipeline))
        for name, text in redacted_sources(pipeline).items():
            bundle.writestr(f"sources/{Path(name).name}", text)
    return buffer.getvalue()


def _environment(pipeline: Any) -> str:
    lines = [f"{key}={value}" for key, value in sorted(os.environ.items()) if key.startswith(ENV_PREFIXES)]
    return redacted_lines("\n".join(lines) + "\n", pipeline)


def parse_duration_param(raw: str | None, default: float) -> float:
    """`?duration=N` in seconds (a whole or decimal number), at most MAX_DURATION."""
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"invalid duration {raw!r}: expected a number of seconds") from None
    if not 0 <= value <= MAX_DURATION:
        raise ValueError(f"invalid duration {raw!r}: must be between 0 and {MAX_DURATION:.0f} seconds")
    return value
