"""`python -m bench.sink`: the sink the bench scenarios run; the code lives in the package
(`collector/loadgen/sink.py`, also installed as `collector sink` with the same flags)."""

from __future__ import annotations

import argparse

from collector.loadgen.options import SINK_DESCRIPTION, add_sink_arguments
from collector.loadgen.sink import serve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sink", description=SINK_DESCRIPTION)
    add_sink_arguments(parser)
    return serve(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
