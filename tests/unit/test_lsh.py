"""LSH banding maths and candidate pairs."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.lsh import (
    band_keys,
    candidate_pairs,
    collision_probability,
    false_negative_probability,
    false_positive_probability,
    optimal_bands,
)


@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.7, 0.9])
def test_optimal_split_fits_and_beats_neighbours(threshold):
    bands, rows = optimal_bands(threshold, 128)
    assert bands * rows <= 128

    def cost(b: int, r: int) -> float:
        return 0.5 * false_positive_probability(threshold, b, r) + 0.5 * (
            false_negative_probability(threshold, b, r))

    for b, r in [(bands + 1, rows), (bands - 1, rows), (bands, rows + 1), (bands, rows - 1)]:
        if b >= 1 and r >= 1 and b * r <= 128:
            assert cost(bands, rows) <= cost(b, r)


def test_collision_curve_is_an_s_rising_with_similarity():
    xs = np.linspace(0, 1, 50)
    ys = collision_probability(xs, 16, 8)
    assert ys[0] == 0 and ys[-1] == 1 and (np.diff(ys) >= 0).all()


def test_higher_threshold_gives_steeper_bands():
    assert optimal_bands(0.8, 128)[1] > optimal_bands(0.3, 128)[1]


def test_identical_signatures_collide_and_random_ones_do_not():
    rng = np.random.default_rng(1)
    sigs = rng.integers(0, 2**32, size=(50, 128), dtype=np.uint32)
    sigs[7] = sigs[3]
    left, right = candidate_pairs(band_keys(sigs, 16, 8))
    assert list(zip(left.tolist(), right.tolist(), strict=True)) == [(3, 7)]


def test_band_number_is_part_of_the_key():
    sig = np.zeros((1, 128), dtype=np.uint32)
    assert len(set(band_keys(sig, 16, 8)[0].tolist())) == 16


def test_invalid_rows_take_part_in_no_pair():
    sigs = np.zeros((3, 128), dtype=np.uint32)
    left, _ = candidate_pairs(band_keys(sigs, 16, 8), np.array([True, False, True]))
    assert left.tolist() == [0]
