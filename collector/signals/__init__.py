"""The three OpenTelemetry signals and the payload that carries one of them through a worker."""

from collector.signals.signal import Signal, SignalSpec, spec_of
from collector.signals.payload import AckToken, Payload

__all__ = ["AckToken", "Payload", "Signal", "SignalSpec", "spec_of"]
