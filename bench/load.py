"""`python -m bench.load`: the load generator the bench scenarios run; the code lives in the package
(`collector/loadgen/generator.py`, also installed as `collector loadgen` with the same flags)."""

from __future__ import annotations

import argparse

from collector.loadgen.generator import Backoff, parse_retry_after, run_from_arguments, run_load
from collector.loadgen.options import LOAD_DESCRIPTION, add_load_arguments

__all__ = ["Backoff", "main", "parse_retry_after", "run_load"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=LOAD_DESCRIPTION)
    add_load_arguments(parser)
    return run_from_arguments(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
