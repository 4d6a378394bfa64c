"""Errors of the transport shells."""

from __future__ import annotations


class BindError(OSError):
    """A listener could not bind its endpoint; the message names the endpoint and the cause."""
