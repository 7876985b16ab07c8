"""Revisions: the decaying schedule, word diffs, and how one re-check is judged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pipeline.config import DedupSettings, RevisionSettings, parse_config
from pipeline.errors import ConfigError
from pipeline.extract import Extraction
from pipeline.fingerprint import content_hash
from pipeline.records import Failure, Response
from pipeline.revisions import DueCheck, compare_page, due_slot, word_diff

T0 = datetime(2025, 10, 26, 9, tzinfo=UTC)
SCHEDULE = RevisionSettings().schedule_hours
TEXT = ("China and the United States agreed a framework on trade after two days of talks "
        "in Kuala Lumpur, officials said on Sunday.\nPROMO: read us on the app every day.")
STORED = "China and the United States agreed a framework on trade after two days of talks " \
         "in Kuala Lumpur, officials said on Sunday."


@pytest.mark.parametrize(("hours", "slot"), [
    (0.5, None), (1, 0), (2.9, 0), (3, 1), (11, 1), (12, 2), (30, 3), (400, 3)])
def test_due_slot_follows_the_decaying_schedule(hours, slot):
    assert due_slot(T0, T0 + timedelta(hours=hours), SCHEDULE) == slot


def test_schedule_must_increase():
    with pytest.raises(ConfigError, match="revisions.schedule_hours"):
        parse_config({"topics": [{"name": "t", "feeds": [{"url": "http://x/f"}]}],
                      "revisions": {"schedule_hours": [3, 1]}})


def test_word_diff_counts_and_shows_changes():
    added, removed, diff = word_diff("the talks ended on Saturday", "the talks ended on Sunday. "
                                     "Correction: an earlier version misstated the day.")
    assert (added, removed) == (8, 1)
    assert diff.startswith("-[Saturday] +[Sunday. Correction:")
    assert word_diff("same words", "same words") == (0, 0, "")


def _due(**kw) -> DueCheck:
    base = dict(article_id="a1", url="http://x/a", feed_url="http://x/f", outlet="o",
                title="Talks end", content_hash=content_hash(STORED), text=STORED, revision=1,
                etag='"e1"', last_modified=None, slot=0)
    return DueCheck(**(base | kw))


def _response(status: int, body: bytes = b"<html></html>") -> Response:
    return Response("http://x/a", "http://x/a", status, (("ETag", '"e2"'),), body, T0)


def _found(text: str, title: str = "Talks end") -> Extraction:
    return Extraction(title=title, text=text, text_source="page", authors=(),
                      published_at=None, published_at_source=None, site_name=None,
                      language="en", canonical_url=None, tags=())


def _judge(page, found=None, boilerplate=frozenset()):
    return compare_page(_due(), page, extract=lambda _: found, boilerplate=boilerplate,
                        settings=DedupSettings(), checked_at=T0)


def test_304_and_failures_record_the_check_only():
    assert _judge(_response(304)).outcome == "not_modified"
    failed = _judge(Failure("timeout", "http://x/a", "read timed out"))
    assert failed.outcome == "failed" and failed.fingerprint is None and failed.text is None


def test_learned_boilerplate_is_not_a_revision():
    from pipeline.boilerplate import edge_sentences

    keys = frozenset(e.key for e in edge_sentences(TEXT) if e.sentence.startswith("PROMO"))
    assert keys
    assert _judge(_response(200), _found(TEXT), boilerplate=keys).outcome == "unchanged"
    assert _judge(_response(200), _found(TEXT)).outcome == "revised"


def test_a_new_headline_or_text_is_a_revision_with_its_diff():
    headline = _judge(_response(200), _found(STORED, title="Talks end in a framework"))
    assert headline.outcome == "revised" and headline.title == "Talks end in a framework"
    assert (headline.words_added, headline.words_removed, headline.diff) == (0, 0, None)
    corrected = _judge(_response(200), _found(STORED + "\nCorrection: it was Sunday."))
    assert corrected.outcome == "revised" and corrected.base_revision == 1
    assert corrected.words_added == 4 and "+[Correction: it was Sunday.]" in corrected.diff
    assert corrected.etag == '"e2"' and corrected.fingerprint.content_hash != _due().content_hash
