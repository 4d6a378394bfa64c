"""Authorization headers shared by prometheus.scrape and prometheus.remote_write."""

from __future__ import annotations

import base64
from pathlib import Path

from collector.components.prometheus.remote_write import Endpoint
from collector.components.prometheus.scrape import Arguments as ScrapeArguments
from collector.components.kit.prometheus_client import auth_headers
from collector.config.values import Secret


def test_bearer_token_file_is_read_for_scrapes_and_remote_write(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("s3cret\n")
    scrape = ScrapeArguments(targets=[], forward_to=[], bearer_token_file=str(token))
    endpoint = Endpoint(url="http://127.0.0.1:9/api/v1/write", bearer_token_file=str(token))
    assert auth_headers(scrape) == auth_headers(endpoint) == {"Authorization": "Bearer s3cret"}


def test_inline_bearer_token_and_no_auth() -> None:
    assert auth_headers(Endpoint(url="http://x", bearer_token=Secret("t"))) == {"Authorization": "Bearer t"}
    assert auth_headers(Endpoint(url="http://x")) == {}


def test_basic_auth_header() -> None:
    from collector.components.kit.prometheus_client import BasicAuth

    headers = auth_headers(Endpoint(url="http://x", basic_auth=BasicAuth(username="u", password=Secret("p"))))
    assert headers == {"Authorization": "Basic " + base64.b64encode(b"u:p").decode()}
