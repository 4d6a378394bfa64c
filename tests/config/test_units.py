from __future__ import annotations

import pytest

from collector.config.units import format_duration, parse_bytesize, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("0", 0.0), ("1s", 1.0), ("200ms", 0.2), ("1h30m", 5400.0), ("1.5s", 1.5), ("-2m", -120.0),
        ("+3h", 10800.0), ("10us", 1e-5), ("10µs", 1e-5), ("7ns", 7e-9), ("1m0.5s", 60.5), (".5h", 1800.0),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", 'time: invalid duration ""'),
        ("5", 'time: missing unit in duration "5"'),
        ("1d", 'time: unknown unit "d" in duration "1d"'),
        ("1w", 'time: unknown unit "w" in duration "1w"'),
        ("s", 'time: invalid duration "s"'),
        ("1.s.", 'time: invalid duration "1.s."'),
    ],
)
def test_parse_duration_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match="^" + message.replace(".", r"\.") + "$"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (60, "1m0s"), (90, "1m30s"), (0.2, "200ms"), (5400.5, "1h30m0.5s"), (1.5e-6, "1.5µs"), (5e-9, "5ns"),
     (-1.5, "-1.5s"), (3600, "1h0m0s")],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("text", "size"),
    [("4MiB", 4 << 20), ("4MB", 4 << 20), ("1KiB", 1024), ("1KB", 1024), ("2GiB", 2 << 30), ("512", 512),
     (1024, 1024), ("1.5KiB", 1536)],
)
def test_parse_bytesize(text: str | int, size: int) -> None:
    assert parse_bytesize(text) == size


@pytest.mark.parametrize("text", ["4XB", "-1", "MiB", ""])
def test_parse_bytesize_errors(text: str) -> None:
    with pytest.raises(ValueError, match="invalid byte size"):
        parse_bytesize(text)
