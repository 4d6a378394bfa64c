"""Alloy configuration text for tests and benches.

Most of them run the same pipeline, `otelcol.receiver.otlp "in"` -> `otelcol.processor.batch "b"`
-> `otelcol.exporter.otlphttp "out"` (a sink), and differ only in ports, signals and a few lines;
built here, each caller states just what it changes and the text stays the one a user would write.
The pieces are separate so that a caller with another exporter (or another component between)
still gets the same receiver and batch processor.

`*_attributes` arguments map an attribute name to an Alloy expression written as is (so a string
value carries its quotes: `{"include_metadata": "true", "auth": "otelcol.auth.basic.s.handler"}`).
"""

from __future__ import annotations

from typing import Final, Mapping, Sequence

TRACES: Final = ("traces",)

#: `retry_on_failure` that retries soon (tests must not wait the defaults' 5 s to 30 s).
FAST_RETRY: Final[Mapping[str, str]] = {"initial_interval": "50ms", "max_interval": "200ms"}


def attribute_lines(attributes: Mapping[str, str], indent: str) -> str:
    """`name = value` lines with the `=` aligned, as `collector fmt` writes them."""
    width = max((len(name) for name in attributes), default=0)
    return "".join(f"{indent}{name:<{width}} = {value}\n" for name, value in attributes.items())


def _routes(signals: Sequence[str], to: str) -> str:
    return attribute_lines({signal: f"[{to}.input]" for signal in signals}, "    ")


def otlp_receiver(*, to: str, signals: Sequence[str] = TRACES, grpc_port: int | None = None,
                  http_port: int | None = None, server_attributes: Mapping[str, str] | None = None) -> str:
    """`otelcol.receiver.otlp "in"` on 127.0.0.1, with a gRPC server for `grpc_port` and an HTTP one for
    `http_port` (each given port, one server), `server_attributes` in both, `signals` sent `to` a
    component (its reference without `.input`)."""
    servers = ""
    for protocol, port in (("grpc", grpc_port), ("http", http_port)):
        if port is not None:
            attributes = {"endpoint": f'"127.0.0.1:{port}"', **(server_attributes or {})}
            servers += f"  {protocol} {{\n{attribute_lines(attributes, '    ')}  }}\n"
    return f"""
otelcol.receiver.otlp "in" {{
{servers}  output {{
{_routes(signals, to)}  }}
}}
"""


def batch_processor(*, to: str, signals: Sequence[str] = TRACES, timeout: str | None = "50ms",
                    size: int | None = None) -> str:
    """`otelcol.processor.batch "b"` sending `signals` `to` a component; `timeout` None keeps the default
    (200ms), which benches measure with; tests use 50ms so that a few spans arrive without waiting.
    `size` sets both `send_batch_size` and `send_batch_max_size`: a batch is sent as soon as it holds
    that many items and never holds more, however the items arrive."""
    settings = f'  timeout = "{timeout}"\n' if timeout is not None else ""
    if size is not None:
        settings += f"  send_batch_size = {size}\n  send_batch_max_size = {size}\n"
    return f"""
otelcol.processor.batch "b" {{
{settings}  output {{
{_routes(signals, to)}  }}
}}
"""


def otlphttp_exporter(*, sink_url: str, name: str = "out", client_attributes: Mapping[str, str] | None = None,
                      retry: Mapping[str, str] | None = None, extra: str = "") -> str:
    """`otelcol.exporter.otlphttp "<name>"` to `sink_url`, with `client_attributes` (such as `auth`) in
    its `client` block; `retry` the `retry_on_failure` durations (none: the block is left out); `extra`
    lines (blocks such as `sending_queue`) go inside, as written."""
    client = attribute_lines({"endpoint": f'"{sink_url}"', **(client_attributes or {})}, "    ")
    retry_block = ""
    if retry:
        quoted = {key: f'"{value}"' for key, value in retry.items()}
        retry_block = f"  retry_on_failure {{\n{attribute_lines(quoted, '    ')}  }}\n"
    return f"""
otelcol.exporter.otlphttp "{name}" {{
  client {{
{client}  }}
{extra}{retry_block}}}
"""


def otlp_pipeline(*, sink_url: str, signals: Sequence[str] = TRACES, grpc_port: int | None = None,
                  http_port: int | None = None, server_attributes: Mapping[str, str] | None = None,
                  batch_timeout: str | None = "50ms", batch_size: int | None = None,
                  retry: Mapping[str, str] | None = None, exporter_extra: str = "") -> str:
    """The whole pipeline: OTLP in (see `otlp_receiver`), batch, OTLP/HTTP out to `sink_url` (see
    `otlphttp_exporter`)."""
    return (otlp_receiver(to="otelcol.processor.batch.b", signals=signals, grpc_port=grpc_port,
                          http_port=http_port, server_attributes=server_attributes)
            + batch_processor(to="otelcol.exporter.otlphttp.out", signals=signals, timeout=batch_timeout,
                              size=batch_size)
            + otlphttp_exporter(sink_url=sink_url, retry=retry, extra=exporter_extra))
