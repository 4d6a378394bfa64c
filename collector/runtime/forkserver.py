"""The fork server: one process that imports what every child runs, then forks the children from itself.

Why: a fresh interpreter per child pays for its own copy of every imported module (code objects,
classes, the protobuf descriptors, asyncio, aiohttp: about 20-25 MiB of private memory each). Forked
from one process that imported them once and moved them into the collector's permanent generation
(`gc.freeze`, so no collection writes their headers), the children share those pages copy-on-write:
measured here, four children of the fork server hold 65 MiB PSS together, server included, against
136 MiB as four fresh interpreters. A forked child also starts without importing anything.

Where it comes from: a process may only fork safely while it has one thread, and the running
supervisor has several (the event loop's executor, the admin server's resolver). So the supervisor
forks the fork server early (`fork_early`), before its event loop starts, with the configuration
already loaded: the supervisor's own modules are then shared too. If the server dies later, the
supervisor starts a new one as a fresh interpreter (`python -m collector.runtime.forkserver`). The
server never starts a thread, an event loop or grpc (grpc's threads do not survive a fork; the
components that use grpc import it in the child that runs them).

Protocol, over a SOCK_SEQPACKET socket pair (one message per datagram, fds by SCM_RIGHTS):
- supervisor -> server, first, `{"env": {...}, "config": path}`: the children's environment (the
  run directory's `PROMETHEUS_MULTIPROC_DIR` only exists once the instance is claimed, after an early
  fork) and the configuration whose components to import;
- server -> supervisor `{"ready": pid}` once the preload is done;
- supervisor -> server `{"id": n, "argv": [...], "env": {...}, "fds": [target, ...]}` with the fds to
  install at those numbers in the child (stdin as 0, the status pipe, doorbells); the server answers
  `{"id": n, "pid": pid}` (or `{"id": n, "error": "..."}`);
- server -> supervisor `{"exited": pid, "code": returncode}` when a child ends (a negative code is
  the signal that killed it, as `subprocess` reports it).

Lifetime: the server dies with the supervisor (PR_SET_PDEATHSIG), and its children die with it in turn,
so a SIGKILLed supervisor still takes the whole tree down at once. If the server dies on its own, the
supervisor counts its children as killed, and starts a new server for the next spawn.
"""

from __future__ import annotations

import gc
import importlib
import json
import os
import selectors
import signal
import socket
import sys
from typing import Any

# Modules every child imports whatever its configuration; the configuration's own component modules
# are added by loading it (`collector.pipeline.loader.load` imports each component it names). Never
# grpc: see the module docstring.
PRELOAD: tuple[str, ...] = (
    "collector.runtime.child",
    "collector.runtime.worker",
    "collector.runtime.receiver",
    "collector.runtime.acks",
    "collector.runtime.livedebug",
    "collector.transport.http_server",
    "aiohttp",
    "uvloop",
    "prometheus_client",
)
MAX_MESSAGE = 1 << 20
MAX_FDS = 64


def preload(env: dict[str, str], config_path: str | None) -> None:
    os.environ.clear()
    os.environ.update(env)
    from prometheus_client import values

    # prometheus_client picks its value class when imported; an early fork inherits the supervisor's
    # (in-process values), and children must write the multiprocess files `PROMETHEUS_MULTIPROC_DIR`
    # names. Metric values are created with `values.ValueClass` when a label set is first used, and
    # every self-metric has labels, so none was created with the supervisor's class.
    values.ValueClass = values.get_value_class()
    for name in PRELOAD:
        importlib.import_module(name)
    if config_path:
        from collector.pipeline.loader import load

        try:
            load(config_path)
        except Exception:  # the supervisor validated it; a failure here only means less is shared
            pass
    gc.collect()
    gc.freeze()


def install_fds(received: list[int], targets: list[int]) -> None:
    """Put each received fd at its target number, inheritable, and close the originals. All are first
    moved above every target, so installing one cannot overwrite another not yet installed."""
    floor = max([*targets, *received, 2]) + 1
    parked = [_dup_above(fd, floor) for fd in received]
    for fd in received:
        os.close(fd)
    for fd, target in zip(parked, targets):
        os.dup2(fd, target, inheritable=True)
        os.close(fd)


def _dup_above(fd: int, floor: int) -> int:
    import fcntl

    return fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, floor)


class _Server:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.pid = os.getpid()
        self.children: set[int] = set()
        self.wake_read, self.wake_write = os.pipe()
        os.set_blocking(self.wake_read, False)
        os.set_blocking(self.wake_write, False)
        self.selector = selectors.DefaultSelector()

    def serve(self) -> None:
        signal.set_wakeup_fd(self.wake_write)
        signal.signal(signal.SIGCHLD, lambda *_: None)  # a handler, so the wakeup fd is written
        self.send({"ready": os.getpid()})
        selector = self.selector
        selector.register(self.sock, selectors.EVENT_READ)
        selector.register(self.wake_read, selectors.EVENT_READ)
        while True:
            for key, _ in selector.select():
                if key.fileobj is self.wake_read:
                    self.drain_wakeups()
                elif not self.handle_request():
                    return  # the supervisor closed its end: it is stopping
            self.reap()

    def drain_wakeups(self) -> None:
        try:
            while os.read(self.wake_read, 4096):
                pass
        except BlockingIOError:
            pass

    def reap(self) -> None:
        for pid in list(self.children):
            try:
                done, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                self.children.discard(pid)
                continue
            if done:
                self.children.discard(pid)
                self.send({"exited": pid, "code": os.waitstatus_to_exitcode(status)})  # as `subprocess`

    def handle_request(self) -> bool:
        try:
            data, fds, _flags, _addr = socket.recv_fds(self.sock, MAX_MESSAGE, MAX_FDS)
        except InterruptedError:
            return True
        if not data:
            for fd in fds:
                os.close(fd)
            return False
        request = json.loads(data)
        try:
            pid = os.fork()
        except OSError as exc:
            for fd in fds:
                os.close(fd)
            self.send({"id": request["id"], "error": str(exc)})
            return True
        if pid == 0:
            self.become_child(request, fds)  # never returns
        for fd in fds:
            os.close(fd)
        self.children.add(pid)
        self.send({"id": request["id"], "pid": pid})
        return True

    def become_child(self, request: dict[str, Any], fds: list[int]) -> None:
        code = 1
        try:
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # as in a fresh interpreter
            signal.signal(signal.SIGINT, signal.default_int_handler)
            self.selector.close()
            self.sock.close()
            os.close(self.wake_read)
            os.close(self.wake_write)
            os.setsid()  # as `start_new_session`: a terminal's Ctrl-C reaches only the supervisor
            install_fds(fds, request["fds"])
            os.environ.clear()
            os.environ.update(request["env"])
            sys.argv = list(request["argv"])
            from collector.runtime.child import main

            code = main(sys.argv, parent_pid=self.pid)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            import traceback

            traceback.print_exc()
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code)

    def send(self, message: dict[str, Any]) -> None:
        self.sock.send(json.dumps(message).encode())


def run_server(sock: socket.socket, supervisor_pid: int) -> None:
    from collector.runtime.child import die_with_parent, set_title

    die_with_parent(supervisor_pid)
    set_title("fork server")
    try:
        os.setsid()  # a terminal's Ctrl-C reaches only the supervisor, which orders every stop
    except PermissionError:
        pass  # started as a fresh interpreter in a session of its own already
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    data = sock.recv(MAX_MESSAGE)
    if not data:
        return  # the supervisor stopped before it needed children
    setup = json.loads(data)
    preload(setup["env"], setup.get("config"))
    _Server(sock).serve()


def fork_early() -> tuple[socket.socket, int] | None:
    """Fork the fork server from the supervisor while the supervisor still has one thread; returns
    the supervisor's end of the socket and the server's pid, or None where a fork is not safe."""
    import threading

    # Imported here, before the fork, what both sides use (aiohttp: the admin server and the
    # receivers' and exporters' HTTP): pages the supervisor and the fork server would otherwise each
    # hold a copy of are then held once, by all.
    for name in PRELOAD:
        importlib.import_module(name)
    if threading.active_count() != 1 or not hasattr(os, "fork"):
        return None
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    supervisor_pid = os.getpid()
    # Out of the collector's reach before the fork, in both processes: a later full collection in the
    # supervisor would otherwise write every object's header, and so copy every page it shares.
    gc.collect()
    gc.freeze()
    sys.stdout.flush()  # else both processes would write what is buffered
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            ours.close()
            run_server(theirs, supervisor_pid)
        except BaseException:
            import traceback

            traceback.print_exc()
            code = 1
        finally:
            os._exit(code)
    theirs.close()
    return ours, pid


def main(argv: list[str]) -> int:
    """`python -m collector.runtime.forkserver <socket fd> <supervisor pid>`: a fork server started
    as a fresh interpreter, when the first one died."""
    run_server(socket.socket(fileno=int(argv[1])), int(argv[2]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
