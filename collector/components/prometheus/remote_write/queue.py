"""One remote-write endpoint: per-series label rewriting, shards, batching, HTTP sending with retries.

Theory of operation: `append(batch)` maps every sample's `Series` to the labels this endpoint sends,
kept as the encoded front of its `TimeSeries` (`remote_write.timeseries_head`; `external_labels` added where missing, `write_relabel_config`
applied, as Prometheus's remote-write queue does — labels starting with `__` are sent as they are, since
OTLP attributes such as `__test` legitimately become such labels; cached per `Series`), then routes it to shard `series.hash % shards`.
That per-sample routing is done once per distinct sequence of `Series` in a batch (`_Plan`, keyed by
the tuple of `Series`; a periodic exporter sends the same sequence every interval), so in steady
state appending is a few C-level `extend`s per shard.
All samples of a series therefore go through one shard, and a shard has at most one request in flight
and retries it until it succeeds or is dropped for good, so per-series order is kept across batches
and retries. The per-`Series` caches are generational (`expiry.Generations`; the owner calls
`expire()` every `expiry.GENERATION` seconds), so entries of series no longer sent go within about a
minute (and with them the last references to those `Series`).
A shard sends when it holds `max_samples_per_send` samples or `batch_send_deadline` has
passed since its oldest unsent sample. `append` waits while a shard holds more than `capacity`
samples: backpressure reaches the worker instead of memory growing without bound.

WAL: `prometheus.remote_write` writes every batch to its WAL first and passes the record's end
position to `append`. The queue tracks, per record, how many (shard, record) runs are still unsent
(`_Mark`); when a shard finishes a send (2xx, or dropped for good and counted), the runs it covered
are done, and once every record up to some position is done, `on_ack(position)` tells the WAL that
this endpoint need not replay anything before it. Without a WAL (`on_ack` None), unsent samples are
dropped and counted at shutdown.
"""

from __future__ import annotations

import asyncio
import bisect
import collections
import functools
import hashlib
import logging
import operator
import time
from typing import Any, Callable, Iterable

import aiohttp

import collector
from collector.components.kit.exporterhelper.errors import parse_retry_after
from collector.components.kit import prometheus_metrics as m
from collector.components.kit.http_client import ClientSettings, TokenError, describe_error
from collector.config.redact import redact_url
from collector.protocols.prometheus.expiry import Generations
from collector.protocols.prometheus.relabel import apply, compile_rules
from collector.protocols.prometheus.remote_write import (
    WriteRequestEncoder,
    classify_status,
    compress,
    encode_metadata,
    next_backoff,
    request_headers,
    timeseries_head,
)
from collector.protocols.prometheus.series import Exemplar, Metadata, SampleBatch, Series, encode_labels
from collector.storage.wal import Position

USER_AGENT = f"collector/{collector.__version__}"
DEFAULT_SHARDS = 4
_LABEL_CACHE_LIMIT = 500_000
_PLAN_CACHE_LIMIT = 16


def endpoint_name(endpoint: Any) -> str:
    """Alloy names an unnamed endpoint by a short hash of its settings."""
    if endpoint.name:
        return str(endpoint.name)
    return hashlib.sha256(endpoint.url.encode()).hexdigest()[:6]


async def _wait(event: asyncio.Event, timeout: float) -> bool:
    """Wait for `event` at most `timeout` seconds. `asyncio.timeout`, unlike `wait_for` in 3.11, never
    turns a cancellation that races with the timeout into a TimeoutError (which made shutdown hang)."""
    try:
        async with asyncio.timeout(timeout):
            await event.wait()
        return True
    except TimeoutError:
        return False


def drop_older(heads: list[bytes], values: list[float], timestamps: list[int], exemplars: list[Exemplar],
               cutoff_ms: int) -> tuple[list[bytes], list[float], list[int], list[Exemplar], int]:
    """`queue_config.sample_age_limit`: the samples (and their exemplars, re-indexed) whose
    timestamp is not older than `cutoff_ms`, and how many were older."""
    keep = [i for i, ts in enumerate(timestamps) if ts >= cutoff_ms]
    if len(keep) == len(timestamps):
        return heads, values, timestamps, exemplars, 0
    new_index = {old: new for new, old in enumerate(keep)}
    kept_exemplars = [Exemplar(new_index[e.index], e.labels, e.value, e.timestamp_ms)
                      for e in exemplars if e.index in new_index]
    return ([heads[i] for i in keep], [values[i] for i in keep], [timestamps[i] for i in keep], kept_exemplars,
            len(timestamps) - len(keep))


class _Mark:
    """A WAL record's unsent (shard, record) runs; the record is done when `runs` reaches 0."""

    __slots__ = ("position", "runs")

    def __init__(self, position: Position | None) -> None:
        self.position = position
        self.runs = 0


class _Route:
    """The samples of a batch that go to one shard: their `timeseries_head`s and batch indices."""

    __slots__ = ("shard", "heads", "indices", "pick")

    def __init__(self, shard: int, heads: list[bytes], indices: list[int], total: int) -> None:
        self.shard = shard
        self.heads = heads
        self.indices = indices
        self.pick: Callable[[list[Any]], Iterable[Any]] | None
        if len(indices) == total:
            self.pick = None  # every sample: extend with the columns as they are
        elif len(indices) == 1:
            self.pick = functools.partial(_one, indices[0])
        else:
            self.pick = operator.itemgetter(*indices)


def _one(index: int, column: list[Any]) -> tuple[Any]:
    return (column[index],)


class _Plan:
    __slots__ = ("routes", "dropped")

    def __init__(self, routes: list[_Route], dropped: int) -> None:
        self.routes = routes
        self.dropped = dropped


class _Shard:
    __slots__ = ("heads", "values", "timestamps", "exemplars", "base", "first_at", "wake", "space", "task",
                 "encoder", "marks")

    def __init__(self) -> None:
        self.heads: list[bytes] = []  # remote_write.timeseries_head of each sample's endpoint labels
        self.values: list[float] = []
        self.timestamps: list[int] = []
        self.exemplars: list[Exemplar] = []  # index = absolute position (base + offset)
        self.base = 0
        self.first_at = 0.0
        self.wake = asyncio.Event()
        self.space = asyncio.Event()
        self.space.set()
        self.task: asyncio.Task[None] | None = None
        self.encoder = WriteRequestEncoder()
        self.marks: collections.deque[list[Any]] = collections.deque()  # [_Mark, samples of it queued here]


class EndpointQueue:
    def __init__(self, component_id: str, endpoint: Any, external_labels: dict[str, str], logger: logging.Logger,
                 *, clock: Callable[[], float] = time.monotonic,
                 on_ack: Callable[[Position], None] | None = None,
                 on_fault: Callable[[], None] | None = None) -> None:
        self.endpoint = endpoint
        self.queue = endpoint.queue_config
        self.name = endpoint_name(endpoint)
        self.log = logger
        self.clock = clock
        self._external = sorted(external_labels.items())
        self._rules = compile_rules(endpoint.write_relabel_config)
        self._cache: Generations[Series, bytes | None] = Generations()
        self._plans: Generations[tuple[Series, ...], _Plan] = Generations()
        nshards = min(self.queue.max_shards, max(self.queue.min_shards, DEFAULT_SHARDS))
        self._shards = [_Shard() for _ in range(nshards)]
        self._metadata: dict[str, Metadata] = {}
        self._session: aiohttp.ClientSession | None = None
        self._metadata_task: asyncio.Task[None] | None = None
        self._stopping = False
        self._stop = asyncio.Event()
        self._on_ack = on_ack
        self._records: collections.deque[_Mark] = collections.deque()
        self.live = True  # False while the owner replays this endpoint's WAL backlog
        self.fault: str | None = None  # the last unexpected error of a sender, until a send succeeds
        self._on_fault = on_fault
        self._fault_logged = -1e9
        self.url = redact_url(endpoint.url)  # for labels and logs: never the URL's credentials
        labels = (component_id, "/", self.name, self.url)
        self._m_samples = m.RW_SAMPLES.labels(*labels)
        self._m_failed = m.RW_SAMPLES_FAILED.labels(*labels)
        self._m_retried = m.RW_SAMPLES_RETRIED.labels(*labels)
        self._m_dropped = m.RW_SAMPLES_DROPPED.labels(*labels)
        self._m_exemplars = m.RW_EXEMPLARS.labels(*labels)
        self._m_metadata = m.RW_METADATA.labels(*labels)
        self._m_bytes = m.RW_BYTES.labels(*labels)
        self._m_pending = m.RW_PENDING.labels(*labels)
        self._m_highest = m.RW_HIGHEST_SENT.labels(*labels)
        self._m_duration = m.RW_BATCH_DURATION.labels(*labels)
        self._m_errors = m.RW_SEND_ERRORS.labels(*labels)
        m.RW_SHARDS.labels(*labels).set(nshards)
        m.RW_SHARDS_DESIRED.labels(*labels).set(nshards)
        self._client = ClientSettings(endpoint)
        self._request_kwargs = self._client.request_kwargs(endpoint.url)
        self._m_client_errors = {reason: m.HTTP_CLIENT_ERRORS.labels(component_id, "/", self.url, reason)
                                 for reason in m.HTTP_CLIENT_ERROR_REASONS}
        headers = {str(k): str(v) for k, v in endpoint.headers.items()}
        headers.update(self._client.static_headers)
        self._headers = request_headers(USER_AGENT, headers)

    # --- per-series label rewriting (cached) ------------------------------------------------------
    def _labels_for(self, series: Series) -> bytes | None:
        """The `timeseries_head` of the labels this endpoint sends for `series`; None: dropped."""
        labels = dict(series.labels)
        for name, value in self._external:
            labels.setdefault(name, value)
        if self._rules:
            relabelled = apply(self._rules, labels)
            if not relabelled:
                return None
            labels = relabelled
        if len(self._cache) >= _LABEL_CACHE_LIMIT:
            self._cache.clear()
        head = timeseries_head(encode_labels(sorted((k, v) for k, v in labels.items() if v)))
        self._cache[series] = head
        return head

    def expire(self) -> None:
        """Start a new cache generation: per-series labels and routing plans not used for about a
        minute go (expiry.py), and the shards' encoders drop their timestamp caches."""
        self._cache.rotate()
        self._plans.rotate()
        for shard in self._shards:
            shard.encoder.expire()

    @property
    def cached_series(self) -> int:
        return len(self._cache)

    # --- appending ---------------------------------------------------------------------------------
    def _plan(self, series: list[Series]) -> _Plan:
        """Route every sample of a batch with this series sequence: the per-sample Python work, done
        once per distinct sequence (a periodic exporter sends the same sequence every interval)."""
        cache = self._cache.young
        recall = self._cache.recall
        nshards = len(self._shards)
        heads_by: list[list[bytes]] = [[] for _ in range(nshards)]
        indices_by: list[list[int]] = [[] for _ in range(nshards)]
        dropped = 0
        for i, s in enumerate(series):
            head = cache.get(s, False)
            if head is False:
                head = recall(s, False)  # type: ignore[arg-type]
                if head is False:
                    head = self._labels_for(s)
            if head is None:
                dropped += 1
                continue
            k = s.hash % nshards
            heads_by[k].append(head)  # type: ignore[arg-type]
            indices_by[k].append(i)
        routes = [_Route(k, heads_by[k], indices_by[k], len(series)) for k in range(nshards) if indices_by[k]]
        return _Plan(routes, dropped)

    @property
    def has_space(self) -> bool:
        """Every shard holds fewer than `capacity` samples."""
        return all(shard.space.is_set() for shard in self._shards)

    async def append(self, batch: SampleBatch, position: Position | None = None) -> None:
        """Queue `batch` (the WAL record ending at `position`); waits while a shard is full."""
        self.put(batch, position)
        for shard in self._shards:
            if not shard.space.is_set():
                shard.wake.set()
                await shard.space.wait()

    def put(self, batch: SampleBatch, position: Position | None = None) -> None:
        """Queue `batch` without waiting (a shard may go over `capacity` by this batch)."""
        shards = self._shards
        key = tuple(batch.series)
        plan = self._plans.young.get(key) or self._plans.recall(key)
        if plan is None:
            plan = self._plan(batch.series)
            if len(self._plans) >= _PLAN_CACHE_LIMIT:
                self._plans.clear()
            self._plans[key] = plan
        now = self.clock()
        for shard in shards:
            if not shard.values:
                shard.first_at = now
        counts = [len(shard.values) for shard in shards]
        exemplars_by_index: dict[int, list[Exemplar]] = {}
        if batch.exemplars and self.endpoint.send_exemplars:
            for ex in batch.exemplars:
                exemplars_by_index.setdefault(ex.index, []).append(ex)
        values = batch.values
        timestamps = batch.timestamps_ms
        for route in plan.routes:
            shard = shards[route.shard]
            if exemplars_by_index:
                start = shard.base + len(shard.values)
                indices = route.indices
                for i, exemplars in exemplars_by_index.items():
                    offset = bisect.bisect_left(indices, i)
                    if offset < len(indices) and indices[offset] == i:
                        shard.exemplars.extend(Exemplar(start + offset, e.labels, e.value, e.timestamp_ms)
                                               for e in exemplars)
            shard.heads.extend(route.heads)
            if route.pick is None:
                shard.values.extend(values)
                shard.timestamps.extend(timestamps)
            else:
                shard.values.extend(route.pick(values))
                shard.timestamps.extend(route.pick(timestamps))
        dropped = plan.dropped
        if dropped:
            self._m_dropped.inc(dropped)
        for meta in batch.metadata:
            self._metadata[meta.family] = meta
        mark = _Mark(position)
        pending = 0
        for shard, before in zip(shards, counts):
            n = len(shard.values)
            if n > before:
                mark.runs += 1
                shard.marks.append([mark, n - before])
            pending += n
            if n:
                shard.wake.set()
            if n >= self.queue.capacity:
                shard.space.clear()
        self._m_pending.set(pending)
        if self._on_ack is not None:
            self._records.append(mark)
            self._advance()

    # --- lifecycle ------------------------------------------------------------------------------------
    async def start(self) -> None:
        timeout = aiohttp.ClientTimeout(total=self.endpoint.remote_timeout)
        self._session = aiohttp.ClientSession(timeout=timeout, skip_auto_headers=("User-Agent",))
        for shard in self._shards:
            shard.task = asyncio.create_task(self._run_shard(shard), name=f"remote_write {self.name} shard")
        if self.endpoint.metadata_config.send:
            self._metadata_task = asyncio.create_task(self._run_metadata(), name=f"remote_write {self.name} metadata")

    async def stop(self, deadline: float | None) -> None:
        """Flush what is queued until the monotonic `deadline`, then stop; idempotent."""
        if self._session is None:
            return
        self._stopping = True
        self._stop.set()
        for shard in self._shards:
            shard.wake.set()
        tasks = [s.task for s in self._shards if s.task is not None]
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        if tasks:
            done, pending = await asyncio.wait(tasks, timeout=timeout)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        unsent = sum(len(s.values) for s in self._shards)
        if unsent and self._on_ack is not None:
            self.log.info("%d unsent samples stay in the WAL for the next start", unsent)
        elif unsent:
            self._m_dropped.inc(unsent)
            self.log.warning("dropping %d unsent samples at shutdown", unsent)
        if self._metadata_task is not None:
            self._metadata_task.cancel()
            await asyncio.gather(self._metadata_task, return_exceptions=True)
        session, self._session = self._session, None
        await session.close()

    # --- sending --------------------------------------------------------------------------------------
    async def _run_shard(self, shard: _Shard) -> None:
        """Run the shard; an unexpected exception is logged, reported and the shard goes on."""
        backoff = 0.0
        while True:
            try:
                await self._shard_loop(shard)
                return
            except asyncio.CancelledError:
                raise
            except Exception as err:
                self._report_fault(err, "remote write shard failed; restarting it")
                backoff = next_backoff(backoff, self.queue.min_backoff, self.queue.max_backoff)
                if self._stopping:
                    return
                await _wait(self._stop, backoff)

    def _report_fault(self, err: BaseException, message: str) -> None:
        """Log (with the traceback at most once a minute), count and make the component unhealthy."""
        self.fault = f"{type(err).__name__}: {err}"
        self._m_errors.inc()
        now = time.monotonic()
        if now - self._fault_logged >= 60.0:
            self._fault_logged = now
            self.log.error("%s: %s", message, self.fault, exc_info=err)
        if self._on_fault is not None:
            self._on_fault()

    def _clear_fault(self) -> None:
        if self.fault is not None:
            self.fault = None
            self.log.info("remote write endpoint %s sends again", self.name)
            if self._on_fault is not None:
                self._on_fault()

    async def _shard_loop(self, shard: _Shard) -> None:
        max_n = self.queue.max_samples_per_send
        deadline = self.queue.batch_send_deadline
        while True:
            if not shard.values:
                if self._stopping:
                    return
                shard.wake.clear()
                await shard.wake.wait()
                continue
            if len(shard.values) < max_n and not self._stopping:
                remaining = shard.first_at + deadline - self.clock()
                if remaining > 0:
                    shard.wake.clear()
                    await _wait(shard.wake, remaining)
                    continue
            n = min(max_n, len(shard.values))
            heads, values, timestamps = shard.heads[:n], shard.values[:n], shard.timestamps[:n]
            del shard.heads[:n], shard.values[:n], shard.timestamps[:n]
            limit = shard.base + n
            exemplars = [Exemplar(e.index - shard.base, e.labels, e.value, e.timestamp_ms)
                         for e in shard.exemplars if e.index < limit]
            if exemplars:
                shard.exemplars = [e for e in shard.exemplars if e.index >= limit]
            shard.base = limit
            shard.first_at = self.clock()
            if len(shard.values) < self.queue.capacity:
                shard.space.set()
            if self.queue.sample_age_limit > 0:
                cutoff_ms = int((time.time() - self.queue.sample_age_limit) * 1000)
                heads, values, timestamps, exemplars, old = drop_older(heads, values, timestamps, exemplars,
                                                                       cutoff_ms)
                if old:
                    self._m_dropped.inc(old)
                    self.log.warning("dropped %d samples older than sample_age_limit (%gs)", old,
                                     self.queue.sample_age_limit)
                if not values:
                    self._settled(shard, n)
                    continue
            try:
                body = compress(shard.encoder.encode_heads(heads, values, timestamps, exemplars))
            except Exception as err:  # these samples cannot be encoded: dropped for good, counted
                self._m_failed.inc(len(values))
                self._report_fault(err, f"dropping {len(values)} samples that cannot be encoded")
                self._settled(shard, n)
                continue
            await self._send(body, len(values), len(exemplars), max(timestamps))
            self._settled(shard, n)

    def _settled(self, shard: _Shard, n: int) -> None:
        """The shard's oldest `n` samples were sent or dropped for good: finish their WAL runs."""
        marks = shard.marks
        while n > 0 and marks:
            run = marks[0]
            if run[1] <= n:
                n -= run[1]
                marks.popleft()
                run[0].runs -= 1
            else:
                run[1] -= n
                n = 0
        if self._on_ack is not None:
            self._advance()

    def _advance(self) -> None:
        records = self._records
        done: Position | None = None
        while records and records[0].runs == 0:
            done = records.popleft().position or done
        if done is not None and self._on_ack is not None:
            self._on_ack(done)

    async def _run_metadata(self) -> None:
        interval = self.endpoint.metadata_config.send_interval
        per_send = self.endpoint.metadata_config.max_samples_per_send
        while not self._stopping:
            if await _wait(self._stop, interval):
                return
            entries = list(self._metadata.values())
            for start in range(0, len(entries), per_send):
                chunk = entries[start:start + per_send]
                body = compress(b"".join(encode_metadata(e) for e in chunk))
                if (await self._attempt(body))[0] == "ok":
                    self._m_metadata.inc(len(chunk))

    async def _post(self, body: bytes) -> tuple[str, float | None]:
        """One attempt: ("ok" | "retry" | "drop", the server's Retry-After in seconds or None)."""
        assert self._session is not None
        try:
            headers = self._headers
            if self._client.oauth2 is not None:
                headers = {**headers, **await self._client.auth_headers(self._session)}
            async with self._session.post(self.endpoint.url, data=body, headers=headers,
                                          **self._request_kwargs) as resp:
                excerpt = (await resp.content.read(256)).decode("utf-8", "replace")
                decision = classify_status(resp.status, self.queue.retry_on_http_429)
                if decision == "ok":
                    return ("ok", None)
                hint = parse_retry_after(resp.headers.get("Retry-After"), time.time())
                self.log.log(logging.ERROR if decision == "drop" else logging.WARNING,
                             "%s remote write request: HTTP %d: %s",
                             "non-recoverable error on" if decision == "drop" else "failed to send", resp.status,
                             excerpt.strip())
                return (decision, hint)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError, TokenError) as err:
            reason, message = describe_error(err)
            self._m_client_errors[reason].inc()
            self.log.warning("failed to send remote write request to %s: %s", self.url, message)
            return ("retry", None)

    async def _attempt(self, body: bytes) -> tuple[str, float | None]:
        """`_post`, where any other exception (a bug, a header the client refuses) is a fault:
        logged, counted, reported in health, and retried like a network error."""
        try:
            result = await self._post(body)
        except asyncio.CancelledError:
            raise
        except Exception as err:
            self._report_fault(err, "unexpected error sending a remote write request; retrying")
            return ("retry", None)
        self._clear_fault()
        return result

    async def _send(self, body: bytes, samples: int, exemplars: int, highest_ms: int) -> None:
        backoff = 0.0
        while True:
            self._m_samples.inc(samples)
            started = time.monotonic()
            decision, hint = await self._attempt(body)
            self._m_duration.observe(time.monotonic() - started)
            if decision == "ok":
                self._m_bytes.inc(len(body))
                self._m_exemplars.inc(exemplars)
                self._m_highest.set(highest_ms / 1000)
                return
            if decision == "drop":
                self._m_failed.inc(samples)
                return
            self._m_retried.inc(samples)
            backoff = next_backoff(backoff, self.queue.min_backoff, self.queue.max_backoff)
            delay = hint if hint is not None else backoff
            if self._stopping:
                # keep retrying until shutdown's deadline cancels us
                await asyncio.sleep(delay)
                continue
            await _wait(self._stop, delay)

    def count_dropped(self, samples: int) -> None:
        self._m_dropped.inc(samples)

    @property
    def pending(self) -> int:
        return sum(len(s.values) for s in self._shards)
