"""`otelcol.exporter.otlphttp`: POST OTLP Export requests to a backend (Loki `/otlp`, Tempo, ...).

The exporter only knows how to make one attempt (`_push`): the payload's bytes are already a
serialized Export request, so the body is `payload.data` compressed in C (or OTLP/JSON via
`collector.protocols.otlp_json` when `encoding = "json"`). Queueing, retries, timeouts and the
sent/failed accounting are the exporterhelper's (`ExportSender`).

Answers: any 2xx is success (Loki answers 204 with no body); a 200 with a `partial_success` is logged
and not retried; 429/502/503/504 and connection errors are retried (honouring `Retry-After`); every
other status is permanent and the batch is dropped and counted.

One `aiohttp.ClientSession` per component pools connections (at most `num_consumers` at once, one
per concurrent sender).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Final

import msgspec
from google.protobuf.message import DecodeError
from google.rpc import status_pb2

import collector
from collector.components.kit.api import ArgumentError, Placement
from collector.components.kit.exporterhelper.config import QueueArgs, RetryArgs
from collector.components.kit.exporterhelper.errors import PermanentError, RetryableError, http_error
from collector.components.kit.exporterhelper.exporter import QueuedExporter
from collector.components.kit.otelcol_client import HTTPClientArgs, compressor
from collector.components.kit.registry import register
from collector.components.kit.types import DebugMetrics
from collector.protocols.otlp_json import message_to_json
from collector.signals import Payload, Signal

if TYPE_CHECKING:  # aiohttp is imported where the session is opened: a process that only reads the
    import aiohttp  # configuration (a worker of another signal, the gRPC exporter's) stays without it

USER_AGENT: Final = f"collector/{collector.__version__}"
ERROR_BODY_LIMIT: Final = 64 * 1024
CONTENT_TYPES: Final = {"proto": "application/x-protobuf", "json": "application/json"}


class Arguments(msgspec.Struct, frozen=True, kw_only=True):
    client: HTTPClientArgs
    traces_endpoint: str = ""
    metrics_endpoint: str = ""
    logs_endpoint: str = ""
    encoding: str = "proto"
    sending_queue: QueueArgs = msgspec.field(default_factory=QueueArgs)
    retry_on_failure: RetryArgs = msgspec.field(default_factory=RetryArgs)
    debug_metrics: DebugMetrics | None = None

    def validate(self) -> None:
        if not (self.client.endpoint or self.traces_endpoint or self.metrics_endpoint or self.logs_endpoint):
            raise ArgumentError("at least one endpoint must be specified", "client.endpoint")
        if self.encoding not in ("proto", "json"):
            raise ArgumentError(f"invalid encoding {self.encoding!r}: must be proto or json", "encoding")
        self.client.validate()
        self.sending_queue.validate()
        self.retry_on_failure.validate()

    def signal_url(self, signal: Signal) -> str:
        """Upstream `composeSignalURL`: a signal endpoint verbatim, else endpoint + "/v1/<signal>"."""
        explicit = getattr(self, f"{signal.value}_endpoint")
        if explicit:
            return str(explicit)
        endpoint = self.client.endpoint
        if not endpoint:
            return ""
        path = signal.spec.http_path  # "/v1/traces"
        return endpoint + path[1:] if endpoint.endswith("/") else endpoint + path


def partial_success_message(signal: Signal, body: bytes, content_type: str) -> str | None:
    """A warning for a 2xx body that reports rejected items, or None when it reports nothing."""
    if not body:
        return None
    response = signal.spec.response_class()
    try:
        if content_type.startswith("application/json"):
            from collector.protocols.otlp_json import json_to_message

            json_to_message(body, response)
        else:
            response.ParseFromString(body)
    except (DecodeError, ValueError):
        return None
    if not response.HasField("partial_success"):
        return None
    partial = response.partial_success  # type: ignore[attr-defined]
    rejected = getattr(partial, signal.spec.rejected_field)
    if not rejected and not partial.error_message:
        return None
    return f"{rejected} {signal.spec.items} rejected: {partial.error_message}"


def error_excerpt(body: bytes, content_type: str) -> str:
    """The message of a `google.rpc.Status` body, or the start of a text body."""
    if content_type.startswith("application/x-protobuf"):
        status = status_pb2.Status()
        try:
            status.ParseFromString(body)
            return status.message
        except DecodeError:
            pass
    return body[:512].decode("utf-8", "replace").strip()


@register("otelcol.exporter.otlphttp", arguments=Arguments, accepts=tuple(Signal), placement=Placement.WORKER)
class OTLPHTTPExporter(QueuedExporter[Arguments, "aiohttp.ClientSession"]):
    _client_error: type[aiohttp.ClientError]

    def _configure(self, args: Arguments) -> None:
        client = args.client
        self._urls = {signal: args.signal_url(signal) for signal in Signal}
        level = client.compression_params.level if client.compression_params else 0
        encoding, self._compress = compressor(client.compression, level)
        headers = {"User-Agent": USER_AGENT, **client.headers, "Content-Type": CONTENT_TYPES[args.encoding]}
        if encoding:
            headers["Content-Encoding"] = encoding
        self._headers = headers
        self._json = args.encoding == "json"

    def _export_timeout(self, args: Arguments) -> float:
        return args.client.timeout

    def _connect(self, args: Arguments) -> aiohttp.ClientSession:
        import aiohttp

        self._client_error = aiohttp.ClientError
        client = args.client
        needs_tls = any(url.startswith("https://") for url in self._urls.values())
        limit = args.sending_queue.num_consumers if args.sending_queue.enabled else 0
        connector = aiohttp.TCPConnector(
            limit=limit, ssl=client.tls.ssl_context() if needs_tls else False,
            keepalive_timeout=client.idle_conn_timeout if not client.disable_keep_alives else None,
            force_close=client.disable_keep_alives,
        )
        return aiohttp.ClientSession(connector=connector, auto_decompress=True, skip_auto_headers=("User-Agent",))

    async def _push(self, payload: Payload) -> None:
        signal = payload.signal
        url = self._urls[signal]
        if not url:
            raise PermanentError(f"no endpoint configured for {signal.value}")
        body = message_to_json(payload.message) if self._json else payload.data
        if self._compress is not None:
            body = self._compress(body)
        headers = self._headers
        auth = self.args.client.auth
        if auth is not None:  # per request: from_context headers come from this batch's metadata
            headers = dict(headers)
            auth.apply(headers, payload.metadata)
        assert self._connection is not None, "exporter used before start()"
        try:
            async with self._connection.post(url, data=body, headers=headers,
                                             proxy=self.args.client.proxy_url or None,
                                             server_hostname=self.args.client.tls.server_name or None) as response:
                content_type = response.headers.get("Content-Type", "")
                if 200 <= response.status < 300:
                    if response.content_length != 0:
                        warning = partial_success_message(signal, await response.content.read(ERROR_BODY_LIMIT),
                                                          content_type)
                        if warning:
                            self._log_partial(warning)
                    return
                excerpt = error_excerpt(await response.content.read(ERROR_BODY_LIMIT), content_type)
                raise http_error(response.status, response.headers, excerpt, time.time())
        except self._client_error as error:
            raise RetryableError(f"{type(error).__name__}: {error} ({url})") from error
        except OSError as error:
            raise RetryableError(f"{error} ({url})") from error
