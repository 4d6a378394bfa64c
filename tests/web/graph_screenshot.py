"""Regenerate docs/graph.png: the Graph page of the tutorial's OpenTelemetry configuration.

    .venv/bin/python -m tests.web.graph_screenshot [--out docs/graph.png]

Starts the collector on examples/opentelemetry.alloy (OTLP ports replaced by free ones, backends
left down: exporters retry, which the page shows), sends a little telemetry with the OpenTelemetry
SDK so the edges carry live rates, and photographs the page in headless Chromium.
"""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

from collector.testing.process import CollectorProcess
from collector.testing.sdk import send_logs, send_metrics, send_spans, wait_until
from tests.web.browser import browser_context, missing_reason
from tests.web.conftest import backends_down, example_config

ROOT = Path(__file__).resolve().parents[2]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "graph.png")
    parser.add_argument("--seconds", type=float, default=14.0, help="how long to send telemetry before the shot")
    args = parser.parse_args()
    reason = missing_reason()
    if reason:
        raise SystemExit(reason)
    config = example_config("opentelemetry.alloy")
    http_port = re.findall(r"127\.0\.0\.1:(\d+)", config)[1]  # grpc first, then http
    endpoint = f"http://127.0.0.1:{http_port}"
    with CollectorProcess(config, env=backends_down(), shutdown_timeout="2s") as proc:
        deadline = time.monotonic() + args.seconds
        while time.monotonic() < deadline:
            send_spans("http", endpoint, 40, resource={"service.name": "checkout", "host.name": "web-1"})
            send_logs("http", endpoint, 25)
            send_metrics("http", endpoint, resource={"service.name": "checkout", "deployment.environment": "prod"})
            time.sleep(0.5)
        with browser_context(width=1280, height=800) as context:  # a laptop screen: the page fits the graph
            page = context.new_page()
            page.goto(proc.admin_url + "/graph")
            page.wait_for_selector("main[data-loaded=true] svg.graph")
            # one refresh after the rates of the last few seconds are in
            wait_until(lambda: "/s" in page.text_content("svg.graph"), timeout=10)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(args.out), full_page=True)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
