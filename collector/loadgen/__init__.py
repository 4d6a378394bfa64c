"""The load generator and counting sink operators use to size a host (`collector loadgen`,
`collector sink`) and the repository's benchmarks run (`bench/load.py`, `bench/sink.py` wrap these)."""
