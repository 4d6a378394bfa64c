"""Run one fuzz target with atheris (libFuzzer, coverage-guided):
`python -m fuzz.run TARGET [--seconds 60] [--max-len 4096]`, or all of them with `make fuzz`.

New inputs that reach new coverage are written to `fuzz/corpus/<target>/` (the corpus is committed:
`make test` replays it); `--keep N` also saves N of the other inputs the fuzzer ran, spread over the
run (`make fuzz` keeps 200 per target). A crash (an exception the target does not expect) stops the run, writes
the input to `fuzz/crashes/<target>-<sha1>` and prints the traceback; fix the code, then move the
input into the corpus so it stays a regression case.

atheris instruments the collector's modules (and protobuf's pure-Python json_format) as they are
imported (`instrument_imports`), so the targets module is imported inside that block. Modules in C
(upb, zlib, zstd, snappy, orjson) give no coverage signal: their targets grow small corpora.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path
from typing import Callable

import atheris

ROOT = Path(__file__).resolve().parent
CORPUS = ROOT / "corpus"
CRASHES = ROOT / "crashes"


def _sampling(run: Callable[[bytes], None], folder: Path, keep: int, seconds: int) -> Callable[[bytes], None]:
    """`run`, also saving up to `keep` of the inputs it handled cleanly, one per equal slice of
    the run: libFuzzer keeps only inputs that reach new coverage, and in code whose work is done in
    C (upb, zlib, orjson) that is a few dozen; the sample adds the variety the mutator produced."""
    interval = seconds / keep
    next_at = time.monotonic() + interval

    def one(data: bytes) -> None:
        nonlocal next_at, keep
        run(data)
        if keep and time.monotonic() >= next_at:
            next_at += interval
            keep -= 1
            (folder / hashlib.sha1(data).hexdigest()).write_bytes(data)

    return one


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("target")
    parser.add_argument("--seconds", type=int, default=60, help="how long to fuzz")
    parser.add_argument("--max-len", type=int, default=4096, help="largest input libFuzzer generates")
    parser.add_argument("--runs", type=int, default=-1, help="stop after this many executions (-1: time only)")
    parser.add_argument("--keep", type=int, default=0,
                        help="also save this many executed inputs, evenly over the run, to the corpus")
    args, extra = parser.parse_known_args()

    # json_format is the pure-Python half of OTLP/JSON decoding: coverage there guides otlp_json
    with atheris.instrument_imports(include=["collector", "google.protobuf.json_format"]):
        from fuzz.targets import TARGETS
    if args.target not in TARGETS:
        parser.error(f"unknown target {args.target!r}; known: {', '.join(TARGETS)}")
    target = TARGETS[args.target]
    corpus = CORPUS / target.name
    corpus.mkdir(parents=True, exist_ok=True)
    CRASHES.mkdir(exist_ok=True)
    libfuzzer = [
        sys.argv[0],
        f"-max_total_time={args.seconds}",
        f"-max_len={args.max_len}",
        f"-runs={args.runs}",
        f"-artifact_prefix={CRASHES}/{target.name}-",
        "-print_final_stats=1",
        "-rss_limit_mb=1536",
        "-timeout=10",
        *extra,
        str(corpus),
    ]
    run = _sampling(target.run, corpus, args.keep, args.seconds) if args.keep > 0 else target.run
    atheris.Setup(libfuzzer, run)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
