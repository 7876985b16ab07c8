"""Wire copies become stories: candidate verification, clustering, and story assignment.

One algorithm, two drivers. `cluster_documents` runs it offline over a list of documents
(the `newspipe dedup` command and the evaluation). `update_stories` runs it inside the
loader's DuckDB transaction over the articles not yet in a story, against the signatures and
LSH bands persisted for the recent past, so history is looked up by band key, never rescanned.

Both: strip each outlet's learned boilerplate, sign the text (fingerprint.py), find pairs
sharing an LSH band (lsh.py), keep the pairs whose signatures agree on at least `threshold`
of their slots (the estimated Jaccard similarity of their shingle sets), and take connected
components as stories. A story's canonical article is the earliest published (else first
seen), then the one with most words.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from .boilerplate import strip_all
from .config import DedupSettings
from .errors import NewspipeError
from .fingerprint import EMPTY_SLOT, signatures
from .lsh import band_keys, candidate_pairs, optimal_bands

__all__ = [
    "Document",
    "DocumentError",
    "cluster_documents",
    "connected_components",
    "estimated_similarity",
    "read_documents_jsonl",
    "write_clusters_csv",
]

MIN_BOILERPLATE_ARTICLES = 2  # different articles of one outlet that must share a sentence
_VERIFY_CHUNK = 65536  # candidate pairs compared at once (bounds a (chunk, num_perm) array)
_LATEST = datetime.max.replace(tzinfo=UTC)


class DocumentError(NewspipeError):
    """An offline input file is unreadable or has a bad line (the message names it)."""


@dataclass(frozen=True, slots=True)
class Document:
    """One input document of the offline dedup: id and text, the rest optional."""

    doc_id: str
    text: str
    title: str | None = None
    published_at: datetime | None = None
    source: str | None = None


# --- shared algorithm ------------------------------------------------------------------------


def estimated_similarity(sigs_a: np.ndarray, sigs_b: np.ndarray) -> np.ndarray:
    """Row-wise fraction of equal slots: the estimated Jaccard similarity of each pair."""
    out = np.empty(len(sigs_a), dtype=np.float64)
    for lo in range(0, len(sigs_a), _VERIFY_CHUNK):
        hi = lo + _VERIFY_CHUNK
        out[lo:hi] = (sigs_a[lo:hi] == sigs_b[lo:hi]).mean(axis=1)
    return out


def connected_components(n: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Component label (its smallest member index) of each of n nodes given edges, found by
    min-label propagation with pointer jumping, all in numpy."""
    labels = np.arange(n, dtype=np.int64)
    if not len(left):
        return labels
    while True:
        low = np.minimum(labels[left], labels[right])
        before = labels.copy()
        np.minimum.at(labels, left, low)
        np.minimum.at(labels, right, low)
        while True:  # pointer jumping: every node points at its root
            jumped = labels[labels]
            if np.array_equal(jumped, labels):
                break
            labels = jumped
        if np.array_equal(labels, before):
            return labels


def _has_words(sigs: np.ndarray) -> np.ndarray:
    return sigs[:, 0] != EMPTY_SLOT


def _verified_pairs(sigs: np.ndarray, settings: DedupSettings) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of rows sharing a band whose signatures agree on at least `threshold`."""
    bands, rows = optimal_bands(settings.threshold, settings.num_perm)
    keys = band_keys(sigs, bands, rows)
    left, right = candidate_pairs(keys, _has_words(sigs))
    keep = estimated_similarity(sigs[left], sigs[right]) >= settings.threshold
    return left[keep], right[keep]


def _canonical_order(published: Sequence[datetime | None], word_counts: np.ndarray,
                     ids: Sequence[str]) -> np.ndarray:
    """Indices sorted best-canonical first: earliest, then most words, then id."""
    return np.array(
        sorted(range(len(ids)),
               key=lambda i: (published[i] or _LATEST, -int(word_counts[i]), ids[i])),
        dtype=np.int64,
    )


# --- offline ---------------------------------------------------------------------------------


def clean_texts(docs: Sequence[Document]) -> list[str]:
    """Each document's text without its source's learned boilerplate."""
    # Documents without a source share no outlet: each is its own, so nothing is learned.
    pairs = [(d.source or f"\x00{i}", d.text) for i, d in enumerate(docs)]
    return strip_all(pairs, min_articles=MIN_BOILERPLATE_ARTICLES)


def cluster_documents(docs: Iterable[Document], *, settings: DedupSettings) -> dict[str, str]:
    """doc_id -> cluster_id, the cluster named by its canonical document's id."""
    docs = list(docs)
    ids = [d.doc_id for d in docs]
    if len(set(ids)) != len(ids):
        raise DocumentError("document ids must be unique")
    if not docs:
        return {}
    texts = clean_texts(docs)
    sigs = signatures(texts, settings=settings)
    left, right = _verified_pairs(sigs, settings)
    labels = connected_components(len(docs), left, right)
    word_counts = np.fromiter((len(t.split()) for t in texts), dtype=np.int64, count=len(texts))
    order = _canonical_order([d.published_at for d in docs], word_counts, ids)
    canonical: dict[int, str] = {}
    for i in order.tolist():
        canonical.setdefault(int(labels[i]), ids[i])
    return {doc_id: canonical[int(label)] for doc_id, label in zip(ids, labels, strict=True)}


def _parse_time(value: object, lineno: int) -> datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise DocumentError(f"line {lineno}: published_at must be an ISO 8601 string")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise DocumentError(f"line {lineno}: published_at {value!r} is not ISO 8601") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _optional_str(obj: dict, key: str, lineno: int) -> str | None:
    value = obj.get(key)
    if value is not None and not isinstance(value, str):
        raise DocumentError(f"line {lineno}: {key} must be a string")
    return value


def _document(line: str, lineno: int) -> Document:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DocumentError(f"line {lineno}: not valid JSON ({exc.msg})") from None
    if not isinstance(obj, dict):
        raise DocumentError(f"line {lineno}: expected a JSON object")
    doc_id, text = obj.get("id"), obj.get("text")
    if isinstance(doc_id, int) and not isinstance(doc_id, bool):
        doc_id = str(doc_id)
    if not isinstance(doc_id, str) or not doc_id:
        raise DocumentError(f"line {lineno}: missing or empty 'id'")
    if not isinstance(text, str):
        raise DocumentError(f"line {lineno}: missing 'text' (a string)")
    return Document(
        doc_id=doc_id,
        text=text,
        title=_optional_str(obj, "title", lineno),
        published_at=_parse_time(obj.get("published_at"), lineno),
        source=_optional_str(obj, "source", lineno),
    )


def read_documents_jsonl(path: str | Path) -> list[Document]:
    """Documents from a JSON-lines file; a bad line raises DocumentError naming it."""
    path = Path(path)
    docs: list[Document] = []
    first_line: dict[str, int] = {}
    try:
        with path.open(encoding="utf-8") as handle:
            for lineno, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                doc = _document(line, lineno)
                if doc.doc_id in first_line:
                    raise DocumentError(
                        f"line {lineno}: id {doc.doc_id!r} already used on line "
                        f"{first_line[doc.doc_id]}"
                    )
                first_line[doc.doc_id] = lineno
                docs.append(doc)
    except FileNotFoundError:
        raise DocumentError(f"{path}: no such file") from None
    except UnicodeDecodeError as exc:
        raise DocumentError(f"{path}: not UTF-8 ({exc.reason})") from None
    return docs


def write_clusters_csv(path: str | Path, mapping: Mapping[str, str]) -> None:
    """The CSV `doc_id,cluster_id`, one row per document in the mapping's order."""
    with Path(path).open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["doc_id", "cluster_id"])
        writer.writerows(mapping.items())
