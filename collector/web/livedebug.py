"""Live debugging, the supervisor's half: `GET /api/v0/web/debug/<component id>?sampleProb=<p>`.

Theory of operation. Opening the stream registers a viewer; the hub asks the supervisor to switch
the component's tap on in every worker at the highest probability any viewer of it wants
(`Supervisor.set_debug_tap`), and off when its last viewer leaves. Workers send sampled items as
datagrams to a Unix socket the hub binds in the run directory (`collector/runtime/livedebug.py`
renders them); the hub reads it from the event loop and hands each line to the component's viewers,
re-sampling for a viewer that asked for less than the tap delivers. Each viewer has a bounded queue:
when the browser or `curl` reads slower than items arrive, lines are dropped and counted, and the
stream says so (`{"dropped": n, "reason": ...}`). Nothing on this path ever waits on a viewer, so a
viewer that never reads costs the pipeline nothing but the sampling.

The stream is Alloy's: each record (here one JSON object per item) followed by the `|;|` delimiter.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

if TYPE_CHECKING:
    from collector.runtime.view import SupervisorControl

log = logging.getLogger(__name__)

DELIMITER = b"|;|"
VIEWER_QUEUE = 2000  # lines a viewer may fall behind before lines are dropped
WRITE_BATCH = 500  # lines per write to the viewer's connection
RECEIVE_BUFFER = 4 << 20
DISABLED_MESSAGE = ("the live debugging service is disabled: add `livedebugging { enabled = true }` to the "
                    "configuration and reload it")


def parse_sample_prob(raw: str | None) -> float:
    """Alloy's `sampleProb` query parameter: a probability, 1 when absent."""
    if raw is None or raw == "":
        return 1.0
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"invalid sampleProb {raw!r}: expected a number between 0 and 1") from None
    if not 0.0 < value <= 1.0:
        raise ValueError(f"invalid sampleProb {raw!r}: expected a number greater than 0 and at most 1")
    return value


def debuggable(supervisor: SupervisorControl, component_id: str) -> str | None:
    """Why the component cannot be watched, or None if it can: only OTLP data leaving a component
    through its `output` fan-outs is tapped (exporters send to backends, not to components)."""
    if component_id not in supervisor.pipeline.nodes:
        return f"unknown component {component_id}"
    if not any(edge.kind == "otlp" for edge in supervisor.pipeline.edges_from(component_id)):
        return (f"the component {component_id} does not support live debugging: only components that send "
                "OpenTelemetry data to other components (receivers, processors, connectors) can be watched")
    return None


class Viewer:
    """One open stream: a bounded queue of lines and what it lost."""

    def __init__(self, component_id: str, probability: float) -> None:
        self.component_id = component_id
        self.probability = probability
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=VIEWER_QUEUE)
        self.dropped_slow = 0  # this viewer read too slowly
        self.dropped_upstream = 0  # workers could not hand items to the supervisor in time
        self.changed = asyncio.Event()

    def offer(self, lines: list[bytes], keep: float, dropped_upstream: int) -> None:
        self.dropped_upstream += dropped_upstream
        for line in lines:
            if keep < 1.0 and random.random() >= keep:
                continue
            try:
                self.queue.put_nowait(line)
            except asyncio.QueueFull:
                self.dropped_slow += 1
        self.changed.set()


class LiveDebugHub:
    def __init__(self, supervisor: SupervisorControl) -> None:
        self.supervisor = supervisor
        self.viewers: dict[str, set[Viewer]] = {}
        self.tapped: dict[str, float] = {}  # component -> probability its tap runs at
        self.received = 0
        self._sock: socket.socket | None = None
        self._path: Path | None = None

    # --- viewers -------------------------------------------------------------------------------
    def open(self, component_id: str, probability: float) -> Viewer:
        self._bind()
        viewer = Viewer(component_id, probability)
        self.viewers.setdefault(component_id, set()).add(viewer)
        self._retap(component_id)
        return viewer

    def close(self, viewer: Viewer) -> None:
        group = self.viewers.get(viewer.component_id)
        if group is not None:
            group.discard(viewer)
            if not group:
                del self.viewers[viewer.component_id]
        self._retap(viewer.component_id)

    def _retap(self, component_id: str) -> None:
        wanted = max((v.probability for v in self.viewers.get(component_id, ())), default=0.0)
        if self.tapped.get(component_id, 0.0) == wanted:
            return
        if wanted:
            self.tapped[component_id] = wanted
        else:
            self.tapped.pop(component_id, None)
        self.supervisor.set_debug_tap(component_id, wanted)

    # --- the datagram socket -------------------------------------------------------------------
    def _bind(self) -> None:
        if self._sock is not None:
            return
        path = Path(self.supervisor.debug_socket)
        path.unlink(missing_ok=True)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
        sock.bind(str(path))
        os.chmod(path, 0o600)
        sock.setblocking(False)
        asyncio.get_running_loop().add_reader(sock.fileno(), self._on_readable)
        self._sock, self._path = sock, path

    def _on_readable(self) -> None:
        assert self._sock is not None
        while True:
            try:
                datagram = self._sock.recv(1 << 17)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                log.exception("live debugging socket failed")
                return
            self.deliver(datagram)

    def deliver(self, datagram: bytes) -> None:
        """Route one worker datagram (a JSON header line, then one line per item) to the viewers."""
        header_line, _, rest = datagram.partition(b"\n")
        try:
            header: dict[str, Any] = orjson.loads(header_line)
        except orjson.JSONDecodeError:
            return
        component_id = str(header.get("component", ""))
        lines = rest.split(b"\n") if rest else []
        self.received += len(lines)
        tapped = self.tapped.get(component_id)
        for viewer in self.viewers.get(component_id, ()):
            keep = viewer.probability / tapped if tapped else 1.0
            viewer.offer(lines, keep, int(header.get("dropped", 0)))

    def close_all(self) -> None:
        for component_id in list(self.viewers):
            for viewer in self.viewers[component_id]:
                viewer.changed.set()
        if self._sock is not None:
            asyncio.get_running_loop().remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None
        if self._path is not None:
            self._path.unlink(missing_ok=True)


class LiveDebugRoutes:
    """The debug stream endpoint (aiohttp shell around the hub)."""

    def __init__(self, supervisor: SupervisorControl) -> None:
        self.supervisor = supervisor
        self.hub = LiveDebugHub(supervisor)
        self._closing = asyncio.Event()

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/api/v0/web/debug/{component_id}", self.stream)]

    def close(self) -> None:
        self._closing.set()
        self.hub.close_all()

    async def stream(self, request: web.Request) -> web.StreamResponse:
        component_id = request.match_info["component_id"]
        if not self.supervisor.pipeline.livedebugging_enabled:
            return web.Response(status=503, text=DISABLED_MESSAGE + "\n")
        problem = debuggable(self.supervisor, component_id)
        if problem is not None:
            return web.Response(status=404 if component_id not in self.supervisor.pipeline.nodes else 400,
                                text=problem + "\n")
        try:
            probability = parse_sample_prob(request.query.get("sampleProb"))
        except ValueError as err:
            return web.Response(status=400, text=f"{err}\n")
        try:
            viewer = self.hub.open(component_id, probability)
        except OSError as err:  # the socket cannot be bound (e.g. a run directory path too long for AF_UNIX)
            log.error("live debugging cannot listen on %s: %s", self.supervisor.debug_socket, err)
            return web.Response(status=503, text=f"live debugging cannot listen on {self.supervisor.debug_socket}: "
                                                 f"{err}\n")
        response = web.StreamResponse(headers={"Content-Type": "text/plain; charset=utf-8",
                                               "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})
        try:
            await response.prepare(request)
        except (ConnectionResetError, ConnectionError):
            self.hub.close(viewer)
            raise
        reported = (0, 0)
        try:
            while not self._closing.is_set() and self.supervisor.pipeline.livedebugging_enabled:
                viewer.changed.clear()
                chunk: list[bytes] = []
                while not viewer.queue.empty() and len(chunk) < WRITE_BATCH:
                    chunk.append(viewer.queue.get_nowait() + DELIMITER)
                lost = (viewer.dropped_slow, viewer.dropped_upstream)
                if lost != reported:
                    chunk.append(orjson.dumps({
                        "dropped": lost[0] - reported[0] + lost[1] - reported[1],
                        "reason": "viewer too slow" if lost[0] != reported[0] else "collector busy",
                        "droppedTotal": lost[0] + lost[1]}) + DELIMITER)
                    reported = lost
                if chunk:
                    await response.write(b"".join(chunk))
                    continue
                try:
                    await asyncio.wait_for(viewer.changed.wait(), timeout=1.0)
                except asyncio.TimeoutError:
                    if request.transport is None or request.transport.is_closing():
                        break  # the viewer went away
        except (ConnectionResetError, ConnectionError):
            pass
        finally:
            self.hub.close(viewer)
        return response
