"""The supervisor's side of the fork server (collector/runtime/forkserver.py): start it, ask it for
children, and learn how they end.

A forked child is the fork server's child, not the supervisor's, so the supervisor cannot wait for it;
the server reports each exit instead, and `ForkedProcess` turns that report into what the supervisor
expects of any child (`pid`, `returncode`, `stdin`, `wait`, `send_signal`, `kill`).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import signal as signals
import socket
import sys
from typing import Any

from collector.runtime.control import CommandPipe

log = logging.getLogger(__name__)

START_TIMEOUT = 60.0  # the preload imports the configuration's components: seconds on a slow host


class ForkServerError(RuntimeError):
    pass


class ForkedProcess:
    def __init__(self, pid: int, stdin: CommandPipe) -> None:
        self.pid = pid
        self.stdin = stdin
        self.returncode: int | None = None
        self._exited = asyncio.get_running_loop().create_future()

    def set_exited(self, code: int) -> None:
        if self.returncode is None:
            self.returncode = code
            self.stdin.close()
            self._exited.set_result(code)

    async def wait(self) -> int:
        return await asyncio.shield(self._exited)

    def send_signal(self, sig: int) -> None:
        if self.returncode is None:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass  # exited; its report is on the way

    def kill(self) -> None:
        self.send_signal(signals.SIGKILL)


class ForkServer:
    """One fork server for the supervisor's life; restarted on demand if it dies."""

    def __init__(self, preload_config: str, env: dict[str, str],
                 early: tuple[socket.socket, int] | None = None) -> None:
        """`early`: the server `forkserver.fork_early` forked from this process before its loop started."""
        self.preload_config = preload_config
        self.env = env  # the server's: `PROMETHEUS_MULTIPROC_DIR` must be set before it imports prometheus_client
        self.early = early
        self.sock: socket.socket | None = None
        self.process: asyncio.subprocess.Process | None = None
        self.server_pid = 0
        self.children: dict[int, ForkedProcess] = {}
        self.pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.ids = itertools.count(1)
        self.ready: asyncio.Future[int] | None = None
        self._starting: asyncio.Future[None] | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        preload_config: str | None = self.preload_config
        if self.early is not None:
            ours, self.server_pid = self.early
            self.early = None
            preload_config = None  # forked after the supervisor loaded it: its modules are there already
        else:
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            try:
                self.process = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "collector.runtime.forkserver", str(theirs.fileno()), str(os.getpid()),
                    pass_fds=[theirs.fileno()], env=self.env, stdin=asyncio.subprocess.DEVNULL,
                    start_new_session=True,
                )
            finally:
                theirs.close()
            self.server_pid = self.process.pid
        ours.setblocking(False)
        self.ready = loop.create_future()
        self.sock = ours
        ours.send(json.dumps({"env": self.env, "config": preload_config}).encode())
        loop.add_reader(ours.fileno(), self._on_readable)
        try:
            ready = await asyncio.wait_for(asyncio.shield(self.ready), START_TIMEOUT)
        except asyncio.TimeoutError:
            self._lost("did not start in time")
            raise ForkServerError(f"the fork server did not start within {START_TIMEOUT:.0f}s") from None
        if ready == 0:
            raise ForkServerError("the fork server exited while starting")
        log.info("fork server ready (pid %d)", self.server_pid)

    @property
    def alive(self) -> bool:
        return self.sock is not None

    async def spawn(self, argv: list[str], fds: dict[int, int], env: dict[str, str], title: str) -> ForkedProcess:
        """Fork a child running `collector.runtime.child.main(argv)` with `fds` (target number -> our fd)
        installed. The child's standard input is a command pipe, as with `subprocess`'s PIPE."""
        if not self.alive:
            if self._starting is None:  # children restarting together share one new server
                self._starting = asyncio.ensure_future(self.start())
            starting = self._starting
            try:
                await asyncio.shield(starting)
            finally:
                if self._starting is starting and starting.done():
                    self._starting = None
        assert self.sock is not None
        stdin_read, stdin_write = os.pipe()
        targets = {0: stdin_read, **fds}
        request_id = next(self.ids)
        reply: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.pending[request_id] = reply
        message = json.dumps({"id": request_id, "argv": argv, "env": env, "fds": list(targets)}).encode()
        try:
            socket.send_fds(self.sock, [message], list(targets.values()))
            answer = await reply
        except BaseException:
            os.close(stdin_write)
            raise
        finally:
            os.close(stdin_read)
            self.pending.pop(request_id, None)
        if "pid" not in answer:
            os.close(stdin_write)
            raise ForkServerError(f"the fork server could not start {title}: {answer.get('error', 'no answer')}")
        child = ForkedProcess(int(answer["pid"]), CommandPipe(stdin_write, title))
        self.children[child.pid] = child
        return child

    def _on_readable(self) -> None:
        assert self.sock is not None
        try:
            data = self.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._lost("exited")
            return
        message = json.loads(data)
        if "ready" in message and self.ready is not None and not self.ready.done():
            self.ready.set_result(int(message["ready"]))
        elif "exited" in message:
            child = self.children.pop(int(message["exited"]), None)
            if child is not None:
                child.set_exited(int(message["code"]))
        elif "id" in message:
            reply = self.pending.get(int(message["id"]))
            if reply is not None and not reply.done():
                reply.set_result(message)

    def _lost(self, why: str) -> None:
        """The server is gone (or unusable): its children died with it (PR_SET_PDEATHSIG), so each is
        reported as killed; the next spawn starts a new server."""
        if self.sock is not None:
            asyncio.get_running_loop().remove_reader(self.sock.fileno())
            self.sock.close()
            self.sock = None
        self._stop_server(signals.SIGKILL)
        if self.children:
            log.error("fork server (pid %d) %s; its %d children died with it", self.server_pid, why, len(self.children))
        for child in self.children.values():
            child.send_signal(signals.SIGKILL)  # in case PR_SET_PDEATHSIG is not available
            child.set_exited(-signals.SIGKILL)
        self.children.clear()
        for reply in self.pending.values():
            if not reply.done():
                reply.set_result({"error": f"the fork server {why}"})
        if self.ready is not None and not self.ready.done():
            self.ready.set_result(0)

    async def close(self) -> None:
        """After the children have stopped: closing our end tells the server to exit."""
        if self.sock is not None:
            asyncio.get_running_loop().remove_reader(self.sock.fileno())
            self.sock.close()
            self.sock = None
        if self.process is not None:
            try:
                await asyncio.wait_for(self.process.wait(), 5.0)
            except asyncio.TimeoutError:
                self.process.kill()
                await self.process.wait()
        elif self.server_pid:  # forked early: our child, but not one asyncio watches
            for _ in range(50):
                if self._reap_early():
                    return
                await asyncio.sleep(0.1)
            self._stop_server(signals.SIGKILL)

    def _stop_server(self, sig: int) -> None:
        if self.process is not None:
            if self.process.returncode is None:
                self.process.send_signal(sig)
        elif self.server_pid and not self._reap_early():
            try:
                os.kill(self.server_pid, sig)
            except ProcessLookupError:
                pass
            _reap_later(self.server_pid)

    def _reap_early(self) -> bool:
        return _reaped(self.server_pid)


def _reaped(pid: int) -> bool:
    """Collect an early-forked server's exit status; True once it is gone."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return done != 0


def _reap_later(pid: int, delay: float = 0.1) -> None:
    """An early-forked server is our child but not one asyncio watches: collect it once it has died,
    so it does not stay a zombie."""
    if not _reaped(pid):
        asyncio.get_running_loop().call_later(delay, _reap_later, pid, min(delay * 2, 5.0))
