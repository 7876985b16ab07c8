from pathlib import Path

import pytest

from pipeline.config import load_config, parse_config
from pipeline.errors import ConfigError


def _topics(*feeds):
    return {"topics": [{"name": "trade", "feeds": list(feeds)}]}


def test_valid_config_has_defaults():
    config = parse_config(_topics({"url": "http://example.com/feed.xml"}))
    assert config.schedule == "@hourly"
    assert config.fetch.allow_private_addresses is False
    (topic, feed), = config.feeds()
    assert (topic.name, feed.outlet_name, feed.push) == ("trade", "example.com", "auto")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            _topics({"url": "http://a/x"}, {"url": "ftp://b/y"}),
            "topics[0].feeds[1].url: not an http(s) URL",
        ),
        (
            _topics({"url": "http://a/x", "timezone": "Mars/Base"}),
            "topics[0].feeds[0].timezone: unknown time zone",
        ),
        ({**_topics({"url": "http://a/x"}), "shardz": 3}, "shardz: Extra inputs are not permitted"),
        ({"topics": []}, "topics:"),
        (_topics({"url": "http://a/x", "push": "sometimes"}), "topics[0].feeds[0].push"),
    ],
)
def test_errors_name_the_key_path(data, message):
    with pytest.raises(ConfigError) as excinfo:
        parse_config(data)
    assert message in str(excinfo.value)


def test_the_same_feed_twice_is_polled_once():
    config = parse_config({"topics": [
        {"name": "a", "feeds": [{"url": "http://x/f"}]},
        {"name": "b", "feeds": [{"url": "http://x/f"}, {"url": "http://x/g"}]},
    ]})
    assert [(t.name, f.url) for t, f in config.feeds()] == [("a", "http://x/f"), ("b", "http://x/g")]


def test_load_config_reports_missing_and_broken_files(tmp_path: Path):
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "absent.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("topics: [unclosed", encoding="utf-8")
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(broken)


def test_shards_running_at_once_split_the_cores_between_their_pools():
    import os

    from pipeline.runner import worker_count

    cores = len(os.sched_getaffinity(0))
    auto = parse_config(_topics({"url": "http://a/x"}))
    assert worker_count(auto) == cores
    assert worker_count(auto, sharing=2) == max(1, cores // 2)
    assert worker_count(auto, sharing=cores * 4) == 1  # never none
    fixed = parse_config({**_topics({"url": "http://a/x"}), "workers": 3})
    assert worker_count(fixed, sharing=4) == 3  # a configured number is taken as it is
