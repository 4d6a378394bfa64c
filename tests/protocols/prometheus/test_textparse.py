from __future__ import annotations

import math

import pytest

from collector.protocols.prometheus.textparse import ParseError, parse

TEXT = """# HELP http_requests_total The total number of HTTP requests.
# TYPE http_requests_total counter
http_requests_total{method="post",code="200"} 1027 1395066363000
http_requests_total{method="post",code="400"}    3 1395066363000

# Escaping in label values:
msdos_file_access_time_seconds{path="C:\\\\DIR\\\\FILE.TXT",error="Cannot find file:\\n\\"FILE.TXT\\""} 1.458255915e9

metric_without_timestamp_and_labels 12.47
something_weird{problem="division by zero"} +Inf -3982045
nan_metric NaN
neg -Inf
trailing_comma{a="1",} 2
empty_braces{} 3
# TYPE rpc_duration_seconds summary
rpc_duration_seconds{quantile="0.01"} 3102
rpc_duration_seconds_sum 1.7560473e+07
"""


def test_parse_reference_exposition() -> None:
    exp = parse(TEXT)
    assert exp.types == {"http_requests_total": "counter", "rpc_duration_seconds": "summary"}
    assert exp.help == {"http_requests_total": "The total number of HTTP requests."}
    samples = exp.samples
    assert samples[0] == ("http_requests_total", (("method", "post"), ("code", "200")), 1027.0, 1395066363000)
    assert samples[2] == ("msdos_file_access_time_seconds",
                          (("path", "C:\\DIR\\FILE.TXT"), ("error", 'Cannot find file:\n"FILE.TXT"')), 1.458255915e9,
                          None)
    assert samples[3] == ("metric_without_timestamp_and_labels", (), 12.47, None)
    assert samples[4] == ("something_weird", (("problem", "division by zero"),), math.inf, -3982045)
    assert math.isnan(samples[5][2])
    assert samples[6][2] == -math.inf
    assert samples[7] == ("trailing_comma", (("a", "1"),), 2.0, None)
    assert samples[8] == ("empty_braces", (), 3.0, None)
    assert len(samples) == 11


@pytest.mark.parametrize("line", [
    'a{b="1"', 'a{b=1} 2', "a", "a 1 2 3", "a x", '1a 2', 'a{b="1",b="2"} 1', "# TYPE a nonsense", "a 1 1.5",
])
def test_parse_errors(line: str) -> None:
    with pytest.raises(ParseError):
        parse(line + "\n")
