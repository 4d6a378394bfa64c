"""The supervisor: owns the configuration, the rings and the children, and serves the admin HTTP API.

Theory of operation.
1. Load and validate the configuration (errors go back to the CLI as diagnostics, nothing starts).
2. Snapshot the configuration into the run directory, so every child evaluates exactly what the
   supervisor validated even if the file changes meanwhile.
3. Claim the instance (`collector.runtime.instance`: storage path checked, lock held for life), then
   adopt the rings a dead predecessor of this instance left (`collector.runtime.adoption`: reopened
   if their geometry matches, else drained by the workers as extra sources), create the missing ones
   (one per (receiver process, worker) pair) and one eventfd doorbell per worker, check that no
   other process listens on the receivers' ports (`collector.runtime.ports`), then start workers
   (downstream) before receivers (upstream). Children are fresh interpreters started with
   `subprocess`; they inherit only the fds named in their spec, and die with the supervisor.
4. Watch: a child that exits unexpectedly is restarted (at once, then with growing backoff if it
   keeps crashing). A restarted worker attaches to the same rings and resumes from their committed
   read positions, so records its predecessor had not settled are processed again.
5. On SIGTERM/SIGINT: stop receivers first (no new data), then workers (they drain their rings and
   flush batches and queues within the shutdown timeout), then unlink the rings that are empty. A
   ring still holding records (a backend was down past the deadline) is kept for the next start of
   this instance, which adopts it. Exit 0.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal as signals
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import msgspec

from collector.config.diag import DiagnosticError, summarize
from collector.config.files import read_config
from collector.pipeline.loader import Pipeline, load
from collector.runtime import logs
from collector.runtime.adoption import AdoptedRing, find_rings, plan_rings
from collector.runtime.child import SETTLE_AFTER, libc_handle, limit_malloc_arenas, settle_memory
from collector.runtime.instance import Instance, InstanceError, claim_instance
from collector.config.redact import redact_text
from collector.runtime.ports import PortError, PortGuard, listen_endpoints
from collector.runtime.ring import Doorbell, Ring
from collector.runtime.settings import SettingsError, Topology, topology_from_env
from collector.runtime.shm import shortage_warning
from collector.runtime.spec import ChildSpec, RingSpec, doorbell_key, encode
from collector.runtime.status import StatusReader
from collector.signals import Signal

if TYPE_CHECKING:
    from collector.runtime.forkclient import ForkServer
    from collector.web.healthcheck import HealthCheckServer

log = logging.getLogger(__name__)

_RESTART_BACKOFF_MAX = 5.0
_STABLE_AFTER_SECONDS = 10.0


class CommandSink(Protocol):
    def write(self, data: bytes) -> None: ...


class ChildProcess(Protocol):
    """What the supervisor needs of a child: an `asyncio.subprocess.Process`, or in the small-host
    mode an `InlineProcess` (collector/runtime/inline.py) running the same code in this process."""

    @property
    def pid(self) -> int: ...

    @property
    def returncode(self) -> int | None: ...

    @property
    def stdin(self) -> CommandSink | None: ...

    async def wait(self) -> int: ...

    def send_signal(self, sig: int) -> None: ...

    def kill(self) -> None: ...


@dataclass
class Child:
    key: str  # "worker traces/0", "receiver/0"
    spec: ChildSpec
    fds: list[int]
    process: ChildProcess | None = None
    status_read_fd: int | None = None
    ready: bool = False
    started_at: float = 0.0
    restarts: int = 0
    backoff: float = 0.0
    health: dict[str, dict[str, Any]] = field(default_factory=dict)
    exited: asyncio.Event = field(default_factory=asyncio.Event)
    reloaded: dict[int, dict[str, Any]] = field(default_factory=dict)  # generation -> result event
    reload_event: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class ReloadOutcome:
    ok: bool
    message: str
    at: float


class Supervisor:
    def __init__(self, pipeline: Pipeline, source_path: Path, topology: Topology, *,
                 http_listen_addr: str, storage_path: Path, shutdown_timeout: float, run_dir: Path,
                 instance: Instance | None = None, config_format: str | None = None,
                 early_fork_server: tuple[socket.socket, int] | None = None) -> None:
        self.pipeline = pipeline
        self.source_path = source_path  # what the user named; re-read on reload
        self.config_format = config_format  # "otelcol" (YAML, converted) or "alloy"; None: by extension
        self.generation = 0
        self.config_path = _snapshot_config(source_path, run_dir / "config-0", config_format)
        self.topology = topology
        self.http_listen_addr = http_listen_addr
        self.storage_path = storage_path
        self.shutdown_timeout = shutdown_timeout
        self.run_dir = run_dir
        self.metrics_dir = run_dir / "metrics"
        self.instance = instance
        self.rings: dict[tuple[int, Signal, int], Ring] = {}
        self.adopted_rings: list[AdoptedRing] = []  # a predecessor's rings being drained by workers
        self.adopted_records: dict[Signal, int] = {}  # unsettled records found at start-up
        self.doorbells: dict[tuple[Signal, int], Doorbell] = {}
        self.children: dict[str, Child] = {}
        self.stopping = asyncio.Event()
        self.started_at = time.time()
        self.last_reload: ReloadOutcome | None = None
        self._health_check: HealthCheckServer | None = None
        self._reload_lock = asyncio.Lock()
        self.debug_taps: dict[str, float] = {}  # live debugging: component -> sampling probability wanted
        self.fork_server: ForkServer | None = None
        self.early_fork_server = early_fork_server  # forkserver.fork_early's, until the fork server starts

    # --- set-up --------------------------------------------------------------------------------
    def _create_queues(self) -> None:
        remove_stale_rings()
        ident = self.instance.id if self.instance is not None else f"p{os.getpid()}"
        plan = plan_rings(ident, self.topology, find_rings(ident))
        self.rings = plan.live
        self.adopted_rings = plan.draining
        self.adopted_records = dict(plan.adopted_records)
        for signal, records in self.adopted_records.items():
            if records:
                log.info("adopted %d unsettled %s ring records left by a previous run (%d rings reopened, "
                         "%d being drained)", records, signal.value,
                         sum(1 for key in plan.reopened if key[1] is signal),
                         sum(1 for a in plan.draining if a.name.signal is signal))
        for signal, count in self.topology.workers.items():
            for worker in range(count):
                self.doorbells[(signal, worker)] = Doorbell.create()
        shortage = shortage_warning([ring.capacity for ring in self.rings.values()] +
                                    [adopted.ring.capacity for adopted in self.adopted_rings])
        if shortage is not None:
            log.warning("%s", shortage)

    def _child_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PROMETHEUS_MULTIPROC_DIR"] = str(self.metrics_dir)
        env["COLLECTOR_LOG_LEVEL"] = self.pipeline.logging.level
        env["COLLECTOR_LOG_FORMAT"] = self.pipeline.logging.format
        return env

    def _plan_children(self) -> None:
        workers = {signal.value: count for signal, count in self.topology.workers.items()}
        common = dict(
            config_path=str(self.config_path),
            http_listen_addr=self.http_listen_addr,
            storage_path=str(self.storage_path),
            run_dir=str(self.run_dir),
            workers=workers,
            receiver_processes=self.topology.receiver_processes,
            shutdown_timeout=self.shutdown_timeout,
            status_fd=-1,
            supervisor_pid=os.getpid(),
        )
        for (signal, worker), doorbell in self.doorbells.items():
            rings = [RingSpec(ring.name, r, s.value, w) for (r, s, w), ring in self.rings.items()
                     if s is signal and w == worker]
            rings += [RingSpec(a.ring.name, a.name.receiver, signal.value, worker, adopted=True)
                      for a in self.adopted_rings if a.name.signal is signal and a.worker == worker]
            spec = ChildSpec(role="worker", index=worker, signal=signal.value, rings=rings,
                             doorbell_fds={doorbell_key(signal.value, worker): doorbell.fd}, **common)  # type: ignore[arg-type]
            self.children[f"worker {spec.signal}/{worker}"] = Child(f"worker {signal.value}/{worker}", spec, [doorbell.fd])
        for receiver in range(self.topology.receiver_processes):
            rings = [RingSpec(ring.name, r, s.value, w) for (r, s, w), ring in self.rings.items() if r == receiver]
            fds = {doorbell_key(s.value, w): d.fd for (s, w), d in self.doorbells.items()}
            spec = ChildSpec(role="receiver", index=receiver, rings=rings, doorbell_fds=fds, **common)  # type: ignore[arg-type]
            self.children[f"receiver/{receiver}"] = Child(f"receiver/{receiver}", spec, list(fds.values()))

    # --- children ------------------------------------------------------------------------------
    async def _spawn(self, child: Child) -> None:
        read_fd, write_fd = os.pipe()
        os.set_blocking(read_fd, False)
        spec = _with_status_fd(child.spec, write_fd)
        if self.topology.inline:
            from collector.runtime.inline import InlineProcess

            child.process = InlineProcess(spec)  # it owns write_fd from now on
        else:
            child.process = await self._start_process(child, spec, write_fd)
            os.close(write_fd)
        child.status_read_fd = read_fd
        child.ready = False
        child.started_at = time.monotonic()
        child.exited.clear()
        reader = StatusReader()
        asyncio.get_running_loop().add_reader(read_fd, self._on_status, child, read_fd, reader)
        log.info("started %s (%s %d)", child.key, "inline in pid" if self.topology.inline else "pid",
                 child.process.pid)

    async def _start_process(self, child: Child, spec: ChildSpec, status_fd: int) -> ChildProcess:
        """Forked by the fork server, with its fds at the numbers its spec names; or, without one (or
        if it cannot fork now), a fresh interpreter. Either way the child runs in a session of its
        own, so a Ctrl-C or a signal to the terminal's process group reaches only the supervisor,
        which stops receivers before workers; it dies with the supervisor (PDEATHSIG, child.py)."""
        fds = [*child.fds, status_fd]
        if self.fork_server is not None:
            from collector.runtime.forkclient import ForkServerError

            try:
                return await self.fork_server.spawn(
                    ["collector.runtime.child", encode(spec)], {fd: fd for fd in fds}, self._child_env(), child.key)
            except (ForkServerError, OSError) as exc:  # a restart must not fail for want of the server
                log.warning("%s; starting %s as a fresh interpreter", exc, child.key)
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "collector.runtime.child", encode(spec),
            pass_fds=fds, env=self._child_env(), stdin=asyncio.subprocess.PIPE, start_new_session=True,
        )

    @property
    def fork_server_pid(self) -> int | None:
        server = self.fork_server
        return server.server_pid if server is not None and server.alive else None

    async def _start_fork_server(self) -> None:
        """Children share the modules the fork server imported; without it (it failed to start, or
        COLLECTOR_FORK_SERVER=off) each child is a fresh interpreter."""
        if not self.topology.fork_server:
            return
        from collector.runtime.forkclient import ForkServer, ForkServerError

        server = ForkServer(str(self.config_path), self._child_env(), self.early_fork_server)
        self.early_fork_server = None
        try:
            await server.start()
        except (ForkServerError, OSError) as exc:
            log.warning("%s; children start as fresh interpreters instead", exc)
            return
        self.fork_server = server

    def _on_status(self, child: Child, fd: int, reader: StatusReader) -> None:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        if not data:
            asyncio.get_running_loop().remove_reader(fd)
            os.close(fd)
            if child.status_read_fd == fd:
                child.status_read_fd = None
            return
        for event in reader.feed(data):
            kind = event.get("event")
            if kind == "ready":
                child.ready = True
                for component_id, probability in self.debug_taps.items():  # a restarted worker too
                    self._send_debug_tap(child, component_id, probability)
            elif kind == "reloaded":
                child.reloaded[int(event.get("generation", -1))] = event
                child.reload_event.set()
            elif kind == "removed":
                child.health.pop(event.get("component", ""), None)
            elif kind == "health":
                child.health[event["component"]] = {
                    "state": event.get("state", "unknown"),
                    "message": event.get("message", ""),
                    "updated": time.time(),
                }

    async def _watch(self, child: Child) -> None:
        while True:
            assert child.process is not None
            code = await child.process.wait()
            child.exited.set()
            _forget_dead_process(self.metrics_dir, child.process.pid)
            if self.stopping.is_set():
                return
            lived = time.monotonic() - child.started_at
            child.backoff = 0.0 if lived > _STABLE_AFTER_SECONDS else min(max(child.backoff * 2, 0.1), _RESTART_BACKOFF_MAX)
            child.restarts += 1
            log.warning("%s (pid %d) exited with code %s; restarting in %.1fs (restart #%d)",
                        child.key, child.process.pid, code, child.backoff, child.restarts)
            try:
                await asyncio.wait_for(self.stopping.wait(), timeout=child.backoff)
                return
            except asyncio.TimeoutError:
                pass
            await self._spawn(child)

    async def _watch_adopted(self, interval: float = 0.5) -> None:
        """Unlink each drained ring once its worker has settled every record in it."""
        while self.adopted_rings:
            for adopted in [a for a in self.adopted_rings if a.ring.used_bytes() == 0]:
                self.adopted_rings.remove(adopted)
                key = f"worker {adopted.name.signal.value}/{adopted.worker}"
                child = self.children.get(key)
                if child is not None:  # a restarted worker must not look for it any more
                    child.spec = msgspec.structs.replace(
                        child.spec, rings=[r for r in child.spec.rings if r.name != adopted.ring.name])
                adopted.ring.close()
                adopted.ring.unlink()
                log.info("adopted ring %s drained (%d records) and released", adopted.ring.name, adopted.records)
            try:
                await asyncio.wait_for(self.stopping.wait(), timeout=interval)
                return
            except asyncio.TimeoutError:
                pass

    async def _stop_children(self, keys: list[str], timeout: float) -> None:
        children = [self.children[k] for k in keys if self.children[k].process is not None]
        for child in children:
            if child.process and child.process.returncode is None:
                child.process.send_signal(signals.SIGTERM)
        waits = [child.exited.wait() for child in children]
        if not waits:
            return
        done, pending = await asyncio.wait([asyncio.ensure_future(w) for w in waits], timeout=timeout)
        for task in pending:
            task.cancel()
        for child in children:
            if child.process and child.process.returncode is None:
                log.error("%s did not stop within %.0fs; killing it", child.key, timeout)
                child.process.kill()
                await child.process.wait()

    # --- reload --------------------------------------------------------------------------------
    async def reload(self) -> ReloadOutcome:
        """Re-read the configuration; apply it in every child if valid, change nothing if not."""
        async with self._reload_lock:
            try:
                pipeline = load(self.source_path, http_listen_addr=self.http_listen_addr,
                                storage_path=self.storage_path, config_format=self.config_format)
            except DiagnosticError as err:
                # shown by the API and the reload answer: no URL credentials (collector/config/redact.py)
                outcome = ReloadOutcome(False, redact_text(summarize(err.diagnostics, err.sources)), time.time())
                log.error("failed to reload config: %s", outcome.message)
                self.last_reload = outcome
                return outcome
            except OSError as err:
                outcome = ReloadOutcome(False, f"reading config path {str(self.source_path)!r}: {err}", time.time())
                self.last_reload = outcome
                return outcome
            self.generation += 1
            generation = self.generation
            snapshot = _snapshot_config(self.source_path, self.run_dir / f"config-{generation}", self.config_format)
            for child in self.children.values():
                child.spec = _with_config(child.spec, str(snapshot))
            self.config_path = snapshot
            failures = await self._broadcast_reload(generation, str(snapshot))
            self.pipeline = pipeline
            logs.reconfigure(pipeline.logging.level, pipeline.logging.format)
            problem = await self._sync_health_check()
            if problem is not None:
                failures.append(problem)
            if failures:
                outcome = ReloadOutcome(False, "; ".join(failures), time.time())
                log.error("reload applied with errors: %s", outcome.message)
            else:
                outcome = ReloadOutcome(True, "config reloaded", time.time())
                log.info("config reloaded")
            self.last_reload = outcome
            return outcome

    async def _broadcast_reload(self, generation: int, config_path: str) -> list[str]:
        command = (b'{"cmd":"reload","generation":%d,"config_path":' % generation
                   + _json_string(config_path) + b"}\n")
        waiting = []
        for child in self.children.values():
            process = child.process
            if process is None or process.returncode is not None or process.stdin is None:
                continue  # a child restarting now starts from the new snapshot anyway
            child.reload_event.clear()
            process.stdin.write(command)
            waiting.append(child)
        deadline = time.monotonic() + self.shutdown_timeout + 30
        failures = []
        for child in waiting:
            while generation not in child.reloaded and child.process and child.process.returncode is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    failures.append(f"{child.key}: no answer to the reload")
                    break
                child.reload_event.clear()
                try:
                    await asyncio.wait_for(child.reload_event.wait(), timeout=min(remaining, 1.0))
                except asyncio.TimeoutError:
                    pass
            result = child.reloaded.pop(generation, None)
            if result is not None and not result.get("ok"):
                failures.append(f"{child.key}: {result.get('error', 'reload failed')}")
        return failures

    # --- live debugging (collector/web/livedebug.py) ---------------------------------------------
    @property
    def debug_socket(self) -> Path:
        return self.run_dir / "livedebug.sock"

    def set_debug_tap(self, component_id: str, sample_prob: float) -> None:
        """Switch live debugging of a component on (sample_prob > 0) or off in every worker."""
        if sample_prob > 0:
            self.debug_taps[component_id] = sample_prob
        else:
            self.debug_taps.pop(component_id, None)
        for child in self.children.values():
            self._send_debug_tap(child, component_id, sample_prob)

    def _send_debug_tap(self, child: Child, component_id: str, sample_prob: float) -> None:
        process = child.process
        if child.spec.role != "worker" or process is None or process.returncode is not None or process.stdin is None:
            return  # receivers' output is tapped where it enters the workers; a restarting worker asks on ready
        process.stdin.write(msgspec.json.encode({"cmd": "livedebug", "component": component_id,
                                                 "sampleProb": sample_prob, "socket": str(self.debug_socket)}) + b"\n")

    # --- state for the admin API ---------------------------------------------------------------
    @property
    def ready(self) -> bool:
        return all(child.ready for child in self.children.values())

    def component_health(self) -> dict[str, dict[str, Any]]:
        """Worst health of each component over the processes that run it."""
        rank = {"healthy": 0, "unknown": 1, "unhealthy": 2, "exited": 3}
        merged: dict[str, dict[str, Any]] = {}
        for child in self.children.values():
            for cid, health in child.health.items():
                current = merged.get(cid)
                if current is None or rank.get(health["state"], 1) > rank.get(current["state"], 1):
                    merged[cid] = dict(health)
        return merged

    async def _sync_health_check(self) -> str | None:
        """Run the health_check extension a YAML configuration names (start, move or stop it);
        returns why it cannot listen, if it cannot."""
        from collector.web.healthcheck import HealthCheckServer

        wanted = self.pipeline.health_check
        current = self._health_check
        if current is not None and wanted is not None and (current.endpoint, current.path) == (wanted.endpoint,
                                                                                                wanted.path):
            return None
        if current is not None:
            await current.stop()
            self._health_check = None
        if wanted is not None:
            server = HealthCheckServer(self, wanted.endpoint, wanted.path)
            try:
                await server.start()
            except (OSError, ValueError) as err:
                await server.stop()
                problem = f"health_check extension cannot listen on {wanted.endpoint}: {err}"
                log.error("%s", problem)
                return problem
            self._health_check = server
        return None

    # --- main ----------------------------------------------------------------------------------
    async def run(self) -> int:
        from collector.web.server import AdminServer, AdminServerError

        loop = asyncio.get_running_loop()
        for sig in (signals.SIGTERM, signals.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        loop.add_signal_handler(signals.SIGHUP, lambda: asyncio.ensure_future(self.reload()))
        # the same memory hygiene as a child's (two malloc arenas, start-up garbage out, heap trimmed)
        libc = libc_handle()
        limit_malloc_arenas(libc)
        loop.call_later(SETTLE_AFTER, settle_memory, libc)
        self._create_queues()
        self._plan_children()
        admin = AdminServer(self)
        try:
            await admin.start(self.http_listen_addr)
        except AdminServerError as err:
            # before any child runs: release what was created, one line, exit 1 (no traceback)
            print(f"Error: {err}", file=sys.stderr)
            self._release_rings()
            for doorbell in self.doorbells.values():
                doorbell.close()
            return 1
        exit_code = 0
        if await self._sync_health_check() is not None:
            exit_code = 1  # as the OpenTelemetry Collector, an extension that cannot start stops the start
            self.stopping.set()
        watchers = [asyncio.ensure_future(self._watch_adopted())]
        await self._start_fork_server()
        order = [k for k in self.children if k.startswith("worker")] + [k for k in self.children if k.startswith("receiver")]
        for key in order:
            await self._spawn(self.children[key])
            watchers.append(asyncio.ensure_future(self._watch(self.children[key])))
        log.info("collector is running: %s", ", ".join(order))
        await self.stopping.wait()
        log.info("shutting down")
        receivers = [k for k in self.children if k.startswith("receiver")]
        workers = [k for k in self.children if k.startswith("worker")]
        await self._stop_children(receivers, self.shutdown_timeout + 5)
        await self._stop_children(workers, self.shutdown_timeout + 5)
        for watcher in watchers:
            watcher.cancel()
        if self.fork_server is not None:
            await self.fork_server.close()
        await admin.stop()
        if self._health_check is not None:
            await self._health_check.stop()
        self._release_rings()
        for doorbell in self.doorbells.values():
            doorbell.close()
        log.info("collector stopped")
        return exit_code


    def _release_rings(self) -> None:
        """Unlink the empty rings; keep those still holding records for the next start to adopt."""
        kept = 0
        for ring in [*self.rings.values(), *(a.ring for a in self.adopted_rings)]:
            pending = ring.pending_records() if ring.used_bytes() else 0
            ring.close()
            if pending and self.instance is not None:
                kept += pending
                log.warning("ring %s keeps %d undelivered records for the next start with --storage.path %s",
                            ring.name, pending, self.storage_path)
                continue
            if pending:
                log.error("ring %s: %d undelivered records are lost (no instance to adopt them)", ring.name, pending)
            ring.unlink()
        if kept:
            log.warning("%d undelivered records kept in shared memory for the next start", kept)


RING_PREFIX = "collector-ring-"
_SHM_DIR = Path("/dev/shm")


def remove_stale_rings() -> None:
    """Unlink rings named after a supervisor pid (the naming before instances, and the one used
    without an instance) whose supervisor is gone: shared memory otherwise outlives every process
    until reboot. Rings named after an instance are the adoption's business, never removed here."""
    if not _SHM_DIR.is_dir():
        return
    for path in _SHM_DIR.glob(f"{RING_PREFIX}*-*"):
        owner = path.name[len(RING_PREFIX):].split("-", 1)[0].removeprefix("ip")
        if not owner.isdigit():
            continue
        try:
            os.kill(int(owner), 0)
        except ProcessLookupError:
            log.info("removing ring %s left by a collector that is gone (pid %s)", path.name, owner)
            path.unlink(missing_ok=True)
        except PermissionError:
            pass  # someone else's live process


def _with_status_fd(spec: ChildSpec, fd: int) -> ChildSpec:
    return msgspec.structs.replace(spec, status_fd=fd)


def _with_config(spec: ChildSpec, config_path: str) -> ChildSpec:
    return msgspec.structs.replace(spec, config_path=config_path)


def _json_string(text: str) -> bytes:
    return msgspec.json.encode(text)


def _forget_dead_process(metrics_dir: Path, pid: int) -> None:
    """Drop a dead child's live gauges (its counters stay: totals must survive restarts)."""
    try:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid, str(metrics_dir))
    except Exception:  # a missing file is fine
        pass


def run(*, pipeline_path: str | Path, config_format: str | None = None, http_listen_addr: str = "127.0.0.1:12345",
        storage_path: str | Path = "data-collector", shutdown_timeout: float = 30.0) -> int:
    """Run the collector until SIGTERM/SIGINT. Configuration errors raise DiagnosticError."""
    try:
        topology = topology_from_env()
    except SettingsError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    pipeline = load(pipeline_path, http_listen_addr=http_listen_addr, storage_path=Path(storage_path),
                    config_format=config_format)
    logs.configure("supervisor", pipeline.logging.level, pipeline.logging.format)
    early_fork_server = _fork_early(topology)
    if pipeline.warnings:  # e.g. arguments accepted but not applied (collector/components/kit/inert.py)
        from collector.config.diag import render

        log.warning("configuration warnings:\n%s", render(pipeline.warnings, pipeline.sources))
    try:
        instance = claim_instance(storage_path)
    except InstanceError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    try:
        guard = PortGuard.claim(listen_endpoints(pipeline), f"pid {os.getpid()}, --storage.path {instance.storage_path}")
    except PortError as exc:
        instance.release()
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    _set_title()
    run_dir = instance.make_run_dir()
    logs.keep_recent(run_dir, "supervisor")
    try:
        (run_dir / "metrics").mkdir()
        supervisor = Supervisor(pipeline, Path(pipeline_path), topology, http_listen_addr=http_listen_addr,
                                storage_path=Path(storage_path), shutdown_timeout=shutdown_timeout, run_dir=run_dir,
                                instance=instance, config_format=config_format, early_fork_server=early_fork_server)
        import uvloop

        return uvloop.run(supervisor.run())
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
        guard.release()
        instance.release()


def _fork_early(topology: Topology) -> tuple[socket.socket, int] | None:
    """The fork server, forked now that the configuration's modules are imported and before the
    event loop starts any thread (collector/runtime/forkserver.py)."""
    if not topology.fork_server:
        return None
    from collector.runtime.forkserver import fork_early

    return fork_early()


def _snapshot_config(path: Path, target: Path, config_format: str | None = None) -> Path:
    """Copy the configuration (a file, or a directory's *.alloy files) where children will read it.
    An OpenTelemetry Collector YAML file is snapshotted as the Alloy text it converts to (environment
    variables substituted once, here), so children load plain Alloy."""
    from collector.otelcolconfig import config_format as detect_format

    target.mkdir(parents=True)
    if detect_format(path, config_format) == "otelcol" and not path.is_dir():
        from collector.otelcolconfig import convert_yaml

        converted = convert_yaml(path)
        alloy = target / (path.name + ".alloy")
        alloy.write_bytes(converted.conversion.alloy)
        return alloy
    sources = read_config(path)
    for name, data in sources.items():
        (target / Path(name).name).write_bytes(data)
    return target if path.is_dir() else target / path.name


def _set_title() -> None:
    try:
        import setproctitle

        setproctitle.setproctitle("collector: supervisor")
    except ImportError:
        pass
