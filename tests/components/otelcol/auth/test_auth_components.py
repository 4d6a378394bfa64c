"""`otelcol.auth.basic`, `otelcol.auth.bearer`, `otelcol.auth.headers`: Alloy's arguments, what each
handler checks (server side) or sends (client side), the located refusals, and secrets kept out of
what the UI, the API and the logs show."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
from pathlib import Path
from typing import Any

import bcrypt
import pytest

from collector.components.kit.auth import AuthHandler, AuthOutcome
from collector.components.otelcol.auth.files import WatchedFile
from collector.config.diag import DiagnosticError, Sources, format_one
from collector.pipeline.loader import load_sources
from collector.web.bodies import struct_body

PASSWORD = "s3cret-pw"
BCRYPT = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode().replace("$2b$", "$2y$", 1)
SHA = "{SHA}" + base64.b64encode(hashlib.sha1(PASSWORD.encode()).digest()).decode()


def load(text: str) -> Any:
    return load_sources(Sources({"main.alloy": text.encode()}))


def handler(text: str, component_id: str) -> AuthHandler:
    found = load(text).nodes[component_id].exports.handler
    assert isinstance(found, AuthHandler)
    return found


def errors(text: str) -> list[str]:
    with pytest.raises(DiagnosticError) as info:
        load(text)
    return [format_one(d, info.value.sources) for d in info.value.diagnostics]


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def basic_header(user: str, password: str) -> dict[str, str]:
    return {"authorization": basic(user, password)}


def sent(h: AuthHandler, headers: dict[str, str] | None = None) -> dict[str, str]:
    """An outgoing request's headers (`headers`, or none) once `h` has added its credentials."""
    out = dict(headers or {})
    h.apply(out)
    return out


def check(h: AuthHandler, headers: dict[str, str]) -> AuthOutcome:
    return asyncio.run(h.authenticate(headers))


def htpasswd_server(inline: str) -> AuthHandler:
    return handler(f'otelcol.auth.basic "s" {{\n  htpasswd {{\n    inline = {inline!r}\n  }}\n}}\n'.replace("'", '"'),
                   "otelcol.auth.basic.s")


# --- otelcol.auth.basic: server ------------------------------------------------------------------
@pytest.mark.parametrize("entry", [BCRYPT, SHA, PASSWORD], ids=["bcrypt", "sha", "plain"])
def test_htpasswd_accepts_the_schemes_htpasswd_writes(entry: str) -> None:
    server = htpasswd_server(f"alice:{entry}")
    assert server.server and not server.client
    assert check(server, basic_header("alice", PASSWORD)).ok
    refused = check(server, basic_header("alice", "wrong"))
    assert (refused.ok, refused.reason) == (False, "invalid credentials")
    assert refused.challenge is not None and refused.challenge.startswith("Basic realm=")


@pytest.mark.parametrize("headers,reason", [
    ({}, "missing credentials"),
    ({"authorization": "Bearer abc"}, "wrong authorization scheme"),
    ({"authorization": "Basic !!notbase64"}, "malformed credentials"),
    ({"authorization": "Basic " + base64.b64encode(b"no-colon").decode()}, "malformed credentials"),
    (basic_header("mallory", PASSWORD), "invalid credentials"),
    (basic_header("alice", "p" * 100), "invalid credentials"),  # longer than bcrypt takes: refused, no error
])
def test_htpasswd_refusals_say_why_without_the_credentials(headers: dict[str, str], reason: str) -> None:
    outcome = check(htpasswd_server(f"alice:{BCRYPT}"), headers)
    assert (outcome.ok, outcome.reason) == (False, reason)
    assert PASSWORD not in repr(outcome)


def test_a_verified_credential_is_remembered_so_bcrypt_runs_once(monkeypatch: pytest.MonkeyPatch) -> None:
    server = htpasswd_server(f"alice:{BCRYPT}")
    table = server._table  # type: ignore[attr-defined]
    calls: list[str] = []
    original = table.check

    def counting(user: str, password: str) -> bool:
        calls.append(user)
        return bool(original(user, password))

    monkeypatch.setattr(table, "check", counting)
    for _ in range(5):
        assert check(server, basic_header("alice", PASSWORD)).ok
    for _ in range(3):  # refusals are never remembered: each wrong guess is checked again
        assert not check(server, basic_header("alice", "guess")).ok
    assert calls == ["alice"] * 4


def test_an_unknown_user_costs_a_bcrypt_verification_like_a_known_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """Otherwise the answer's timing tells a prober which user names exist."""
    from passlib.hash import bcrypt as passlib_bcrypt

    server = htpasswd_server(f"alice:{BCRYPT}")
    verified: list[str] = []
    original = passlib_bcrypt.verify

    def counting(secret: str, hash: str) -> bool:
        verified.append(secret)
        return bool(original(secret, hash))

    monkeypatch.setattr(passlib_bcrypt, "verify", counting)
    assert not check(server, basic_header("mallory", "guess")).ok
    assert verified == ["guess"]


def test_htpasswd_file_and_inline_are_both_read_and_the_file_again_when_it_changes(tmp_path: Path) -> None:
    file = tmp_path / "users.htpasswd"
    file.write_text(f"bob:{SHA}\n")
    server = handler(f'otelcol.auth.basic "s" {{\n  htpasswd {{\n    file = "{file}"\n'
                     f'    inline = "alice:{BCRYPT}"\n  }}\n}}\n', "otelcol.auth.basic.s")
    assert check(server, basic_header("bob", PASSWORD)).ok
    assert check(server, basic_header("alice", PASSWORD)).ok
    watched = server._table.file  # type: ignore[attr-defined]
    watched.interval = 0.0  # look at the file on every check
    file.write_text("carol:other\n")
    os.utime(file, ns=(1, 1))  # a different mtime even on coarse-grained file systems
    assert not check(server, basic_header("bob", PASSWORD)).ok  # removed from the file: forgotten
    assert check(server, basic_header("carol", "other")).ok


def test_inline_entries_replace_the_files_for_the_same_user(tmp_path: Path) -> None:
    file = tmp_path / "users.htpasswd"
    file.write_text(f"alice:{SHA}\n# a comment\nbob:{SHA}\n")
    server = handler(f'otelcol.auth.basic "s" {{\n  htpasswd {{\n    file = "{file}"\n'
                     f'    inline = "alice:other-password"\n  }}\n}}\n', "otelcol.auth.basic.s")
    assert check(server, basic_header("alice", "other-password")).ok
    assert not check(server, basic_header("alice", PASSWORD)).ok
    assert check(server, basic_header("bob", PASSWORD)).ok


def test_watched_file_is_looked_at_once_per_interval(tmp_path: Path) -> None:
    now = [0.0]
    file = tmp_path / "pw"
    file.write_text("one\n")
    watched = WatchedFile(str(file), interval=1.0, clock=lambda: now[0])
    assert watched.read() == "one"
    file.write_text("two-two\n")
    assert watched.read() == "one"  # within the interval: not looked at
    now[0] = 1.5
    assert watched.read() == "two-two"


# --- otelcol.auth.basic: client ------------------------------------------------------------------
def test_client_auth_sends_basic_credentials_and_files_win(tmp_path: Path) -> None:
    client = handler('otelcol.auth.basic "c" {\n  client_auth {\n    username = "u"\n    password = "p"\n  }\n}\n',
                     "otelcol.auth.basic.c")
    assert client.client and not client.server
    assert sent(client, {"authorization": "stale"}) == {"Authorization": basic("u", "p")}

    user, password = tmp_path / "user", tmp_path / "password"
    user.write_text("file-user\n")
    password.write_text("file-pw\n")
    from_files = handler(f'otelcol.auth.basic "c" {{\n  client_auth {{\n    username = "u"\n'
                         f'    username_file = "{user}"\n    password_file = "{password}"\n  }}\n}}\n',
                         "otelcol.auth.basic.c")
    assert sent(from_files) == {"Authorization": basic("file-user", "file-pw")}


def test_deprecated_top_level_pair_is_the_client_unless_client_auth_is_set() -> None:
    old = handler('otelcol.auth.basic "c" {\n  username = "old"\n  password = "pw"\n}\n', "otelcol.auth.basic.c")
    assert sent(old) == {"Authorization": basic("old", "pw")}
    both = handler('otelcol.auth.basic "c" {\n  username = "old"\n  password = "pw"\n'
                   '  client_auth {\n    username = "new"\n    password = "pw2"\n  }\n}\n', "otelcol.auth.basic.c")
    assert sent(both) == {"Authorization": basic("new", "pw2")}


# --- otelcol.auth.bearer -------------------------------------------------------------------------
def test_bearer_both_sides_with_scheme_and_header() -> None:
    default = handler('otelcol.auth.bearer "b" {\n  token = "tok"\n}\n', "otelcol.auth.bearer.b")
    assert sent(default) == {"Authorization": "Bearer tok"}
    assert check(default, {"authorization": "Bearer tok"}).ok
    for wrong in ({"authorization": "Bearer tok2"}, {"authorization": "tok"}, {}):
        outcome = check(default, wrong)
        assert not outcome.ok and outcome.challenge == 'Bearer realm="otelcol"'

    custom = handler('otelcol.auth.bearer "b" {\n  token = "tok"\n  scheme = ""\n  header = "X-Api-Key"\n}\n',
                     "otelcol.auth.bearer.b")
    assert sent(custom) == {"X-Api-Key": "tok"}
    assert check(custom, {"x-api-key": "tok"}).ok
    assert not check(custom, {"authorization": "Bearer tok"}).ok


# --- otelcol.auth.headers ------------------------------------------------------------------------
HEADERS = """
otelcol.auth.headers "h" {
  header {
    key          = "X-Scope-OrgID"
    from_context = "X-Scope-OrgID"
  }
  header {
    key   = "X-Static"
    value = "v"
  }
  header {
    key    = "X-Kept"
    value  = "new"
    action = "insert"
  }
  header {
    key    = "X-Only-If-Present"
    value  = "changed"
    action = "update"
  }
  header {
    key    = "X-Drop"
    action = "delete"
  }
}
"""


def test_headers_from_context_constants_and_actions() -> None:
    h = handler(HEADERS, "otelcol.auth.headers.h")
    assert h.client and not h.server
    headers = {"x-kept": "old", "X-Drop": "1"}
    h.apply(headers, (("x-scope-orgid", "tenant-a"), ("other", "x")))
    assert headers == {"X-Scope-OrgID": "tenant-a", "X-Static": "v", "x-kept": "old"}
    headers = {"X-Only-If-Present": "before"}
    h.apply(headers, ())  # no tenant in the batch's metadata: no tenant header
    assert headers == {"X-Static": "v", "X-Kept": "new", "X-Only-If-Present": "changed"}


# --- validation ----------------------------------------------------------------------------------
RECEIVER = """
{auth}
otelcol.receiver.otlp "in" {{
  http {{
    auth = {ref}
  }}
  output {{}}
}}
"""
EXPORTER = """
{auth}
otelcol.exporter.otlphttp "out" {{
  client {{
    endpoint = "http://127.0.0.1:1"
    auth     = {ref}
  }}
}}
"""


@pytest.mark.parametrize("text,message", [
    (RECEIVER.format(auth=HEADERS, ref="otelcol.auth.headers.h.handler"),
     "main.alloy:30:12: otelcol.auth.headers.h.handler cannot authenticate incoming requests"),
    (RECEIVER.format(auth='otelcol.auth.basic "c" {\n  username = "u"\n}', ref="otelcol.auth.basic.c.handler"),
     "cannot authenticate incoming requests"),
    (EXPORTER.format(auth='otelcol.auth.basic "s" {\n  htpasswd {\n    inline = "u:p"\n  }\n}',
                     ref="otelcol.auth.basic.s.handler"),
     "otelcol.auth.basic.s.handler cannot authenticate outgoing requests"),
    (RECEIVER.format(auth="", ref='"secret"'), 'expected capsule("otelcol.Handler"), got string'),
    ('otelcol.auth.bearer "b" {\n  token = ""\n}', "main.alloy:2:11: token must not be empty"),
    ('otelcol.auth.basic "b" {\n}', "configure client_auth (for exporters) or htpasswd (for receivers)"),
    ('otelcol.auth.basic "b" {\n  htpasswd {\n    file = "/nonexistent/htpasswd"\n  }\n}',
     "main.alloy:3:12: /nonexistent/htpasswd does not exist"),
    ('otelcol.auth.basic "b" {\n  client_auth {\n    username = "u"\n    password_file = "/nonexistent/pw"\n  }\n}',
     "main.alloy:4:21: /nonexistent/pw does not exist"),
    ('otelcol.auth.basic "b" {\n  htpasswd {\n    inline = "no colon here"\n  }\n}',
     "htpasswd inline line 1 is not user:hash"),
    ('otelcol.auth.headers "h" {\n  header {\n    key = "a"\n    value = "b"\n    action = "merge"\n  }\n}',
     "main.alloy:5:14: unknown action merge"),
    ('otelcol.auth.headers "h" {\n  header {\n    key = "a"\n  }\n}', "either value or from_context must be set"),
    ('otelcol.auth.headers "h" {\n  header {\n    key = "a"\n    from_attribute = "username"\n  }\n}',
     "from_attribute is not supported"),
])
def test_refusals_are_located(text: str, message: str) -> None:
    found = errors(text)
    assert any(message in e for e in found), found


def test_secrets_are_not_shown_in_arguments_exports_or_reprs() -> None:
    text = ('otelcol.auth.basic "c" {\n  client_auth {\n    username = "u"\n    password = "hunter2"\n  }\n'
            '  htpasswd {\n    inline = "u:hunter3"\n  }\n}\n'
            'otelcol.auth.bearer "b" {\n  token = "tok-hunter4"\n}\n')
    pipeline = load(text)
    for cid in ("otelcol.auth.basic.c", "otelcol.auth.bearer.b"):
        node = pipeline.nodes[cid]
        shown = repr(struct_body(node.args)) + repr(node.exports) + str(node.exports.handler)
        for secret in ("hunter2", "hunter3", "tok-hunter4"):
            assert secret not in shown
        assert str(node.exports.handler) == f"{cid}.handler"
