"""LSH banding for MinHash signatures: the banding maths, band keys, and candidate pairs.

The maths are pure functions at the top (the probability that a pair of a given Jaccard
similarity shares a band, and the bands/rows split that balances misses against false
candidates for a threshold); below them, band keys for a whole batch and the candidate
pairs found by sorting those keys, not by Python dictionaries.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "band_keys",
    "candidate_pairs",
    "collision_probability",
    "false_negative_probability",
    "false_positive_probability",
    "optimal_bands",
]

_INTEGRATION_POINTS = 201
_BAND_SEED = 0x2545F4914F6CDD1D
_ROW_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)
# Past this size a bucket's members are paired only with their next neighbours in key order:
# a bucket that large is boilerplate or empty texts, and all-pairs would be quadratic.
_MAX_BUCKET_PAIRS_SPAN = 64


def collision_probability(similarity: float | np.ndarray, bands: int, rows: int):
    """Chance that two signatures of this Jaccard similarity share at least one band."""
    return 1.0 - (1.0 - np.asarray(similarity, dtype=np.float64) ** rows) ** bands


def false_positive_probability(threshold: float, bands: int, rows: int) -> float:
    """Area under the collision curve below the threshold: candidates that fail."""
    xs = np.linspace(0.0, threshold, _INTEGRATION_POINTS)
    return float(np.trapezoid(collision_probability(xs, bands, rows), xs))


def false_negative_probability(threshold: float, bands: int, rows: int) -> float:
    """Area above the collision curve beyond the threshold: copies never compared."""
    xs = np.linspace(threshold, 1.0, _INTEGRATION_POINTS)
    return float(np.trapezoid(1.0 - collision_probability(xs, bands, rows), xs))


def optimal_bands(threshold: float, num_perm: int, *, fn_weight: float = 0.5) -> tuple[int, int]:
    """The (bands, rows) with bands * rows <= num_perm minimising the weighted sum of the
    false positive and false negative areas (the split datasketch's MinHashLSH makes too;
    a higher `fn_weight` favours recall)."""
    pairs = np.array([(b, r) for b in range(1, num_perm + 1) for r in range(1, num_perm // b + 1)])
    bands, rows = pairs[:, :1], pairs[:, 1:]
    below = np.linspace(0.0, threshold, _INTEGRATION_POINTS)
    above = np.linspace(threshold, 1.0, _INTEGRATION_POINTS)
    false_pos = np.trapezoid(collision_probability(below, bands, rows), below, axis=1)
    false_neg = np.trapezoid(1.0 - collision_probability(above, bands, rows), above, axis=1)
    cost = (1 - fn_weight) * false_pos + fn_weight * false_neg
    best = int(np.argmin(cost))
    return int(pairs[best, 0]), int(pairs[best, 1])


def _mix(x: np.ndarray) -> np.ndarray:
    x = (x ^ (x >> np.uint64(33))) * np.uint64(0xFF51AFD7ED558CCD)
    x = (x ^ (x >> np.uint64(33))) * np.uint64(0xC4CEB9FE1A85EC53)
    return x ^ (x >> np.uint64(33))


def band_keys(sigs: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """A 64-bit key per (signature, band), as int64 (DuckDB BIGINT); the band number is
    mixed in, so keys of different bands never meet in one bucket."""
    n = sigs.shape[0]
    cube = sigs[:, : bands * rows].reshape(n, bands, rows).astype(np.uint64)
    acc = np.broadcast_to(np.arange(bands, dtype=np.uint64) + np.uint64(_BAND_SEED), (n, bands))
    acc = acc.copy()
    for r in range(rows):
        acc = _mix(acc * _ROW_MULTIPLIER + cube[:, :, r])
    return acc.view(np.int64)


def _pairs_in_sorted_runs(keys: np.ndarray, members: np.ndarray) -> tuple[np.ndarray, ...]:
    """Pairs of members whose keys are equal, given keys sorted ascending."""
    left, right = [], []
    for offset in range(1, min(_MAX_BUCKET_PAIRS_SPAN, len(keys))):
        same = keys[offset:] == keys[:-offset]
        if not same.any():
            break
        left.append(members[:-offset][same])
        right.append(members[offset:][same])
    if not left:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    return np.concatenate(left), np.concatenate(right)


def _unique_pairs(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    keep = lo != hi
    packed = np.unique((lo[keep].astype(np.int64) << 32) | hi[keep].astype(np.int64))
    return packed >> 32, packed & 0xFFFFFFFF


def candidate_pairs(keys: np.ndarray, valid: np.ndarray | None = None):
    """Index pairs (i < j) of rows of `keys` (n, bands) sharing any band key; rows not
    `valid` (texts without words) take part in none."""
    n, bands = keys.shape
    rows = np.repeat(np.arange(n, dtype=np.int64), bands)
    flat = keys.reshape(-1)
    if valid is not None:
        mask = np.repeat(valid, bands)
        rows, flat = rows[mask], flat[mask]
    order = np.argsort(flat, kind="stable")
    a, b = _pairs_in_sorted_runs(flat[order], rows[order])
    return _unique_pairs(a, b)
