"""Micro-benchmark: what receiver authentication and `include_metadata` cost per request.

    .venv/bin/python -m bench.auth_bench [--requests 20000] [--repeat 3]

`basic`: `otelcol.auth.basic`'s server check of a request whose `Authorization` value was verified
before (the remembered path: one HMAC-SHA256 and a dict lookup; bcrypt runs only for the first
request with a credential, reported separately as `first`, cost 10, including libpass's import).
`bearer`: the constant-time token compare. `metadata`: keeping 8 typical request headers
(`from_request`), packing them in front of a 50 KB Export request for the ring (`pack`) and taking
them off again in the worker (`unpack`, which copies the request out of the record). Every figure is
the best of `--repeat` runs of the mean per request (CPU time of this process).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import time
from typing import Callable

import bcrypt

from collector.components.kit.api import EvalContext
from collector.components.kit.types import Secret
from collector.components.otelcol.auth.basic import Arguments as BasicArguments
from collector.components.otelcol.auth.basic import BasicAuth, Htpasswd
from collector.components.otelcol.auth.bearer import Arguments as BearerArguments
from collector.components.otelcol.auth.bearer import BearerAuth
from collector.signals.metadata import from_request, pack, unpack

HEADERS = [("Host", "gateway:4318"), ("User-Agent", "OTel-OTLP-Exporter-Python/1.45"),
           ("Content-Type", "application/x-protobuf"), ("Content-Length", "50000"),
           ("Authorization", "Basic YWxpY2U6cHc="), ("X-Scope-OrgID", "tenant-a"), ("Accept-Encoding", "gzip"),
           ("Connection", "keep-alive")]


def best(repeat: int, requests: int, run: Callable[[int], None]) -> float:
    """Best mean CPU seconds per request over `repeat` runs."""
    times = []
    for _ in range(repeat):
        start = time.process_time()
        run(requests)
        times.append((time.process_time() - start) / requests)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=3)
    opts = parser.parse_args()

    hashed = bcrypt.hashpw(b"pw", bcrypt.gensalt(rounds=10)).decode()
    basic = BasicAuth.exports(EvalContext("otelcol.auth.basic.b"),
                              BasicArguments(htpasswd=Htpasswd(inline=Secret(f"alice:{hashed}")))).handler
    bearer = BearerAuth.exports(EvalContext("otelcol.auth.bearer.b"), BearerArguments(token=Secret("tok"))).handler
    good = {"authorization": "Basic " + base64.b64encode(b"alice:pw").decode()}
    token = {"authorization": "Bearer tok"}
    loop = asyncio.new_event_loop()

    start = time.perf_counter()
    assert loop.run_until_complete(basic.authenticate(good)).ok
    first = time.perf_counter() - start

    async def checks(n: int, handler: object, headers: dict[str, str]) -> None:
        for _ in range(n):
            await handler.authenticate(headers)  # type: ignore[attr-defined]

    basic_s = best(opts.repeat, opts.requests, lambda n: loop.run_until_complete(checks(n, basic, good)))
    bearer_s = best(opts.repeat, opts.requests, lambda n: loop.run_until_complete(checks(n, bearer, token)))
    loop.close()

    body = b"x" * 50_000
    metadata = from_request(HEADERS)
    packed = pack(metadata, body)

    def keep(n: int) -> None:
        for _ in range(n):
            from_request(HEADERS)

    def packing(n: int) -> None:
        for _ in range(n):
            pack(metadata, body)

    def unpacking(n: int) -> None:
        for _ in range(n):
            unpack(packed)

    print(f"basic: first {first * 1e3:.1f} ms (bcrypt cost 10), remembered {basic_s * 1e6:.1f} us/request")
    print(f"bearer: {bearer_s * 1e6:.2f} us/request")
    print(f"metadata (8 headers, 50 KB request): from_request {best(opts.repeat, opts.requests, keep) * 1e6:.1f} us, "
          f"pack {best(opts.repeat, opts.requests, packing) * 1e6:.1f} us, "
          f"unpack {best(opts.repeat, opts.requests, unpacking) * 1e6:.1f} us")


if __name__ == "__main__":
    main()
