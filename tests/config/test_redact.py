"""What counts as a secret in a URL, a log line and configuration source."""

from __future__ import annotations

import logging

import pytest

from collector.config.redact import redact_text, redact_url
from collector.runtime.logs import JsonFormatter, LogfmtFormatter
from collector.web.bodies import typed
from collector.web.redaction import redact_config


@pytest.mark.parametrize("url,expected", [
    ("http://user:pass@host:9090/api/v1/write", "http://user:<secret>@host:9090/api/v1/write"),
    ("https://user@host/", "https://user@host/"),  # a user name alone is not a secret
    ("https://host/push?token=abc&tenant=a", "https://host/push?token=<secret>&tenant=a"),
    ("https://host/p?X-Amz-Signature=ff&api_key=k&Access-Token=t",
     "https://host/p?X-Amz-Signature=<secret>&api_key=<secret>&Access-Token=<secret>"),
    ("https://host/p?token=", "https://host/p?token="),
    ("http://h/x", "http://h/x"),
    ("not a url", "not a url"),
    ("http://[::1", "http://[::1"),  # unparsable: left as it is, never an exception
])
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_redact_text_finds_urls_inside_sentences() -> None:
    text = "failed to send to 'https://u:pw@mimir.example/push?token=t1': refused; retry http://a/b"
    assert redact_text(text) == ("failed to send to 'https://u:<secret>@mimir.example/push?token=<secret>': refused; "
                                 "retry http://a/b")


def test_bodies_show_url_strings_redacted() -> None:
    assert typed("http://u:pw@h/x?sig=1") == {"type": "string", "value": "http://u:<secret>@h/x?sig=<secret>"}


@pytest.mark.parametrize("formatter", [LogfmtFormatter("worker metrics/0"), JsonFormatter("worker metrics/0")])
def test_log_lines_are_redacted(formatter: logging.Formatter) -> None:
    record = logging.LogRecord("component.x", logging.WARNING, __file__, 1, "sending to %s failed", (
        "http://writer:hunter2@h/api?token=zz",), None)
    line = formatter.format(record)
    assert "hunter2" not in line and "zz" not in line and "writer:<secret>@h" in line


def test_redact_config_blanks_secret_attributes_whatever_their_expression() -> None:
    source = b'''prometheus.remote_write "default" {
  endpoint {
    url = "https://user:hunter2@mimir.example/api/v1/push?token=abc&x=1"
    basic_auth {
      username = "u"
      password = "p\xc3\xa4ssword"
    }
    headers = { "X-Key" = "k1" }
  }
}
http {
  auth {
    basic {
      username = "admin"
      password = sys.env("PW")
    }
  }
}
'''
    text = redact_config(source)
    for secret in ("hunter2", "abc", "p\u00e4ssword", "k1", 'sys.env("PW")'):
        assert secret not in text
    assert 'url = "https://user:<secret>@mimir.example/api/v1/push?token=<secret>&x=1"' in text
    assert 'username = "u"' in text and 'username = "admin"' in text
    assert text.count('"<secret>"') == 3


def test_redact_config_of_an_unparsable_source_still_redacts_urls() -> None:
    text = redact_config(b'broken { url = "http://u:pw@h/x" password = "plain"')
    assert "pw@" not in text


def test_credential_headers_in_maps_are_secret() -> None:
    body = typed({"Authorization": "Bearer xyz", "X-Scope-OrgID": "tenant-a", "x_api_key": "k"})
    values = {item["key"]: item["value"] for item in body["value"]}
    assert values["Authorization"] == {"type": "capsule", "value": "(secret)"}
    assert values["x_api_key"] == {"type": "capsule", "value": "(secret)"}
    assert values["X-Scope-OrgID"] == {"type": "string", "value": "tenant-a"}


def test_redact_config_blanks_credential_headers_of_literal_maps() -> None:
    source = b'''otelcol.exporter.otlphttp "o" {
  client {
    endpoint = "https://otlp.example"
    headers  = { "Authorization" = "Bearer xyz", "X-Scope-OrgID" = "tenant-a" }
  }
}
'''
    text = redact_config(source)
    assert "xyz" not in text and '"Authorization" = "<secret>"' in text and '"tenant-a"' in text
