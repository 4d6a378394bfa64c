"""Process-wide logging as Alloy's `logging { level, format }` block asks: logfmt or JSON lines on
stderr, the process role on every line, in the supervisor and in every child.

Every process also keeps its recent lines in `<run dir>/logs/<role>.log` (one small rotating file per
process), so the support bundle can include what each process said lately without the supervisor
having to sit in the middle of its children's stderr (which stays the service manager's: journald
or a terminal receives every line directly).
"""

from __future__ import annotations

import logging
import logging.handlers
import re
import sys
import time
from pathlib import Path

from collector.selfmetrics.parts import PART

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING, "error": logging.ERROR}
FORMATS = ("logfmt", "json")
RECENT_LOG_BYTES = 1 << 20  # per process; one rotated file is kept beside it
LOG_DIR_NAME = "logs"


def _quote(value: str) -> str:
    if value and all(c.isalnum() or c in "._-/:" for c in value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _timestamp(record: logging.LogRecord) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"


def _message(record: logging.LogRecord) -> str:
    """The message with credentials in URLs hidden (`collector/config/redact.py`): a log line may
    quote a remote-write URL with a password or a `?token=`."""
    from collector.config.redact import redact_text

    return redact_text(record.getMessage())


def _level(record: logging.LogRecord) -> str:
    """Alloy's level names: `warn`, not Python's `warning`; `critical` is reported as `error`."""
    return {"WARNING": "warn", "CRITICAL": "error"}.get(record.levelname, record.levelname.lower())


class LogfmtFormatter(logging.Formatter):
    def __init__(self, process_role: str) -> None:
        super().__init__()
        self.process_role = process_role

    def role(self) -> str:
        """The process's role; in the small-host mode, the pipeline part (`worker traces/0`, ...) whose
        task logs, so the lines read as they do with one process per part."""
        return PART.get() or self.process_role

    def format(self, record: logging.LogRecord) -> str:
        parts = [f"ts={_timestamp(record)}", f"level={_level(record)}", f"msg={_quote(_message(record))}",
                 f"proc={_quote(self.role())}"]
        if record.name.startswith("component."):
            parts.append(f"component_id={_quote(record.name[len('component.'):])}")
        if record.exc_info:
            parts.append(f"err={_quote(_redacted_exception(self, record))}")
        return " ".join(parts)


class JsonFormatter(LogfmtFormatter):
    def format(self, record: logging.LogRecord) -> str:
        import orjson

        doc = {"ts": _timestamp(record), "level": _level(record), "msg": _message(record),
               "proc": self.role()}
        if record.name.startswith("component."):
            doc["component_id"] = record.name[len("component."):]
        if record.exc_info:
            doc["err"] = _redacted_exception(self, record)
        return orjson.dumps(doc).decode()


def _redacted_exception(formatter: logging.Formatter, record: logging.LogRecord) -> str:
    from collector.config.redact import redact_text

    assert record.exc_info is not None
    return redact_text(formatter.formatException(record.exc_info))


def formatter(process_role: str, fmt: str) -> logging.Formatter:
    return JsonFormatter(process_role) if fmt == "json" else LogfmtFormatter(process_role)


def configure(process_role: str, level: str = "info", fmt: str = "logfmt") -> None:
    """Log to stderr only (replacing any handler), at `level`, in `fmt` (logfmt or json)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(process_role, fmt))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(LEVELS.get(level, logging.INFO))
    # Python's own warnings (deprecations in libraries) become log lines in the same format.
    logging.captureWarnings(True)


def recent_log_file(run_dir: Path, process_role: str) -> Path:
    """Where a process keeps its recent lines: `worker traces/0` -> `<run dir>/logs/worker-traces-0.log`."""
    return run_dir / LOG_DIR_NAME / (re.sub(r"[^A-Za-z0-9_.-]+", "-", process_role).strip("-") + ".log")


def keep_recent(run_dir: Path, process_role: str) -> None:
    """Also write this process's lines to its bounded file in the run directory (see the module doc).
    Called once the run directory exists; a failure to open it only costs the bundle those lines."""
    path = recent_log_file(run_dir, process_role)
    try:
        path.parent.mkdir(exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(path, maxBytes=RECENT_LOG_BYTES, backupCount=1,
                                                       encoding="utf-8")
    except OSError as exc:
        logging.getLogger(__name__).warning("recent logs are not kept for the support bundle: %s", exc)
        return
    root = logging.getLogger()
    current = root.handlers[0].formatter if root.handlers else None
    handler.setFormatter(current or formatter(process_role, "logfmt"))
    root.addHandler(handler)


def reconfigure(level: str, fmt: str) -> None:
    """Apply a reloaded `logging` block to every handler of this process (stderr and the recent file)."""
    root = logging.getLogger()
    root.setLevel(LEVELS.get(level, logging.INFO))
    for handler in root.handlers:
        current = handler.formatter
        if isinstance(current, LogfmtFormatter):
            handler.setFormatter(formatter(current.process_role, fmt))


def read_recent(run_dir: Path) -> dict[str, bytes]:
    """Every process's recent lines, oldest first: file name (`supervisor.log`, ...) -> content."""
    directory = run_dir / LOG_DIR_NAME
    recent: dict[str, bytes] = {}
    if not directory.is_dir():
        return recent
    for path in sorted(directory.glob("*.log")):
        try:
            rotated = path.with_name(path.name + ".1")
            recent[path.name] = (rotated.read_bytes() if rotated.exists() else b"") + path.read_bytes()
        except OSError:
            continue
    return recent
