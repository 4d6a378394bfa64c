"""An aiohttp application served from its own event loop in a daemon thread.

The backend doubles (`OtlpSink`, `RemoteWriteSink`) are asyncio applications, while the tests and
the bench that drive them are synchronous; this runner owns the loop, binds the port (0 picks a
free one, read back after binding) and tears both down on `stop`, so every double has the same
start/stop contract.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Self

from aiohttp import web


class ServerThread:
    def __init__(self, app: web.Application, host: str = "127.0.0.1", port: int = 0, *, name: str,
                 path: str = "") -> None:
        self.app = app
        self.host = host
        self.port = port
        self._path = path
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True, name=name)
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}{self._path}"

    def start(self) -> Self:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)
        return self

    async def _start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=10)
            self._runner = None
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        self._loop.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
