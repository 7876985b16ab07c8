"""news_ingest through a real Airflow against the fixture web: complete, clean, idempotent."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from pipeline import store
from pipeline.demo import trigger_and_wait
from pipeline.urls import normalise_url

pytestmark = pytest.mark.e2e

WORD = re.compile(r"[\w']+")


def _words(text: str) -> Counter:
    return Counter(w.lower() for w in WORD.findall(text))


def coverage(reference: str, stored: str) -> float:
    """Share of the reference's words (with multiplicity) found in the stored text."""
    ref = _words(reference)
    return sum((ref & _words(stored)).values()) / max(sum(ref.values()), 1)


@pytest.fixture(scope="module")
def first_run(airflow, e2e_deployment):
    run_id = trigger_and_wait(airflow, "news_ingest")
    return run_id


def _stored(db):
    con = store.reader(db)
    try:
        return {url: (text, outlet) for url, text, outlet in
                con.execute("SELECT url, text, outlet FROM articles").fetchall()}, \
            dict(con.execute("SELECT url, article_id FROM article_urls").fetchall())
    finally:
        con.close()


def test_every_fixture_article_is_stored_exactly_once(first_run, e2e_deployment, labels, fixture_server):
    articles, url_map = _stored(e2e_deployment.db)
    expected = {normalise_url(fixture_server.url(a.path)) for a in labels.articles}
    assert set(articles) == expected  # nothing missing, nothing extra (url is UNIQUE)
    con = store.reader(e2e_deployment.db)
    ids = con.execute("SELECT count(*), count(DISTINCT article_id) FROM articles").fetchall()[0]
    con.close()
    assert ids[0] == ids[1] == len(labels.articles)


def test_stored_text_covers_the_body_and_none_of_the_template(
    first_run, e2e_deployment, labels, fixture_server, fixture_web
):
    articles, _ = _stored(e2e_deployment.db)
    scores = {}
    for label in labels.articles:
        reference = label.reference_text(fixture_web)
        if not label.has_body or reference is None:
            continue
        text, outlet = articles[normalise_url(fixture_server.url(label.path))]
        scores[label.path] = coverage(reference, text)
        leaked = [m for m in labels.outlet(outlet).template_markers if m in text]
        assert leaked == [], f"{label.path} kept template text {leaked}"
    low = {path: round(score, 3) for path, score in scores.items() if score < 0.95}
    assert scores and low == {}


def test_a_second_run_stores_nothing_new(first_run, airflow, e2e_deployment):
    before, _ = _stored(e2e_deployment.db)
    second = trigger_and_wait(airflow, "news_ingest")
    after, _ = _stored(e2e_deployment.db)
    assert after.keys() == before.keys()
    con = store.reader(e2e_deployment.db)
    loaded = con.execute("SELECT articles_loaded FROM runs WHERE run_id = ?", [second]).fetchall()
    con.close()
    assert loaded == [(0,)]
