"""Dedup accuracy gate: pairwise floors on the evaluation corpus, pinned to its digest.

The floors are the acceptance of issue 3 (F1 >= 0.95, precision >= 0.99 on pairs of
documents about one event). The digest pins the corpus the floors were measured on: if
the generator changes, this fails until the corpus is re-measured (bench/bench_dedup.py)
and the digest updated on purpose; a floor is never lowered to make it pass.
"""

from __future__ import annotations

import pytest

from pipeline.config import DedupSettings
from pipeline.dedup import cluster_documents
from pipeline.evalcorpus import CorpusSpec, corpus_digest, generate_corpus, pairwise_scores

GATE_CORPUS = CorpusSpec(n_docs=1500)
GATE_DIGEST = "4f209364540e0b6f307e856d0cb204855a05fd03ed407b70a921dd8ab0bc1d57"
F1_FLOOR = 0.95
HARD_NEGATIVE_PRECISION_FLOOR = 0.99
STRONG_EDITS = CorpusSpec(n_docs=600, seed=11, max_strength=1.0)


@pytest.fixture(scope="module")
def corpus():
    return generate_corpus(GATE_CORPUS)


def test_the_gate_corpus_is_the_one_the_floors_were_measured_on(corpus):
    assert corpus_digest(corpus) == GATE_DIGEST, (
        "the evaluation corpus changed: re-run bench/bench_dedup.py, check the floors still "
        "hold, then update GATE_DIGEST")


def test_generator_is_deterministic(corpus):
    assert corpus_digest(generate_corpus(GATE_CORPUS)) == corpus_digest(corpus)


def test_corpus_has_copies_and_hard_negatives(corpus):
    stories = {d.story for d in corpus}
    events = {d.event for d in corpus}
    assert len(corpus) == GATE_CORPUS.n_docs
    assert len(stories) > len(events)  # some events have several write-ups
    assert len(stories) < len(corpus)  # some write-ups have copies
    assert any(d.strength > 0.4 for d in corpus)


def test_default_settings_meet_the_floors(corpus):
    clusters = cluster_documents([d.document for d in corpus], settings=DedupSettings())
    scores = pairwise_scores(corpus, clusters)
    assert scores.f1 >= F1_FLOOR, scores
    assert scores.hard_negative_precision >= HARD_NEGATIVE_PRECISION_FLOOR, scores
    assert scores.ari >= F1_FLOOR - 0.01, scores


def test_heavier_edits_still_keep_write_ups_apart():
    """Stronger edits may cost recall, never the separation of same-event write-ups."""
    corpus = generate_corpus(STRONG_EDITS)
    scores = pairwise_scores(corpus, cluster_documents([d.document for d in corpus],
                                                       settings=DedupSettings()))
    assert scores.hard_negative_precision >= HARD_NEGATIVE_PRECISION_FLOOR, scores


def test_scores_of_the_truth_are_perfect_and_of_singletons_have_no_recall(corpus):
    truth = {d.document.doc_id: d.story for d in corpus}
    perfect = pairwise_scores(corpus, truth)
    assert (perfect.precision, perfect.recall, perfect.f1, perfect.ari) == (1, 1, 1, 1)
    alone = pairwise_scores(corpus, {d.document.doc_id: d.document.doc_id for d in corpus})
    assert alone.recall == 0 and alone.predicted_pairs == 0
