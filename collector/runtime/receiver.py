"""A receiver process: hosts every `otelcol.receiver.*` component and writes what they accept into
the worker rings. Several receiver processes share the listening ports (SO_REUSEPORT); each owns its
own set of rings, one per worker, so every ring has exactly one producer."""

from __future__ import annotations

import asyncio
import logging
import signal as signals
from collections import defaultdict
from pathlib import Path

from collector.components.kit.api import RuntimeServices
from collector.pipeline.loader import Pipeline, load
from collector.pipeline.plan import receiver_codes, receiver_components
from collector.runtime import logs
from collector.runtime.control import listen
from collector.runtime.admission import RingAdmission
from collector.runtime.host import ComponentHost
from collector.runtime.ring import Doorbell, Ring
from collector.runtime.spec import ChildSpec, doorbell_key
from collector.runtime.status import StatusChannel
from collector.signals import Signal

log = logging.getLogger(__name__)

# How often the ring pages the workers have passed are given back (`RingAdmission.trim`): often
# enough that a burst's pages are freed within seconds, rarely enough to cost nothing when idle.
TRIM_INTERVAL = 1.0
# A ring written faster than this keeps its pages (re-faulting what it writes would cost about 1% of
# a core at this rate, 10% at full load); lighter loads are trimmed every interval (at light load the
# producer cycles through the ring's warm region, whose pages are kept: ring.py point 8), and a ring
# that was busy is trimmed at the first interval after it calms down.
TRIM_BUSY_BYTES_PER_SECOND = 8 << 20


async def _trim_rings(admission: RingAdmission) -> None:
    while True:
        await asyncio.sleep(TRIM_INTERVAL)
        admission.trim(busy=int(TRIM_BUSY_BYTES_PER_SECOND * TRIM_INTERVAL))


async def run_receiver(spec: ChildSpec, pipeline: Pipeline, status: StatusChannel,
                       stopping: asyncio.Event | None = None) -> None:
    """Run until SIGTERM/SIGINT, or until `stopping` is set when the caller owns the signals (inline mode)."""
    if stopping is None:
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signals.SIGTERM, signals.SIGINT):
            loop.add_signal_handler(sig, stopping.set)

    rings: dict[Signal, list[Ring]] = defaultdict(list)
    for ring_spec in sorted(spec.rings, key=lambda r: (r.signal, r.worker)):
        rings[Signal(ring_spec.signal)].append(Ring.attach(ring_spec.name))
    doorbells = {
        signal: [Doorbell.from_fd(spec.doorbell_fds[doorbell_key(signal.value, w)]) for w in range(len(rs))]
        for signal, rs in rings.items()
    }
    ids = receiver_components(pipeline)
    admission = RingAdmission(rings, doorbells)
    host = ComponentHost(
        pipeline,
        ids,
        process_role=spec.title,
        storage_path=Path(spec.storage_path),
        http_listen_addr=spec.http_listen_addr,
        worker_index=spec.index,
        services=RuntimeServices(admission=admission, reuse_port=True, run_dir=Path(spec.run_dir)),
        report=status,
    )
    host.build()
    await host.start()

    async def on_command(command: dict[str, object]) -> None:
        if command.get("cmd") != "reload":
            return
        generation = command.get("generation")
        try:
            pipeline = load(str(command["config_path"]), http_listen_addr=spec.http_listen_addr,
                            storage_path=Path(spec.storage_path))
            # the workers refuse a configuration whose ring codes are ambiguous with the running
            # one's; so does this process, so no record is ever written under such a code
            receiver_codes(pipeline, host.pipeline)
            await host.apply(pipeline, receiver_components(pipeline), spec.shutdown_timeout)
            logs.reconfigure(pipeline.logging.level, pipeline.logging.format)
        except Exception as exc:
            log.exception("reload failed")
            status({"event": "reloaded", "generation": generation, "ok": False, "error": str(exc)})
            return
        status({"event": "reloaded", "generation": generation, "ok": True})

    stop_listening = listen(spec.control_fd, on_command)
    trimming = asyncio.ensure_future(_trim_rings(admission))
    status({"event": "ready"})
    log.info("receiver started: %s", ", ".join(ids) or "no receivers configured")
    await stopping.wait()
    trimming.cancel()
    stop_listening()
    status({"event": "stopping"})
    await host.shutdown(spec.shutdown_timeout)
    for signal_rings in rings.values():
        for ring in signal_rings:
            ring.close()
    log.info("receiver stopped")
