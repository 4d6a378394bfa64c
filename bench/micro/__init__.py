"""Micro-benchmarks of every hot-path step: `python -m bench.micro`.

Our own steps (OTLP decode, batch merge, remote-write encoding, snappy, gzip) are pytest-benchmark
cases in `test_hotpath.py`, each declaring how many items one call handles so the result reads as
items/s. The steps other engineers benchmark in their own scripts (ring put/get, OTLP -> Prometheus
conversion, OTTL `set` per data point, resource detection per resource) are run as they are, with
small sizes, and their output (which states items/s) is kept verbatim.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent

# step -> module arguments (sizes chosen to keep the whole suite near a minute on two cores)
SCRIPTS: dict[str, list[str]] = {
    "ring put/get": ["bench.ring_bench", "--rounds", "1", "--sizes", "4096,65536"],
    "OTLP -> Prometheus per point": ["bench.prometheus_bench", "--requests", "10", "--rounds", "2"],
    "OTTL set per data point": ["bench.ottl_bench", "--requests", "50"],
    "resource detection per resource": ["bench.resourcedetection_bench", "--requests", "100", "--rounds", "1"],
}


def run_pytest(max_time: float = 0.3) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "micro.json"
        subprocess.run([sys.executable, "-m", "pytest", str(HERE / "test_hotpath.py"), "-q", "-p", "no:cacheprovider",
                        "--benchmark-only", f"--benchmark-max-time={max_time}", "--benchmark-min-rounds=3",
                        f"--benchmark-json={out}", "--benchmark-disable-gc", "-o", "addopts="],
                       cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        doc = json.loads(out.read_text())
    rows = []
    for bench in doc["benchmarks"]:
        items, unit = bench["extra_info"]["items"], bench["extra_info"]["unit"]
        rows.append({"name": bench["name"].removeprefix("test_"), "unit": unit, "items_per_call": items,
                     "median_s": bench["stats"]["median"], "items_per_s": round(items / bench["stats"]["median"])})
    return rows


def run_scripts() -> dict[str, dict[str, Any]]:
    out = {}
    for step, args in SCRIPTS.items():
        module = args[0]
        if not (ROOT / (module.replace(".", "/") + ".py")).exists():
            continue
        extra = []
        with tempfile.TemporaryDirectory() as tmp:
            if module == "bench.ring_bench":
                extra = ["--out", str(Path(tmp) / "ring.json")]
            proc = subprocess.run([sys.executable, "-m", *args, *extra], cwd=ROOT, capture_output=True, text=True)
        out[step] = {"command": "python -m " + " ".join(args), "returncode": proc.returncode,
                     "stdout": proc.stdout if proc.returncode == 0 else proc.stdout + proc.stderr[-2000:]}
    return out


def run_all() -> dict[str, Any]:
    rows = run_pytest()
    for row in rows:
        print(f"  micro {row['name']:36} {row['items_per_s']:>14,} {row['unit']}/s", flush=True)
    scripts = run_scripts()
    for step, result in scripts.items():
        print(f"  micro {step}: `{result['command']}`\n" + "\n".join("    " + line for line in result["stdout"].splitlines()),
              flush=True)
    return {"pytest": rows, "scripts": scripts}


if __name__ == "__main__":
    run_all()
