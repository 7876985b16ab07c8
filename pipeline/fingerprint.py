"""Text fingerprints: normalised text, exact content hash, word shingles, MinHash signatures.

Signatures are one-permutation MinHash with optimal densification (Li, Owen & Zhang 2012;
Shrivastava 2017): every shingle is hashed once and falls into one of `num_perm` bins, each
bin keeps its minimum, and an empty bin borrows from a bin chosen by a fixed hash sequence.
The fraction of equal slots of two signatures estimates the Jaccard similarity of their
shingle sets, as with `num_perm` independent permutations, at a cost that does not grow with
`num_perm`. Everything is computed for a whole batch at once with numpy, and every hash is
seeded and fixed, so shards on different machines produce byte-identical signatures.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence

import numpy as np

from .config import DedupSettings
from .records import Fingerprint

__all__ = [
    "EMPTY_SLOT",
    "content_hash",
    "fingerprint",
    "fingerprint_texts",
    "normalise_text",
    "shingle_hashes",
    "signature_from_bytes",
    "signatures",
    "signatures_and_counts",
    "signatures_from_bytes",
    "tokens",
]

# --- normalisation -------------------------------------------------------------------------
# Typographic punctuation that NFKC keeps: folded so that a copy re-typeset with straight
# quotes or plain hyphens hashes like the original.
_PUNCTUATION_FOLDS = str.maketrans(
    {
        "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
        "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
        "\u00ab": '"', "\u00bb": '"', "\u2039": "'", "\u203a": "'",
        "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-",
        "\u2015": "-", "\u2212": "-", "\u00ad": None, "\u200b": None, "\ufeff": None,
    }
)  # fmt: skip
_WHITESPACE = re.compile(r"\s+")
# UTF-8 of punctuation that separates words like a space: (lead byte, second byte or range,
# sequence length). General Punctuation U+2000-U+203F (dashes, curly quotes, bullets,
# ellipsis), Latin-1 punctuation U+00A0-U+00BF (guillemets, section sign), CJK punctuation
# U+3000-U+303F.
_PUNCTUATION_UTF8 = (
    (0xE2, 0x80, None, None, 3),
    (0xC2, None, 0xA0, 0xBF, 2),
    (0xE3, 0x80, None, None, 3),
)

# --- hashing constants (fixed forever: changing one changes every stored signature) ----------
_BLOCK = 8  # bytes of a word hashed per step
_SHINGLE_MULTIPLIERS = np.array(
    [0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93,
     0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53, 0x94D049BB133111EB, 0xBF58476D1CE4E5B9,
     0x8CB92BA72F3D8DD7, 0xA24BAED4963EE407],
    dtype=np.uint64,
)  # fmt: skip
_DENSIFY_SEED = 0x5851F42D4C957F2D
_DENSIFY_ATTEMPTS = 256
EMPTY_SLOT = np.uint32(0xFFFFFFFF)  # every slot of a text without words
_CHUNK_DOCS = 256  # docs hashed together: arrays stay small enough to reuse heap memory


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "").casefold()


def normalise_text(text: str) -> str:
    """The canonical form of a text for the exact hash: NFKC, casefolded, folded
    typographic punctuation, whitespace collapsed, so a re-encoded copy hashes alike."""
    return _WHITESPACE.sub(" ", _fold(text).translate(_PUNCTUATION_FOLDS)).strip()


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """A bijective 64-bit finaliser: spreads every input bit over the whole word."""
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _word_byte_table() -> np.ndarray:
    table = np.zeros(256, dtype=bool)
    for char in "0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ":
        table[ord(char)] = True
    table[0x80:] = True  # bytes of non-ASCII characters: letters unless marked below
    return table


def _word_mask(raw: np.ndarray) -> np.ndarray:
    """True for the bytes of words: ASCII letters, digits, underscore and non-ASCII
    characters, except Unicode punctuation that NFKC leaves (quotes, dashes, bullets)."""
    mask = _word_byte_table()[raw]
    for lead, second, lo, hi, width in _PUNCTUATION_UTF8:
        at = np.flatnonzero(raw[: len(raw) - width + 1] == lead)
        nxt = raw[at + 1]
        at = at[(nxt == second) if hi is None else ((nxt >= lo) & (nxt <= hi))]
        for k in range(width):
            mask[at + k] = False
    return mask


def _word_spans(encoded: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The bytes of a UTF-8 text, and the start and end offsets of its words."""
    raw = np.frombuffer(encoded, dtype=np.uint8)
    is_word = _word_mask(raw)
    edges = np.diff(is_word.astype(np.int8), prepend=np.int8(0), append=np.int8(0))
    return raw, np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def tokens(text: str) -> list[str]:
    """The words of a text after folding (NFKC, casefold): what shingles are made of."""
    encoded = _fold(text).encode()
    _, starts, ends = _word_spans(encoded)
    return [encoded[a:b].decode() for a, b in zip(starts.tolist(), ends.tolist(), strict=True)]


def _word_hashes(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """A 64-bit hash of every word of all texts concatenated, and each text's word count.

    The texts are folded, encoded and joined, and all words are hashed together in numpy,
    so no Python code runs per word.
    """
    encoded = [_fold(t).encode() for t in texts]
    raw, starts, ends = _word_spans(b"\n".join(encoded))
    text_starts = np.cumsum([len(e) + 1 for e in encoded]) - np.array([len(e) + 1 for e in encoded])
    counts = np.bincount(np.searchsorted(text_starts, starts, side="right") - 1,
                         minlength=len(texts)).astype(np.int64)
    if not len(starts):
        return np.empty(0, dtype=np.uint64), counts
    return _hash_spans(raw, starts, ends - starts), counts


def _hash_spans(raw: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each byte span, read eight bytes at a time (little-endian), each
    block folded into the running hash with a bijective mix."""
    padded = np.concatenate([raw, np.zeros(_BLOCK, dtype=np.uint8)])
    windows = np.lib.stride_tricks.sliding_window_view(padded, _BLOCK)
    hashes = lengths.astype(np.uint64) * _SHINGLE_MULTIPLIERS[1]
    todo = np.arange(len(starts))
    offset = 0
    while len(todo):
        left = lengths[todo] - offset
        block = np.ascontiguousarray(windows[starts[todo] + offset]).view("<u8").ravel()
        short = left < _BLOCK
        keep = (np.uint64(1) << (np.minimum(left, _BLOCK - 1).astype(np.uint64) * np.uint64(8)))
        block = np.where(short, block & (keep - np.uint64(1)), block)
        hashes[todo] = _splitmix64(hashes[todo] ^ block)
        todo = todo[left > _BLOCK]
        offset += _BLOCK
    return hashes


def _shingles_flat(words: np.ndarray, counts: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of every k-word shingle, concatenated, and how many each text has.

    A text shorter than k words gets one shingle of all its words, so it still has a
    signature; a text without words gets none.
    """
    starts = np.cumsum(counts) - counts
    n = len(words)
    mixed = np.zeros(max(n - k + 1, 0), dtype=np.uint64)
    for j in range(k):
        mixed += words[j : j + len(mixed)] * _SHINGLE_MULTIPLIERS[j]
    per_doc = np.maximum(counts - k + 1, 0)
    # The shingles starting inside each text and ending before it does, text by text.
    offsets = np.cumsum(per_doc) - per_doc
    total = int(per_doc.sum())
    keep = np.repeat(starts - offsets, per_doc) + np.arange(total, dtype=np.int64)
    shingles = mixed[keep]
    doc_of = np.repeat(np.arange(len(counts), dtype=np.int64), per_doc)
    short = np.flatnonzero((counts > 0) & (counts < k))
    if len(short):
        extra = np.zeros(len(short), dtype=np.uint64)
        for j in range(k):
            has = counts[short] > j
            idx = starts[short][has] + j
            extra[has] += words[idx] * _SHINGLE_MULTIPLIERS[j]
        doc_of = np.concatenate([doc_of, short])
        shingles = np.concatenate([shingles, extra])
        order = np.argsort(doc_of, kind="stable")
        doc_of, shingles = doc_of[order], shingles[order]
        per_doc = per_doc.copy()
        per_doc[short] = 1
    return _splitmix64(shingles + np.uint64(k)), per_doc


def shingle_hashes(text: str, *, shingle_size: int) -> np.ndarray:
    """The distinct 64-bit shingle hashes of one text (sorted): its set for exact Jaccard."""
    words, counts = _word_hashes([text])
    flat, _ = _shingles_flat(words, counts, shingle_size)
    return np.unique(flat)


def _densify_table(num_perm: int) -> np.ndarray:
    """For each bin, the fixed sequence of bins an empty bin borrows from."""
    grid = np.arange(num_perm * _DENSIFY_ATTEMPTS, dtype=np.uint64) + np.uint64(_DENSIFY_SEED)
    donors = (_splitmix64(grid) >> np.uint64(32)) * np.uint64(num_perm) >> np.uint64(32)
    return donors.astype(np.int64).reshape(num_perm, _DENSIFY_ATTEMPTS)


def _densify(sig: np.ndarray) -> None:
    """Fill empty bins in place from donor bins, identically for every text with the same
    filled pattern, which keeps slot equality an unbiased Jaccard estimate."""
    num_perm = sig.shape[1]
    filled = sig != EMPTY_SLOT
    has_any = filled.any(axis=1)
    rows, cols = np.nonzero(~filled & has_any[:, None])
    if not len(rows):
        return
    table = _densify_table(num_perm)
    for attempt in range(_DENSIFY_ATTEMPTS):
        donors = table[cols, attempt]
        hit = filled[rows, donors]
        sig[rows[hit], cols[hit]] = sig[rows[hit], donors[hit]]
        rows, cols = rows[~hit], cols[~hit]
        if not len(rows):
            return
    # Unlucky leftovers (texts of very few shingles): the next filled bin, cyclically.
    for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
        nxt = np.flatnonzero(np.roll(filled[r], -c))[0]
        sig[r, c] = sig[r, (c + nxt) % num_perm]


def _signatures_chunk(texts: Sequence[str], shingle_size: int,
                      num_perm: int) -> tuple[np.ndarray, np.ndarray]:
    words, counts = _word_hashes(texts)
    flat, per_doc = _shingles_flat(words, counts, shingle_size)
    doc_of = np.repeat(np.arange(len(texts), dtype=np.int64), per_doc)
    bins = ((flat >> np.uint64(32)) * np.uint64(num_perm)) >> np.uint64(32)
    values = (flat & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    sig = np.full(len(texts) * num_perm, EMPTY_SLOT, dtype=np.uint32)
    np.minimum.at(sig, doc_of * num_perm + bins.astype(np.int64), values)
    sig = sig.reshape(len(texts), num_perm)
    _densify(sig)
    return sig, counts


def signatures_and_counts(texts: Sequence[str], *,
                          settings: DedupSettings) -> tuple[np.ndarray, np.ndarray]:
    """MinHash signatures of many texts as a (len(texts), num_perm) uint32 array, and each
    text's word count."""
    sigs = np.empty((len(texts), settings.num_perm), dtype=np.uint32)
    counts = np.empty(len(texts), dtype=np.int64)
    for lo in range(0, len(texts), _CHUNK_DOCS):
        chunk = texts[lo : lo + _CHUNK_DOCS]
        hi = lo + len(chunk)
        sigs[lo:hi], counts[lo:hi] = _signatures_chunk(chunk, settings.shingle_size,
                                                       settings.num_perm)
    return sigs, counts


def signatures(texts: Sequence[str], *, settings: DedupSettings) -> np.ndarray:
    """MinHash signatures of many texts as a (len(texts), num_perm) uint32 array."""
    return signatures_and_counts(texts, settings=settings)[0]


def signature_from_bytes(blob: bytes, *, num_perm: int) -> np.ndarray | None:
    """A stored signature back as uint32 slots, or None when it has the wrong size."""
    if blob is None or len(blob) != 4 * num_perm:
        return None
    return np.frombuffer(blob, dtype="<u4")


def signatures_from_bytes(blobs: Sequence[bytes], *, num_perm: int) -> np.ndarray:
    """Stored signatures of one size as a (n, num_perm) array (see signature_from_bytes)."""
    if not blobs:
        return np.empty((0, num_perm), dtype=np.uint32)
    return np.frombuffer(b"".join(blobs), dtype="<u4").reshape(len(blobs), num_perm)


def fingerprint_texts(texts: Sequence[str], *, settings: DedupSettings) -> list[Fingerprint]:
    """Exact hash, word count and MinHash signature (little-endian uint32) of each text."""
    sigs, counts = signatures_and_counts(texts, settings=settings)
    sigs = sigs.astype("<u4", copy=False)
    return [
        Fingerprint(
            content_hash=content_hash(text), word_count=int(count), signature=sig.tobytes()
        )
        for text, sig, count in zip(texts, sigs, counts, strict=True)
    ]


def content_hash(text: str) -> str:
    """The sha256 (hex) of the normalised text: equal for exact copies."""
    return hashlib.sha256(normalise_text(text).encode()).hexdigest()


def fingerprint(text: str, *, settings: DedupSettings) -> Fingerprint:
    """The fingerprint of one text (see fingerprint_texts)."""
    return fingerprint_texts([text], settings=settings)[0]
