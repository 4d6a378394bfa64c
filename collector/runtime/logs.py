"""Process-wide logging in Alloy's logfmt shape, with the process role on every line."""

from __future__ import annotations

import logging
import sys
import time

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING, "error": logging.ERROR}


def _quote(value: str) -> str:
    if value and all(c.isalnum() or c in "._-/:" for c in value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


class LogfmtFormatter(logging.Formatter):
    def __init__(self, process_role: str) -> None:
        super().__init__()
        self.process_role = process_role

    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"
        level = {"WARNING": "warn", "CRITICAL": "error"}.get(record.levelname, record.levelname.lower())
        parts = [f"ts={ts}", f"level={level}", f"msg={_quote(record.getMessage())}", f"proc={_quote(self.process_role)}"]
        if record.name.startswith("component."):
            parts.append(f"component_id={_quote(record.name[len('component.'):])}")
        if record.exc_info:
            parts.append(f"err={_quote(self.formatException(record.exc_info))}")
        return " ".join(parts)


class JsonFormatter(LogfmtFormatter):
    def format(self, record: logging.LogRecord) -> str:
        import orjson

        doc = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "msg": record.getMessage(),
            "proc": self.process_role,
        }
        if record.name.startswith("component."):
            doc["component_id"] = record.name[len("component."):]
        if record.exc_info:
            doc["err"] = self.formatException(record.exc_info)
        return orjson.dumps(doc).decode()


def configure(process_role: str, level: str = "info", fmt: str = "logfmt") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(process_role) if fmt == "json" else LogfmtFormatter(process_role))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(LEVELS.get(level, logging.INFO))
