"""Self-metrics of the Prometheus components (names as Alloy/Prometheus export them)."""

from __future__ import annotations

from typing import Final

from prometheus_client import Counter, Gauge, Histogram

_QUEUE = ("component_id", "component_path", "remote_name", "url")
_COMPONENT = ("component_id", "component_path")

RW_SAMPLES: Final = Counter("prometheus_remote_storage_samples", "Total number of samples sent to remote storage.",
                            _QUEUE)
RW_SAMPLES_FAILED: Final = Counter(
    "prometheus_remote_storage_samples_failed",
    "Total number of samples which failed on send to remote storage, non-recoverable errors.", _QUEUE)
RW_SAMPLES_RETRIED: Final = Counter(
    "prometheus_remote_storage_samples_retried",
    "Total number of samples which failed on send to remote storage but were retried because the send error was "
    "recoverable.", _QUEUE)
RW_SAMPLES_DROPPED: Final = Counter(
    "prometheus_remote_storage_samples_dropped",
    "Total number of samples which were dropped after being read from the WAL before being sent via remote write, "
    "either via relabelling or unintentionally because of an unknown reference ID.", _QUEUE)
RW_EXEMPLARS: Final = Counter("prometheus_remote_storage_exemplars", "Total number of exemplars sent to remote storage.",
                              _QUEUE)
RW_METADATA: Final = Counter("prometheus_remote_storage_metadata", "Total number of metadata entries sent to remote "
                             "storage.", _QUEUE)
RW_BYTES: Final = Counter("prometheus_remote_storage_bytes",
                          "The total number of bytes of data (not metadata) sent by the queue after compression.",
                          _QUEUE)
RW_PENDING: Final = Gauge("prometheus_remote_storage_samples_pending",
                          "The number of samples pending in the queues shards to be sent to the remote storage.",
                          _QUEUE, multiprocess_mode="livesum")
RW_SHARDS: Final = Gauge("prometheus_remote_storage_shards", "The number of shards used for parallel sending to the "
                         "remote storage.", _QUEUE, multiprocess_mode="livesum")
RW_SHARDS_DESIRED: Final = Gauge("prometheus_remote_storage_shards_desired",
                                 "The number of shards that the queues shard calculation wants to run.", _QUEUE,
                                 multiprocess_mode="livesum")
RW_HIGHEST_SENT: Final = Gauge("prometheus_remote_storage_queue_highest_sent_timestamp_seconds",
                               "Timestamp from a WAL sample, the highest timestamp successfully sent by this queue, "
                               "in seconds since epoch.", _QUEUE, multiprocess_mode="max")
RW_BATCH_DURATION: Final = Histogram("prometheus_remote_storage_sent_batch_duration_seconds",
                                     "Duration of send calls to the remote storage.", _QUEUE)
RW_SEND_ERRORS: Final = Counter("collector_prometheus_remote_storage_send_errors",
                                "Unexpected errors (not HTTP or network failures) of a remote-write sender; "
                                "each is logged and the send retried.", _QUEUE)
HTTP_CLIENT_ERROR_REASONS: Final = ("tls", "connect", "timeout", "proxy", "oauth2", "other")
HTTP_CLIENT_ERRORS: Final = Counter("collector_http_client_request_errors",
                                    "Requests of a scrape or remote-write client that got no HTTP answer, by reason "
                                    "(tls: handshake or certificate verification failed; proxy; oauth2: no token; "
                                    "timeout; connect; other). Each is logged with the reason.",
                                    _COMPONENT + ("url", "reason"))

FORWARDED: Final = Counter("prometheus_forwarded_samples", "Total number of samples sent to downstream components.",
                           _COMPONENT)
RELABEL_PROCESSED: Final = Counter("prometheus_relabel_metrics_processed",
                                   "Total number of metrics processed", _COMPONENT)
RELABEL_WRITTEN: Final = Counter("prometheus_relabel_metrics_written", "Total number of metrics written", _COMPONENT)
RELABEL_CACHE_HITS: Final = Counter("prometheus_relabel_cache_hits", "Total number of cache hits", _COMPONENT)
RELABEL_CACHE_MISSES: Final = Counter("prometheus_relabel_cache_misses", "Total number of cache misses", _COMPONENT)
RELABEL_CACHE_SIZE: Final = Gauge("prometheus_relabel_cache_size", "Total size of relabel cache", _COMPONENT,
                                  multiprocess_mode="livesum")

SCRAPE_TARGETS: Final = Gauge("prometheus_scrape_targets_gauge", "Number of targets this component is configured "
                              "to scrape", _COMPONENT, multiprocess_mode="livesum")

OTLP_DROPPED: Final = Counter("collector_exporter_prometheus_dropped_metric_points",
                              "OTLP metric points otelcol.exporter.prometheus could not convert, by reason.",
                              _COMPONENT + ("reason",))

WAL_APPENDED: Final = Counter("prometheus_remote_write_wal_samples_appended",
                              "Total number of samples appended to the WAL.", _COMPONENT)
WAL_SIZE: Final = Gauge("prometheus_remote_write_wal_storage_size_bytes",
                        "Bytes on disk of the WAL's segments (summed over worker processes).", _COMPONENT,
                        multiprocess_mode="livesum")
WAL_SEGMENTS: Final = Gauge("prometheus_remote_write_wal_segments",
                            "Number of WAL segment files (summed over worker processes).", _COMPONENT,
                            multiprocess_mode="livesum")
WAL_DROPPED: Final = Counter("prometheus_remote_write_wal_samples_dropped",
                             "Unsent samples removed from the WAL by truncation, by reason "
                             "(max_keepalive_time, size_limit), counted once per endpoint that had not sent them.",
                             _COMPONENT + ("reason",))
WAL_CORRUPT: Final = Counter("prometheus_remote_write_wal_corrupt_records",
                             "Damaged WAL records skipped by a reader (logged); their samples are lost.",
                             _COMPONENT)
WAL_APPEND_FAILURES: Final = Counter("prometheus_remote_write_wal_append_failures",
                                     "Failed WAL appends (full disk, I/O error); the samples are held and "
                                     "the append retried.", _COMPONENT)
WAL_REPLAYED: Final = Counter("prometheus_remote_write_wal_samples_replayed",
                              "Samples read back from the WAL after a start or reload, per endpoint.", _QUEUE)
