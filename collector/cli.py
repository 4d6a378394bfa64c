"""`collector run|validate|fmt CONFIG` (reference C.1), `collector convert`, and the operator tools
`collector loadgen`, `collector sink`, `collector support` and `collector top`. The only place that
exits the process.

Every configuration problem prints the diagnostics with their source lines, then Alloy's
`Error: could not perform the initial load successfully`, and exits 1; no traceback reaches the
user, whatever fails.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TextIO

from collector import __version__
from collector.config.diag import DiagnosticError, Diagnostic, Sources, render

if TYPE_CHECKING:
    from collector.support.client import AdminClient

LOAD_FAILED = "Error: could not perform the initial load successfully"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="collector",
        description="A multiprocess OpenTelemetry collector that runs Grafana Alloy configurations.",
    )
    parser.add_argument("--version", action="version", version=f"collector v{__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = commands.add_parser("run", help="run the collector with a configuration file or directory")
    _add_configuration_arguments(run)
    run.add_argument("--server.http.listen-addr", dest="http_listen_addr", default=None,
                     metavar="ADDR", help="address of the HTTP server (UI, /metrics, /-/reload)")
    run.add_argument("--storage.path", dest="storage_path", default="data-collector", metavar="DIR",
                     help="where components keep their data (WAL, queues)")
    run.add_argument("--shutdown-timeout", dest="shutdown_timeout", default="30s", metavar="DURATION",
                     help="how long to drain buffered data on shutdown")

    validate = commands.add_parser("validate", help="load a configuration without running it")
    _add_configuration_arguments(validate)

    convert = commands.add_parser("convert", help="convert an OpenTelemetry Collector configuration to Alloy")
    convert.add_argument("config", metavar="CONFIG", nargs="?")
    convert.add_argument("--source-format", "-f", dest="source_format", choices=("otelcol",), default="otelcol",
                         help="format of the file to convert")
    convert.add_argument("--output", "-o", dest="output", default=None, metavar="FILE",
                         help="write the Alloy configuration here instead of stdout")

    fmt = commands.add_parser("fmt", help="print a configuration file in canonical form")
    fmt.add_argument("config", metavar="CONFIG", nargs="?")
    fmt.add_argument("--write", "-w", action="store_true", help="rewrite the file in place")
    _add_operator_tools(commands)
    return parser


def _add_configuration_arguments(command: argparse.ArgumentParser) -> None:
    """`run` and `validate` take the same configuration: CONFIG or --config.file, in either format."""
    command.add_argument("config", metavar="CONFIG", nargs="?")
    command.add_argument("--config.file", dest="config_file", default=None, metavar="PATH",
                         help="the configuration file or directory (the same as CONFIG, for service files)")
    command.add_argument("--config.format", dest="config_format", choices=("alloy", "otelcol"), default=None,
                         help="configuration format (default: otelcol for .yaml/.yml files, else alloy)")


def _add_operator_tools(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from collector.loadgen import options

    loadgen = commands.add_parser("loadgen", help="send OTLP load to a collector and report what it accepted",
                                  description=options.LOAD_DESCRIPTION)
    options.add_load_arguments(loadgen)
    counting_sink = commands.add_parser("sink", help="a counting OTLP/HTTP and remote-write backend for load tests",
                                        description=options.SINK_DESCRIPTION)
    options.add_sink_arguments(counting_sink)
    support = commands.add_parser("support", help="download a support bundle (zip) from a running collector")
    support.add_argument("--server.http.listen-addr", dest="http_listen_addr", default="127.0.0.1:12345",
                         metavar="ADDR", help="admin address of the running collector")
    support.add_argument("--duration", default="5s", metavar="DURATION",
                         help="how long the collector records logs and metrics for the bundle")
    support.add_argument("--output", "-o", dest="output", default=None, metavar="FILE",
                         help="where to write the zip (default: collector-support-<time>.zip)")
    _add_admin_connection_flags(support)
    top = commands.add_parser("top", help="a terminal view of a running collector (components, processes); q quits")
    top.add_argument("--server.http.listen-addr", dest="http_listen_addr", default="127.0.0.1:12345",
                     metavar="ADDR", help="admin address of the running collector")
    top.add_argument("--interval", default="1s", metavar="DURATION", help="time between refreshes")
    top.add_argument("--once", action="store_true", help="print one frame and exit (for scripts)")
    _add_admin_connection_flags(top)


def _add_admin_connection_flags(command: argparse.ArgumentParser) -> None:
    """How the operator tools reach an admin server that serves TLS or asks for basic auth (`http` block)."""
    command.add_argument("--url", default=None, metavar="URL",
                         help="base URL of the admin server instead of ADDR (e.g. https://host:12345)")
    command.add_argument("--username", default=None, help="basic-auth user of the admin server's http block")
    command.add_argument("--password-file", dest="password_file", default=None, metavar="FILE",
                         help="file holding the password (default: $COLLECTOR_SUPPORT_PASSWORD)")
    command.add_argument("--ca-file", dest="ca_file", default=None, metavar="FILE",
                         help="CA certificate that signed the admin server's TLS certificate")


def _admin_client(args: argparse.Namespace) -> AdminClient:
    from collector.support.client import AdminClient

    return AdminClient.from_flags(args.http_listen_addr, args.url, args.username, args.password_file, args.ca_file)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    if args.command in _TOOLS:
        try:
            return _TOOLS[args.command](args)
        except KeyboardInterrupt:
            return 130
    config_file = getattr(args, "config_file", None)
    if config_file is not None:
        if args.config is not None and args.config != config_file:
            print("Error: the configuration is given twice (CONFIG and --config.file); give one", file=sys.stderr)
            return 1
        args.config = config_file
    if not args.config:
        print("Error: path argument not provided", file=sys.stderr)
        return 1
    try:
        if args.command == "run":
            return _run(args)
        if args.command == "validate":
            return _validate(args.config, sys.stdout, args.config_format)
        if args.command == "convert":
            return _convert(args.config, args.output)
        return _fmt(args.config, write=args.write)
    except DiagnosticError as exc:
        _print_diagnostics(exc.diagnostics, exc.sources)
        return 1
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        print(f"Error: {exc.strerror or exc}: {exc.filename or args.config}", file=sys.stderr)
        print(LOAD_FAILED, file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - the CLI's promise: one line, never a traceback
        print(f"Error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


def _loadgen(args: argparse.Namespace) -> int:
    from collector.loadgen.generator import run_from_arguments

    return run_from_arguments(args)


def _sink(args: argparse.Namespace) -> int:
    from collector.loadgen.sink import serve

    return serve(args)


def _duration_flag(value: str, flag: str) -> float | None:
    """A DURATION flag's seconds, or None after printing why it is not one (the caller exits 1)."""
    from collector.config.units import parse_duration

    try:
        return parse_duration(value)
    except ValueError as exc:
        print(f"Error: {flag}: {exc}", file=sys.stderr)
        return None


def _support(args: argparse.Namespace) -> int:
    from collector.support.client import fetch_bundle

    duration = _duration_flag(args.duration, "--duration")
    if duration is None:
        return 1
    try:
        client = _admin_client(args)
        path = fetch_bundle(client, duration, args.output)
    except OSError as exc:
        print(f"Error: could not get a support bundle from {args.url or args.http_listen_addr}: {exc}",
              file=sys.stderr)
        return 1
    print(f"support bundle written to {path}", file=sys.stderr)
    return 0


def _top(args: argparse.Namespace) -> int:
    from collector.config.units import parse_duration
    from collector.top import run

    try:
        interval = parse_duration(args.interval)
    except ValueError as exc:
        print(f"Error: --interval: {exc}", file=sys.stderr)
        return 1
    try:
        admin = _admin_client(args)
    except OSError as exc:
        print(f"Error: --password-file: {exc}", file=sys.stderr)
        return 1
    return run(admin, interval=max(interval, 0.1), once=args.once)


_TOOLS = {"loadgen": _loadgen, "sink": _sink, "support": _support, "top": _top}


def entry() -> NoReturn:
    sys.exit(main())


def _print_diagnostics(diagnostics: Sequence[Diagnostic], sources: Sources) -> None:
    print(render(diagnostics, sources), file=sys.stderr)
    print(LOAD_FAILED, file=sys.stderr)


def _run(args: argparse.Namespace) -> int:
    shutdown_timeout = _duration_flag(args.shutdown_timeout, "--shutdown-timeout")
    if shutdown_timeout is None:
        return 1
    from collector.otelcolconfig import config_format
    from collector.runtime.supervisor import run

    fmt = config_format(args.config, args.config_format)
    listen = args.http_listen_addr
    if listen is None:
        listen = "127.0.0.1:12345"
        if fmt == "otelcol" and not Path(args.config).is_dir():
            from collector.otelcolconfig import convert_yaml

            admin = convert_yaml(args.config).conversion.admin_address
            if admin is not None:
                listen = admin[0]  # service.telemetry.metrics: the admin server serves /metrics
    extra = {"config_format": fmt} if fmt == "otelcol" else {}
    return run(
        pipeline_path=Path(args.config),
        **extra,
        http_listen_addr=listen,
        storage_path=Path(args.storage_path),
        shutdown_timeout=shutdown_timeout,
    )


def _validate(config: str, out: TextIO, config_format: str | None = None) -> int:
    from collector.pipeline.loader import load
    from collector.pipeline.summary import summary

    pipeline = load(config, config_format=config_format)
    if pipeline.warnings:
        print(render(pipeline.warnings, pipeline.sources), file=sys.stderr)
    out.write(summary(pipeline, config))
    return 0


def _convert(config: str, output: str | None) -> int:
    """Print (or write) the Alloy equivalent of an OpenTelemetry Collector YAML file, formatted as
    `collector fmt` does. Conversion notes (warnings) go to stderr; errors exit 1 and write nothing.
    The result is also loaded, so a value the components reject is reported here, in the YAML."""
    from collector.config.format import format_source
    from collector.otelcolconfig import convert_yaml, load_yaml_config
    from collector.pipeline.loader import DEFAULT_STORAGE_PATH

    converted = convert_yaml(config)
    pipeline = load_yaml_config(config, http_listen_addr="127.0.0.1:12345", storage_path=DEFAULT_STORAGE_PATH,
                                converted=converted)
    notes = list(pipeline.warnings)
    admin = converted.conversion.admin_address
    if admin is not None:
        from collector.config.diag import Diagnostic

        notes.append(Diagnostic.warning(admin[1], f"service.telemetry.metrics address: run the converted "
                                                  f"configuration with --server.http.listen-addr={admin[0]}"))
    check = converted.conversion.health_check
    if check is not None and check.span is not None:
        from collector.config.diag import Diagnostic

        notes.append(Diagnostic.warning(check.span, f"the health_check extension has no Alloy equivalent and is not "
                                                    f"in the converted file: probe the admin server's /-/healthy "
                                                    f"instead of {check.endpoint}{check.path}"))
    if notes:
        print(render(notes, converted.sources), file=sys.stderr)
    formatted = format_source(converted.conversion.alloy, converted.alloy_name)
    text = formatted if isinstance(formatted, bytes) else formatted.encode()
    if output:
        Path(output).write_bytes(text)
    else:
        sys.stdout.write(text.decode())
    return 0


def _fmt(config: str, *, write: bool) -> int:
    from collector.config.files import read_config
    from collector.config.format import format_source

    path = Path(config)
    if path.is_dir():
        print("Error: fmt takes a file, not a directory", file=sys.stderr)
        return 1
    sources = read_config(path)
    ((name, source),) = sources.items()
    formatted = format_source(source, name)
    text = formatted if isinstance(formatted, bytes) else formatted.encode()
    if write:
        if text != source:
            path.write_bytes(text)
        return 0
    sys.stdout.write(text.decode())
    return 0
