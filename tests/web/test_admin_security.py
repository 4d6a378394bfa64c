"""The admin server as the probe attacked it: cross-site reloads, foreign Host headers (DNS
rebinding), odd inputs that gave 500s, a taken port, secrets in URLs; and Alloy's `http` block
(TLS and basic auth). Each test here failed on the code before the fix."""

from __future__ import annotations

import base64
import http.client
import json
import socket
import ssl
import time
import urllib.parse
from pathlib import Path
from typing import Iterator

import pytest
import trustme

from collector.support.client import AdminClient
from collector.testing.process import CollectorProcess, free_port
from collector.top import fetch_snapshot

CONFIG = """
otelcol.receiver.otlp "in" {{
  http {{ endpoint = "127.0.0.1:{http_port}" }}
  output {{
    traces  = [otelcol.exporter.debug.out.input]
    metrics = [otelcol.exporter.prometheus.p.input]
  }}
}}
otelcol.exporter.prometheus "p" {{ forward_to = [prometheus.remote_write.rw.receiver] }}
otelcol.exporter.debug "out" {{ verbosity = "{verbosity}" }}
prometheus.remote_write "rw" {{
  endpoint {{
    url = "http://writer:hunter2@127.0.0.1:{dead_port}/api/v1/push?token=s3cr3t&tenant=a"
  }}
}}
"""


def config(verbosity: str = "basic", *, http_port: int, dead_port: int) -> str:
    return CONFIG.format(verbosity=verbosity, http_port=http_port, dead_port=dead_port)


def request(collector: CollectorProcess, method: str, path: str, headers: dict[str, str] | None = None,
            body: bytes | None = None) -> tuple[int, str, dict[str, str]]:
    conn = http.client.HTTPConnection("127.0.0.1", collector.admin_port, timeout=10)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        all_headers = {"Host": collector.admin_addr, **(headers or {})}
        if body is not None:
            all_headers["Content-Length"] = str(len(body))
        for name, value in all_headers.items():
            conn.putheader(name, value)
        conn.endheaders(body)
        response = conn.getresponse()
        return response.status, response.read().decode("utf-8", "replace"), dict(response.getheaders())
    finally:
        conn.close()


def config_hash(collector: CollectorProcess) -> str:
    status, text = collector.get("/api/v0/web/status")
    assert status == 200
    return str(json.loads(text)["configHash"])


@pytest.fixture(scope="module")
def collector() -> Iterator[CollectorProcess]:
    ports = {"http_port": free_port(), "dead_port": free_port()}
    with CollectorProcess(config(**ports)) as running:  # type: ignore[arg-type]
        running.ports = ports  # type: ignore[attr-defined]
        running.wait_ready()
        yield running


@pytest.mark.parametrize("headers", [
    {"Origin": "http://evil.example", "Content-Type": "text/plain"},
    {"Origin": "null", "Content-Type": "application/x-www-form-urlencoded"},
    {"Sec-Fetch-Site": "cross-site", "Content-Type": "text/plain"},
    {"Sec-Fetch-Site": "same-site"},
])
def test_cross_site_reload_is_refused_and_changes_nothing(collector: CollectorProcess,
                                                          headers: dict[str, str]) -> None:
    before = config_hash(collector)
    original = collector.config_path.read_text()
    collector.config_path.write_text(config("detailed", **collector.ports))  # type: ignore[attr-defined]
    try:
        status, text, _ = request(collector, "POST", "/-/reload", headers, b"x=1")
        assert status == 403, text
        assert "cross-site" in text
        assert config_hash(collector) == before
    finally:
        collector.config_path.write_text(original)


def test_same_origin_and_non_browser_reloads_still_work(collector: CollectorProcess) -> None:
    original = collector.config_path.read_text()
    before = config_hash(collector)
    collector.config_path.write_text(config("detailed", **collector.ports))  # type: ignore[attr-defined]
    try:
        status, text, _ = request(collector, "POST", "/-/reload", {
            "Origin": f"http://{collector.admin_addr}", "Sec-Fetch-Site": "same-origin"})
        assert status == 200, text
        assert config_hash(collector) != before
    finally:
        collector.config_path.write_text(original)
    status, text, _ = request(collector, "POST", "/-/reload")  # curl: neither Origin nor Sec-Fetch-Site
    assert status == 200, text
    assert config_hash(collector) == before


@pytest.mark.parametrize("host,expected", [
    ("evil.example", 421), (f"evil.example:{12345}", 421), ("", 421),
    ("localhost", 200), ("127.0.0.1", 200), ("[::1]:80", 200), (socket.gethostname(), 200),
])
def test_host_header_is_checked_against_the_servers_names(collector: CollectorProcess, host: str,
                                                          expected: int) -> None:
    status, text, _ = request(collector, "GET", "/api/v0/web/components", {"Host": host})
    assert status == expected, text
    if expected == 421:
        assert "COLLECTOR_ALLOWED_HOSTS" in text


def test_no_cors_headers(collector: CollectorProcess) -> None:
    status, _, headers = request(collector, "GET", "/api/v0/web/components",
                                 {"Origin": "http://evil.example"})
    assert status == 200
    assert not any(name.lower().startswith("access-control-") for name in headers)


@pytest.mark.parametrize("path,expected", [
    ("/api/v0/web/graph?window=%C2%B2", 400),
    ("/static/app%00.js", 404),
    ("/static/" + "a" * 5000 + ".js", 404),
    ("/static/..%2F..%2Fserver.py", 404),
    ("/static/%2e%2e%2fapi.py", 404),
    ("/static/app.js", 200),
])
def test_odd_inputs_get_4xx_not_500(collector: CollectorProcess, path: str, expected: int) -> None:
    status, _, _ = request(collector, "GET", path)
    assert status == expected


def test_url_credentials_are_redacted_in_arguments_and_metrics(collector: CollectorProcess) -> None:
    status, text = collector.get("/api/v0/web/components/prometheus.remote_write.rw")
    assert status == 200
    assert "hunter2" not in text and "s3cr3t" not in text
    assert "writer:<secret>@127.0.0.1" in text and "token=<secret>&tenant=a" in text
    from collector.testing.sdk import wait_until

    assert wait_until(lambda: "prometheus_remote_storage_shards{" in collector.get("/metrics")[1], timeout=30)
    _, metrics = collector.get("/metrics")
    assert "hunter2" not in metrics and "s3cr3t" not in metrics
    assert 'url="http://writer:<secret>@127.0.0.1:' in metrics
    assert "hunter2" not in collector.logs() and "s3cr3t" not in collector.logs()


def test_a_refused_reload_does_not_echo_url_credentials(collector: CollectorProcess) -> None:
    original = collector.config_path.read_text()
    collector.config_path.write_text(original.replace("url = \"http://writer:hunter2@", "url = \"ftp://writer:hunter2@"))
    try:
        status, text, _ = request(collector, "POST", "/-/reload")
        assert status == 400 and "scheme must be http or https" in text
        assert "hunter2" not in text and "writer:<secret>@" in text
        _, status_doc = collector.get("/api/v0/web/status")
        assert "hunter2" not in status_doc
    finally:
        collector.config_path.write_text(original)
    assert request(collector, "POST", "/-/reload")[0] == 200


def test_a_taken_admin_port_is_a_clear_start_up_error(tmp_path: Path) -> None:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    try:
        taken = holder.getsockname()[1]
        ports = {"http_port": free_port(), "dead_port": free_port()}
        process = CollectorProcess(config(**ports), workdir=tmp_path)  # type: ignore[arg-type]
        process.admin_addr = f"127.0.0.1:{taken}"
        code, output = process.run_to_exit()
    finally:
        holder.close()
    assert code == 1, output
    assert f"admin HTTP server cannot listen on 127.0.0.1:{taken}" in output
    assert "Traceback" not in output and "BufferError" not in output


# --- the http block: TLS and basic auth ------------------------------------------------------------
HTTP_BLOCK = """
http {{
  tls {{
    cert_file = "{cert}"
    key_file  = "{key}"
  }}
  auth {{
    basic {{
      username = "admin"
      password = "pa55"
    }}
    filter {{
      paths = ["/-/ready", "/-/healthy"]
      authenticate_matching_paths = false
    }}
  }}
}}
"""


def test_http_block_serves_tls_and_requires_basic_auth(tmp_path: Path) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "server.pem"))
    ports = {"http_port": free_port(), "dead_port": free_port()}
    text = config(**ports) + HTTP_BLOCK.format(cert=tmp_path / "server.pem", key=tmp_path / "server.pem")  # type: ignore[arg-type]
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    collector = CollectorProcess(text)
    try:
        collector._launch("wb")  # not start(): its readiness probe speaks plain HTTP

        def get(path: str, authorization: str | None = None) -> tuple[int, dict[str, str], str]:
            conn = http.client.HTTPSConnection("127.0.0.1", collector.admin_port, context=client_context, timeout=10)
            try:
                conn.request("GET", path, headers={"Authorization": authorization} if authorization else {})
                response = conn.getresponse()
                return response.status, dict(response.getheaders()), response.read().decode()
            finally:
                conn.close()

        deadline = time.monotonic() + 60
        while True:
            try:
                if get("/-/ready")[0] == 200:  # filtered out of authentication
                    break
            except (ConnectionError, OSError):
                pass
            assert time.monotonic() < deadline, collector.logs()
            time.sleep(0.1)
        status, headers, _ = get("/")
        assert status == 401 and headers["WWW-Authenticate"].startswith("Basic")
        wrong = "Basic " + base64.b64encode(b"admin:nope").decode()
        assert get("/api/v0/web/components", wrong)[0] == 401
        right = "Basic " + base64.b64encode(b"admin:pa55").decode()
        status, _, page = get("/", right)
        assert status == 200 and "<html" in page.lower()
        assert get("/api/v0/web/components", right)[0] == 200
        ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
        base_url = f"https://127.0.0.1:{collector.admin_port}"
        with pytest.raises(OSError, match="401"):  # `collector top` without credentials
            fetch_snapshot(AdminClient(base_url, ca_file=str(tmp_path / "ca.pem")))
        snapshot = fetch_snapshot(AdminClient(base_url, "admin", "pa55", str(tmp_path / "ca.pem")))
        assert "otelcol.receiver.otlp.in" in {c["localID"] for c in snapshot.components}
        plain = http.client.HTTPConnection("127.0.0.1", collector.admin_port, timeout=5)
        with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
            plain.request("GET", "/-/ready")
            assert plain.getresponse().status != 200
        plain.close()
    finally:
        collector.close()


def test_http_block_tls_errors_are_located(tmp_path: Path) -> None:
    from collector.config.diag import DiagnosticError
    from collector.pipeline.loader import load

    path = tmp_path / "c.alloy"
    path.write_text('http {\n  tls {\n    cert_file = "/nonexistent.pem"\n    key_file = "/nonexistent.pem"\n  }\n}\n')
    with pytest.raises(DiagnosticError) as err:
        load(path)
    assert "c.alloy:3:" in str(err.value) and "cannot load the TLS certificate" in str(err.value)
    path.write_text('http {\n  tls {\n    cert_file = "a"\n    key_file = "b"\n    client_auth_type = '
                    '"RequestClientCert"\n  }\n}\n')
    with pytest.raises(DiagnosticError) as err:
        load(path)
    assert "c.alloy:5:" in str(err.value) and "not supported" in str(err.value)


def test_non_loopback_admin_server_warns(tmp_path: Path) -> None:
    ports = {"http_port": free_port(), "dead_port": free_port()}
    process = CollectorProcess(config(**ports), workdir=tmp_path)  # type: ignore[arg-type]
    process.admin_addr = f"0.0.0.0:{process.admin_port}"
    try:
        process._launch("wb")
        deadline = time.monotonic() + 60
        while "admin HTTP server on 0.0.0.0" not in process.logs():
            assert time.monotonic() < deadline and process.process is not None and process.process.poll() is None, \
                process.logs()
            time.sleep(0.1)
    finally:
        process.close()
    assert "no TLS and no authentication" in process.logs()


def test_host_rules() -> None:
    from collector.web.security import host_allowed

    assert host_allowed("collector.internal:12345", "0.0.0.0", frozenset({"collector.internal"}))
    assert not host_allowed("collector.internal:12345", "0.0.0.0", frozenset())
    assert host_allowed("anything.example", "127.0.0.1", frozenset({"*"}))
    assert host_allowed("admin.localhost:8080", "127.0.0.1", frozenset())
    assert host_allowed("Box.Example.:12345", "box.example", frozenset())
    assert not host_allowed(None, "127.0.0.1", frozenset())
    assert urllib.parse.quote("x") == "x"


@pytest.mark.parametrize("method,headers,refused", [
    ("POST", {"Origin": "http://evil.example"}, True),
    ("POST", {"Origin": "null"}, True),
    ("POST", {"Origin": "http://127.0.0.1:12345.evil.example"}, True),
    ("POST", {"Sec-Fetch-Site": "cross-site"}, True),
    ("PUT", {"Sec-Fetch-Site": "same-site"}, True),
    ("POST", {"Origin": "http://127.0.0.1:12345", "Sec-Fetch-Site": "same-origin"}, False),
    ("POST", {"Origin": "https://127.0.0.1:12345"}, False),  # TLS ended by a proxy in front
    ("POST", {"Sec-Fetch-Site": "none"}, False),  # typed into the address bar / a bookmark
    ("POST", {}, False),  # curl, scripts
    ("GET", {"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}, False),  # reads: no change
])
def test_cross_site_rules(method: str, headers: dict[str, str], refused: bool) -> None:
    from aiohttp.test_utils import make_mocked_request

    from collector.web.security import cross_site_reason

    request = make_mocked_request(method, "/-/reload", headers={"Host": "127.0.0.1:12345", **headers})
    assert (cross_site_reason(request) is not None) == refused


def test_a_reload_that_adds_tls_says_it_applies_at_restart(collector: CollectorProcess, tmp_path: Path) -> None:
    cert = trustme.CA().issue_cert("127.0.0.1")
    cert.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "s.pem"))
    original = collector.config_path.read_text()
    collector.config_path.write_text(original + f'http {{\n  tls {{\n    cert_file = "{tmp_path / "s.pem"}"\n'
                                                f'    key_file = "{tmp_path / "s.pem"}"\n  }}\n}}\n')
    try:
        status, text, _ = request(collector, "POST", "/-/reload")
        assert status == 200, text
        assert request(collector, "GET", "/-/ready")[0] == 200  # still plain HTTP
        assert "keeps serving plain HTTP until the collector restarts" in collector.logs()
    finally:
        collector.config_path.write_text(original)
        assert request(collector, "POST", "/-/reload")[0] == 200
