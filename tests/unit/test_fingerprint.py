"""Fingerprints: normalisation, exact hash, shingles and MinHash signatures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pipeline.config import DedupSettings
from pipeline.fingerprint import (
    EMPTY_SLOT,
    fingerprint,
    fingerprint_texts,
    normalise_text,
    shingle_hashes,
    signatures,
    tokens,
)

SEEDS = sorted((Path(__file__).parents[2] / "seeds").glob("00*.txt"))
SETTINGS = DedupSettings()


def _jaccard(a: str, b: str, k: int = 3) -> float:
    x, y = set(shingle_hashes(a, shingle_size=k)), set(shingle_hashes(b, shingle_size=k))
    return len(x & y) / len(x | y)


def _estimate(a: str, b: str, settings: DedupSettings = SETTINGS) -> float:
    sa, sb = signatures([a, b], settings=settings)
    return float((sa == sb).mean())


@pytest.fixture(scope="module")
def seed_texts() -> list[str]:
    return [p.read_text(encoding="utf-8") for p in SEEDS]


def test_normalise_folds_case_quotes_and_spacing():
    assert normalise_text("  \u201cHello\u201d\u00a0 WORLD \u2014 it\u2019s\n") == (
        normalise_text('"hello" world - it\'s')
    )


def test_exact_hash_equal_for_reencoded_copy_and_differs_otherwise():
    a = fingerprint("The  talks ended\u2019s day.", settings=SETTINGS)
    b = fingerprint("the talks ended's DAY.", settings=SETTINGS)
    c = fingerprint("the talks ended the day.", settings=SETTINGS)
    assert a.content_hash == b.content_hash != c.content_hash


def test_tokens_split_on_unicode_punctuation_but_keep_letters():
    assert tokens("Caf\u00e9\u2014bar \u201cquoted\u201d x_y 3.5") == [
        "caf\u00e9", "bar", "quoted", "x_y", "3", "5"]


def test_batch_equals_one_by_one(seed_texts):
    texts = [*seed_texts, "", "one", "two words", seed_texts[0][:200]]
    batch = fingerprint_texts(texts, settings=SETTINGS)
    assert batch == [fingerprint(t, settings=SETTINGS) for t in texts]
    assert [f.word_count for f in batch[2:5]] == [0, 1, 2]


def test_signature_layout_is_num_perm_little_endian_uint32():
    settings = DedupSettings(num_perm=64)
    fp = fingerprint("a wire story about trade talks in the capital", settings=settings)
    assert len(fp.signature) == 4 * 64
    assert np.array_equal(np.frombuffer(fp.signature, "<u4"),
                          signatures(["a wire story about trade talks in the capital"],
                                     settings=settings)[0])


def test_empty_text_has_the_empty_signature():
    sig = signatures(["", "  \n\t ", "!!!"], settings=SETTINGS)
    assert (sig == EMPTY_SLOT).all()


def test_same_signature_in_another_process(seed_texts):
    """No Python hash(): a shard on another machine must produce the same bytes."""
    here = fingerprint(seed_texts[0], settings=SETTINGS).signature.hex()
    code = ("import sys; from pathlib import Path; from pipeline.config import DedupSettings;"
            "from pipeline.fingerprint import fingerprint;"
            f"print(fingerprint(Path({str(SEEDS[0])!r}).read_text(encoding='utf-8'),"
            "settings=DedupSettings()).signature.hex())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={"PYTHONHASHSEED": "123"}, cwd=Path(__file__).parents[2])
    assert out.stdout.strip() == here


def test_slot_agreement_tracks_true_jaccard(seed_texts):
    text = seed_texts[0]
    paragraphs = text.splitlines()
    variants = ["\n".join(paragraphs[:k]) for k in (12, 10, 8, 6, 4)]
    for variant in variants:
        exact = _jaccard(text, variant)
        assert abs(_estimate(text, variant, DedupSettings(num_perm=512)) - exact) < 0.1


def test_the_two_seed_write_ups_are_far_apart(seed_texts):
    assert _estimate(*seed_texts) < 0.1


def test_copy_with_dateline_and_cut_last_paragraph_stays_close(seed_texts):
    text = seed_texts[0]
    copy = "BEIJING (Reuters) - " + "\n".join(text.splitlines()[:-1])
    assert _estimate(text, copy) >= SETTINGS.threshold
