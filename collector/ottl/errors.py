"""OTTL errors. Compile errors carry a 1-based column inside the statement text, so the
configuration loader can add it to the position of the string that holds the statement."""

from __future__ import annotations


class OttlError(Exception):
    """Base of every OTTL error."""


class OttlSyntaxError(OttlError):
    """A statement or condition that does not parse or compile.

    `column` is 1-based, counted in characters from the start of the statement text (not of the
    Alloy string literal that contained it, whose escapes may shift positions).
    """

    def __init__(self, message: str, column: int) -> None:
        super().__init__(f"1:{column}: {message}")
        self.message = message
        self.column = column


class OttlRuntimeError(OttlError):
    """A statement failed on one item (type mismatch, bad index, division by zero...)."""
