"""Self-telemetry: the OpenTelemetry Collector's internal metric names, shared by every process.

Each process writes its own values; the supervisor merges them on scrape. Merging uses
prometheus_client's multiprocess mode: the supervisor sets `PROMETHEUS_MULTIPROC_DIR` in the
environment of the processes it starts (fresh interpreters), each of which then keeps its counters
in memory-mapped files of that directory. A process started without it (tests, tools) keeps them in
memory. Update counters per batch or request, never per item.
"""
