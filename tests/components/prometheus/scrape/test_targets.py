from __future__ import annotations

from collector.protocols.prometheus.series import is_stale_nan
from collector.components.prometheus.scrape.targets import ScrapeState, owns, parse_duration, populate
from collector.protocols.prometheus.textparse import parse


def target(raw: dict[str, str], **kw: object):  # type: ignore[no-untyped-def]
    base = dict(job_name="prometheus.scrape.x", scheme="http", metrics_path="/metrics", params={}, interval=60.0,
                timeout=10.0)
    base.update(kw)
    return populate(raw, **base)  # type: ignore[arg-type]


def test_populate_defaults_and_removes_double_underscore_labels() -> None:
    t = target({"__address__": "h:9100", "__meta_x": "y", "team": "a"})
    assert t.url == "http://h:9100/metrics"
    assert t.labels == (("instance", "h:9100"), ("job", "prometheus.scrape.x"), ("team", "a"))


def test_populate_overrides_from_target_labels() -> None:
    t = target({"__address__": "h:1", "__scheme__": "https", "__metrics_path__": "/m", "__param_target": "x",
                "__scrape_interval__": "15s", "__scrape_timeout__": "5s", "job": "j", "instance": "i"},
               params={"module": ["icmp"], "target": ["old"]})
    assert t.url == "https://h:1/m?module=icmp&target=x"
    assert t.labels == (("instance", "i"), ("job", "j"))
    assert (t.interval, t.timeout) == (15.0, 5.0)
    assert target({"job": "x"}) is None


def test_parse_duration() -> None:
    assert parse_duration("1m30s") == 90
    assert parse_duration("500ms") == 0.5
    assert parse_duration("x") is None and parse_duration("") is None and parse_duration("10") is None


def test_every_target_owned_by_exactly_one_worker() -> None:
    targets = [target({"__address__": f"h{i}:1"}) for i in range(50)]
    for t in targets:
        assert sum(owns(t, w, 3) for w in range(3)) == 1
    assert len({w for t in targets for w in range(3) if owns(t, w, 3)}) == 3


def test_scrape_state_labels_synthetic_series_and_staleness() -> None:
    state = ScrapeState(target({"__address__": "h:1", "job": "j"}))
    first = state.success(parse('a{job="scraped",x="1"} 1\nb 2 123\n'), 1000, 0.5)
    rows = [(s.labels, v, t) for s, v, t in first.rows()]
    assert rows[0] == ((("__name__", "a"), ("exported_job", "scraped"), ("instance", "h:1"), ("job", "j"),
                        ("x", "1")), 1.0, 1000)
    assert rows[1] == ((("__name__", "b"), ("instance", "h:1"), ("job", "j")), 2.0, 123)
    synthetic = {dict(s.labels)["__name__"]: v for s, v, _ in first.rows()[2:]}
    assert synthetic == {"up": 1.0, "scrape_duration_seconds": 0.5, "scrape_samples_scraped": 2.0,
                         "scrape_samples_post_metric_relabeling": 2.0, "scrape_series_added": 2.0}
    second = state.success(parse("b 3\n"), 2000, 0.1)
    b_rows = [(dict(s.labels)["__name__"], v, t) for s, v, t in second.rows()]
    assert b_rows[0] == ("b", 3.0, 123) or b_rows[0] == ("b", 3.0, 2000)
    stale = [r for r in b_rows if r[0] == "a"]
    assert len(stale) == 1 and is_stale_nan(stale[0][1])
    assert dict((n, v) for n, v, _ in b_rows[2:])["scrape_series_added"] == 0.0
    failed = state.failure(3000, 0.2)
    names = [(dict(s.labels)["__name__"], v) for s, v, _ in failed.rows()]
    assert is_stale_nan(names[0][1]) and names[0][0] == "b"
    assert ("up", 0.0) in names


def test_exposition_metadata_forwarded() -> None:
    state = ScrapeState(target({"__address__": "h:1"}))
    batch = state.success(parse("# HELP a_total Requests.\n# TYPE a_total counter\na_total 1\n"), 1000, 0.1)
    assert [(md.family, md.type, md.help) for md in batch.metadata] == [("a_total", 1, "Requests.")]


def test_honor_labels_keeps_scraped_value() -> None:
    state = ScrapeState(target({"__address__": "h:1", "job": "j"}), honor_labels=True, honor_timestamps=False)
    batch = state.success(parse('a{job="scraped"} 1 5\n'), 1000, 0.1)
    assert batch.rows()[0][0].labels == (("__name__", "a"), ("instance", "h:1"), ("job", "scraped"))
    assert batch.rows()[0][2] == 1000
