"""Malformed requests are the client's fault, not ours: count them, log them quietly.

aiohttp answers a request it cannot parse (bad request line, bad header, broken chunking) with 400
and logs it through its server logger with `logger.exception`: ERROR plus a traceback, 600-1,200
bytes per request, so one client sending garbage writes about a megabyte of log a second.
`ClientErrorLog` is the logger the shell hands to aiohttp instead. A client error (an
`HttpProcessingError` with a 4xx status) is counted, logged at DEBUG as one line without traceback,
and summarised at WARNING at most once per `interval` ("N malformed requests in the last 60s, last
from ...: ..."); anything else (a bug in our handler) still goes to the real logger with its
traceback.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable

from aiohttp.http_exceptions import HttpProcessingError

__all__ = ["ClientErrorLog", "RateLimit"]


class RateLimit:
    """Lets one event through per `interval` seconds and counts the ones it held back."""

    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self._clock = clock
        self._next = 0.0
        self.suppressed = 0

    def allow(self) -> tuple[bool, int]:
        """(may log now, events held back since the last one allowed)."""
        now = self._clock()
        if now < self._next:
            self.suppressed += 1
            return False, 0
        self._next = now + self.interval
        held, self.suppressed = self.suppressed, 0
        return True, held


def _summary(exc: BaseException) -> str:
    """First line of the parser's message, without the echoed request bytes and caret."""
    if isinstance(exc, HttpProcessingError):
        text = (exc.message or "").strip().splitlines()
        return f"{exc.code} {text[0].strip() if text else type(exc).__name__}"
    return type(exc).__name__


def _exception_of(exc_info: Any) -> BaseException | None:
    if isinstance(exc_info, BaseException):
        return exc_info
    if isinstance(exc_info, tuple) and len(exc_info) == 3 and isinstance(exc_info[1], BaseException):
        return exc_info[1]
    return None


class ClientErrorLog(logging.LoggerAdapter):
    """The `logger` of aiohttp's request handler; see the module docstring."""

    def __init__(self, logger: logging.Logger, on_client_error: Callable[[str], None],
                 interval: float = 60.0) -> None:
        super().__init__(logger, {})
        self._on_client_error = on_client_error
        self._limit = RateLimit(interval)

    def _client_error(self, exc: BaseException | None) -> bool:
        return isinstance(exc, HttpProcessingError) and 400 <= (exc.code or 400) < 500

    def _report(self, msg: Any, args: tuple[Any, ...], exc: BaseException) -> None:
        self._on_client_error("bad_http_request")
        summary = _summary(exc)
        where = (msg % args) if args else str(msg)
        self.logger.debug("%s: %s", where, summary)
        allowed, held = self._limit.allow()
        if allowed:
            more = f" ({held} more since the last warning)" if held else ""
            self.logger.warning("refused a malformed HTTP request%s; last: %s: %s (further ones within %gs are "
                                "counted in otelcol_receiver_refused_requests and logged at debug)",
                                more, where, summary, self._limit.interval)

    def exception(self, msg: Any, *args: Any, exc_info: Any = True, **kwargs: Any) -> None:
        exc = _exception_of(exc_info)
        if self._client_error(exc):
            assert exc is not None
            self._report(msg, args, exc)
            return
        self.logger.error(msg, *args, exc_info=exc_info, **kwargs)

    def debug(self, msg: Any, *args: Any, exc_info: Any = None, **kwargs: Any) -> None:
        exc = _exception_of(exc_info)
        if self._client_error(exc):  # aiohttp logs a first-request bad method (not HTTP at all) here
            assert exc is not None
            self._report(msg, args, exc)
            return
        self.logger.debug(msg, *args, exc_info=exc_info, **kwargs)
