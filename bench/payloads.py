"""Pre-encoded OTLP requests for the bench scripts: the code lives in `collector/loadgen/payloads.py`
(the installed `collector loadgen` uses it too)."""

from collector.loadgen.payloads import (PROBE_METRIC, SENTINEL, STAMP_KEY, Encoded, Shape, build, encode,
                                        logs_message, metrics_message, to_json, traces_message)

__all__ = ["PROBE_METRIC", "SENTINEL", "STAMP_KEY", "Encoded", "Shape", "build", "encode", "logs_message",
           "metrics_message", "to_json", "traces_message"]
