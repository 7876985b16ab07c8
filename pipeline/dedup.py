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
import itertools
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import astuple, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from .boilerplate import (
    edge_sentences,
    fold_sentence,
    sentence_digest,
    strip_all,
    strip_boilerplate,
)
from .config import DedupSettings
from .errors import NewspipeError
from .fingerprint import (
    EMPTY_SLOT,
    content_hash,
    signatures,
    signatures_and_counts,
    signatures_from_bytes,
    tokens,
)
from .lsh import band_keys, candidate_pairs, optimal_bands

__all__ = [
    "Document",
    "DocumentError",
    "StoryReport",
    "clean_texts",
    "cluster_documents",
    "cluster_texts",
    "banding",
    "connected_components",
    "estimated_similarity",
    "is_copy",
    "read_documents_jsonl",
    "update_stories",
    "write_clusters_csv",
]

LSH_FN_WEIGHT = 0.9  # weight of missed copies against false candidates in choosing bands
# A candidate whose shorter text is this much inside the longer one is a copy with cuts,
# provided the shorter has enough shingles to make the estimate meaningful.
CONTAINMENT = 0.9
MIN_CONTAINED_SHINGLES = 50
MIN_BOILERPLATE_ARTICLES = 2  # different articles of one outlet that must share a sentence
#: Unassigned articles taken into story assignment at once: a big load is assigned slice by
#: slice (each meets the earlier ones as history), so its memory does not grow with its size.
STORY_SLICE = 2048
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


def banding(settings: DedupSettings) -> tuple[int, int]:
    """The LSH (bands, rows) for these settings, weighted towards recall: a false
    candidate costs one vectorised comparison, a missed copy is lost."""
    return optimal_bands(settings.threshold, settings.num_perm, fn_weight=LSH_FN_WEIGHT)


def is_copy(similarity: np.ndarray, words_a: np.ndarray, words_b: np.ndarray,
            settings: DedupSettings) -> np.ndarray:
    """The verification of candidate pairs: estimated Jaccard at least `threshold`, or the
    shorter text almost wholly inside the longer (a copy with paragraphs cut), its share
    estimated from the Jaccard and the two shingle counts."""
    k = settings.shingle_size
    size_a = np.maximum(words_a - k + 1, 1).astype(np.float64)
    size_b = np.maximum(words_b - k + 1, 1).astype(np.float64)
    shared = similarity * (size_a + size_b) / (1.0 + similarity)
    shorter = np.minimum(size_a, size_b)
    contained = (shared / shorter >= CONTAINMENT) & (shorter >= MIN_CONTAINED_SHINGLES)
    return (similarity >= settings.threshold) | contained


def _verified_pairs(sigs: np.ndarray, word_counts: np.ndarray,
                    settings: DedupSettings) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of rows sharing a band that pass is_copy."""
    bands, rows = banding(settings)
    keys = band_keys(sigs, bands, rows)
    left, right = candidate_pairs(keys, _has_words(sigs))
    similarity = estimated_similarity(sigs[left], sigs[right])
    keep = is_copy(similarity, word_counts[left], word_counts[right], settings)
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


def cluster_texts(ids: Sequence[str], texts: Sequence[str],
                  published: Sequence[datetime | None], *,
                  settings: DedupSettings) -> dict[str, str]:
    """doc_id -> cluster_id for texts already cleaned of boilerplate: the dedup engine
    (shingles, signatures, LSH, verification, clustering). A cluster is named by its
    canonical document's id."""
    if not ids:
        return {}
    sigs, word_counts = signatures_and_counts(texts, settings=settings)
    left, right = _verified_pairs(sigs, word_counts, settings)
    labels = connected_components(len(ids), left, right)
    canonical: dict[int, str] = {}
    for i in _canonical_order(published, word_counts, ids).tolist():
        canonical.setdefault(int(labels[i]), ids[i])
    return {doc_id: canonical[int(label)] for doc_id, label in zip(ids, labels, strict=True)}


def cluster_documents(docs: Iterable[Document], *, settings: DedupSettings) -> dict[str, str]:
    """doc_id -> cluster_id, the cluster named by its canonical document's id: each
    source's boilerplate stripped, then cluster_texts."""
    docs = list(docs)
    ids = [d.doc_id for d in docs]
    if len(set(ids)) != len(ids):
        raise DocumentError("document ids must be unique")
    return cluster_texts(ids, clean_texts(docs), [d.published_at for d in docs],
                         settings=settings)


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


# --- incremental, in DuckDB ------------------------------------------------------------------

STORY_ID_PREFIX = "story-"
SYNDICATION_FLOOR = 0.5  # share of the threshold a declared syndication copy must still reach


@dataclass(frozen=True, slots=True)
class StoryReport:
    """What one update_stories call did."""

    articles_assigned: int = 0
    stories_new: int = 0
    stories_merged: int = 0
    boilerplate_learned: int = 0
    articles_cleaned: int = 0  # stored texts of earlier articles rewritten by new boilerplate

    def __add__(self, other: StoryReport) -> StoryReport:
        return StoryReport(*(a + b for a, b in zip(astuple(self), astuple(other), strict=True)))


@dataclass(slots=True)
class _Pending:
    """The articles not yet in a story, column-wise, as update_stories works on them."""

    ids: list[str]
    urls: list[str]
    outlets: list[str]
    texts: list[str]
    sort_at: list[datetime]
    seen_at: list[datetime]
    syndicated_from: list[str | None]
    word_counts: list[int]
    stored: list[bytes | None]  # the loader's signatures, if any


def _pending(con: duckdb.DuckDBPyConnection, limit: int) -> _Pending:
    """The first `limit` articles not yet in a story, earliest seen first."""
    rows = con.execute(
        """
        SELECT article_id, url, outlet, text, coalesce(published_at, first_seen_at),
               first_seen_at, syndicated_from, word_count
        FROM articles
        WHERE story_id IS NULL AND page_type = 'article'
        ORDER BY first_seen_at, article_id
        LIMIT $limit
        """, {"limit": limit}
    ).fetchall()
    ids = [r[0] for r in rows]
    stored = dict(_signature_rows(con, ids))
    cols = list(zip(*rows, strict=True)) if rows else [[]] * 8
    return _Pending(ids, list(cols[1]), list(cols[2]), list(cols[3]), list(cols[4]),
                    list(cols[5]), list(cols[6]), list(cols[7]), [stored.get(i) for i in ids])


def _signature_rows(con: duckdb.DuckDBPyConnection, ids: Sequence[str]) -> list[tuple]:
    if not ids:
        return []
    return con.execute(
        "SELECT article_id, signature FROM article_signatures WHERE article_id IN "
        "(SELECT unnest($ids))", {"ids": list(ids)}
    ).fetchall()


def _learn_incrementally(
    con: duckdb.DuckDBPyConnection, batch: _Pending, now: datetime
) -> tuple[dict[str, frozenset[str]], dict[str, set[int]]]:
    """Record the batch's edge sentences, learn what now has enough support, and return
    every outlet's boilerplate keys plus the digests learned just now."""
    edges = [edge_sentences(t) for t in batch.texts]
    rows = [(o, e.digest(), sentence_digest(e.context), i)
            for i, o, es in zip(batch.ids, batch.outlets, edges, strict=True) for e in es]
    if rows:
        table = pa.table(dict(zip(("outlet", "sentence_digest", "context_digest", "article_id"),
                                  map(list, zip(*rows, strict=True)), strict=True)))
        con.register("_new_edges", table)
        con.execute("INSERT INTO boilerplate_edges SELECT * FROM _new_edges")
        con.unregister("_new_edges")
    outlets = sorted(set(batch.outlets))
    known = con.execute(
        "SELECT outlet, sentence_digest FROM outlet_boilerplate "
        "WHERE outlet IN (SELECT unnest($o))", {"o": outlets}
    ).fetchall()
    known_digests = {(o, d) for o, d in known}
    sentence_of = {(o, e.digest()): e.sentence
                   for o, es in zip(batch.outlets, edges, strict=True) for e in es}
    asked = [k for k in sentence_of if k not in known_digests]
    learned_now: dict[str, set[int]] = {}
    if asked:
        con.register("_asked", pa.table({"outlet": [o for o, _ in asked],
                                         "sentence_digest": [d for _, d in asked]}))
        support = con.execute(
            """
            SELECT e.outlet, e.sentence_digest, count(DISTINCT e.context_digest) AS support
            FROM boilerplate_edges AS e
            SEMI JOIN _asked AS a USING (outlet, sentence_digest)
            GROUP BY ALL
            HAVING count(DISTINCT e.context_digest) >= $min
            """, {"min": MIN_BOILERPLATE_ARTICLES}
        ).fetchall()
        con.unregister("_asked")
        for outlet, digest, count in support:
            con.execute("INSERT INTO outlet_boilerplate VALUES (?, ?, ?, ?, ?)",
                        [outlet, digest, sentence_of[(outlet, digest)], count, now])
            learned_now.setdefault(outlet, set()).add(digest)
    sentences_by_outlet = con.execute(
        "SELECT outlet, list(sentence) FROM outlet_boilerplate "
        "WHERE outlet IN (SELECT unnest($o)) GROUP BY outlet", {"o": outlets}
    ).fetchall()
    keys = {o: frozenset(fold_sentence(s) for s in ss) for o, ss in sentences_by_outlet}
    return keys, learned_now


def _store_fingerprints(con: duckdb.DuckDBPyConnection, ids: Sequence[str],
                        texts: Sequence[str] | None, sigs: np.ndarray, seen_at: Sequence,
                        settings: DedupSettings, *, rewrite_text: bool) -> None:
    """Upsert signatures and band keys (and, when rewritten, texts, hashes and word
    counts) of these articles, set-based."""
    if not ids:
        return
    blobs = [s.astype("<u4").tobytes() for s in sigs]
    table = {"article_id": list(ids), "signature": blobs}
    if rewrite_text and texts is not None:
        table |= {"text": list(texts), "content_hash": [content_hash(t) for t in texts],
                  "word_count": [len(tokens(t)) for t in texts]}  # few: only re-cleaned
    con.register("_fp", pa.table(table))
    if rewrite_text:
        con.execute("""UPDATE articles SET text = f.text, content_hash = f.content_hash,
                       word_count = f.word_count FROM _fp AS f
                       WHERE articles.article_id = f.article_id""")
    con.execute("""INSERT INTO article_signatures SELECT article_id, signature FROM _fp
                   ON CONFLICT (article_id) DO UPDATE SET signature = excluded.signature""")
    con.unregister("_fp")
    bands, rows = banding(settings)
    keys = band_keys(sigs, bands, rows)
    has = _has_words(sigs)
    con.register("_bands", pa.table({
        "band_key": keys[has].reshape(-1),
        "article_id": np.repeat(np.asarray(ids, dtype=object)[has], bands),
        "seen_at": np.repeat(np.asarray(seen_at, dtype=object)[has], bands),
    }))
    con.execute("INSERT INTO article_bands SELECT band_key, article_id, seen_at FROM _bands")
    con.unregister("_bands")


def _reclean_history(con: duckdb.DuckDBPyConnection, keys: Mapping[str, frozenset[str]],
                     learned_now: Mapping[str, set[int]], settings: DedupSettings) -> int:
    """Strip newly learned boilerplate from earlier articles of the outlet that carry it."""
    pairs = [(o, d) for o, ds in learned_now.items() for d in ds]
    if not pairs:
        return 0
    # Two steps, so the texts are read only for the few articles that carry the sentence.
    con.register("_learned", pa.table({"outlet": [o for o, _ in pairs],
                                       "sentence_digest": [d for _, d in pairs]}))
    carriers = [a for (a,) in con.execute(
        """SELECT DISTINCT e.article_id FROM boilerplate_edges AS e
           SEMI JOIN _learned AS l USING (outlet, sentence_digest)"""
    ).fetchall()]
    con.unregister("_learned")
    rows = con.execute(
        """
        SELECT article_id, outlet, text, first_seen_at FROM articles
        WHERE article_id = ANY($ids) AND story_id IS NOT NULL
        ORDER BY article_id
        """, {"ids": carriers}
    ).fetchall() if carriers else []
    changed = [(i, strip_boilerplate(t, keys.get(o, frozenset())), s) for i, o, t, s in rows]
    changed = [(i, t, s) for (i, t, s), row in zip(changed, rows, strict=True) if t != row[2]]
    if not changed:
        return 0
    ids, texts, seen = (list(c) for c in zip(*changed, strict=True))
    con.execute("DELETE FROM article_bands WHERE article_id IN (SELECT unnest($ids))",
                {"ids": ids})
    _store_fingerprints(con, ids, texts, signatures(texts, settings=settings), seen, settings,
                        rewrite_text=True)
    return len(ids)


def _history_candidates(con: duckdb.DuckDBPyConnection, keys: np.ndarray, valid: np.ndarray,
                        now: datetime, settings: DedupSettings) -> tuple[np.ndarray, list[str]]:
    """(batch row, history article) pairs sharing a band within the window, as a row
    index array and the history ids (already-assigned articles only)."""
    rows = np.repeat(np.arange(len(keys)), keys.shape[1])
    flat = keys.reshape(-1)
    mask = np.repeat(valid, keys.shape[1])
    con.register("_probe", pa.table({"row": rows[mask], "band_key": flat[mask]}))
    found = con.execute(
        """
        SELECT DISTINCT p.row, b.article_id
        FROM _probe AS p
        INNER JOIN article_bands AS b ON b.band_key = p.band_key
        WHERE b.seen_at >= $since
        """, {"since": now - timedelta(days=settings.window_days)}
    ).fetchall()
    con.unregister("_probe")
    return (np.array([r for r, _ in found], dtype=np.int64), [a for _, a in found])


@dataclass(slots=True)
class _History:
    """Already-assigned articles met as candidates: ids, stories and signatures."""

    index: dict[str, int]
    story: list[str]
    sigs: np.ndarray
    word_counts: np.ndarray


def _history(con: duckdb.DuckDBPyConnection, ids: Iterable[str], settings: DedupSettings,
             ) -> _History:
    wanted = sorted(set(ids))
    rows = con.execute(
        """
        SELECT a.article_id, a.story_id, s.signature, a.word_count
        FROM articles AS a INNER JOIN article_signatures AS s USING (article_id)
        WHERE a.article_id IN (SELECT unnest($ids)) AND a.story_id IS NOT NULL
          AND octet_length(s.signature) = $size
        ORDER BY a.article_id
        """, {"ids": wanted, "size": 4 * settings.num_perm}
    ).fetchall() if wanted else []
    sigs = signatures_from_bytes([r[2] for r in rows], num_perm=settings.num_perm)
    return _History({r[0]: k for k, r in enumerate(rows)}, [r[1] for r in rows], sigs,
                    np.array([r[3] for r in rows], dtype=np.int64))


def _syndication_pairs(con: duckdb.DuckDBPyConnection, batch: _Pending) -> list[tuple[int, str]]:
    """(batch row, article id) for each article naming another's URL as its canonical."""
    wanted = {u for u in batch.syndicated_from if u}
    if not wanted:
        return []
    found = dict(con.execute(
        "SELECT url, article_id FROM articles WHERE url IN (SELECT unnest($u)) "
        "AND page_type = 'article'", {"u": sorted(wanted)}
    ).fetchall())
    return [(row, found[u]) for row, u in enumerate(batch.syndicated_from)
            if u in found and found[u] != batch.ids[row]]


def _edges(con: duckdb.DuckDBPyConnection, batch: _Pending, sigs: np.ndarray,
           word_counts: np.ndarray, settings: DedupSettings,
           now: datetime) -> tuple[np.ndarray, np.ndarray, _History]:
    """Verified edges over nodes 0..n-1 (the batch) and n.. (history articles)."""
    n = len(batch.ids)
    bands, rows = banding(settings)
    keys = band_keys(sigs, bands, rows)
    valid = _has_words(sigs)
    left, right = candidate_pairs(keys, valid)
    hist_rows, hist_ids = _history_candidates(con, keys, valid, now, settings)
    synd = _syndication_pairs(con, batch)
    history = _history(con, hist_ids + [a for _, a in synd], settings)
    row_of = {a: i for i, a in enumerate(batch.ids)}
    all_sigs = np.concatenate([sigs, history.sigs])
    all_words = np.concatenate([word_counts, history.word_counts])

    def node(article_id: str) -> int:
        return row_of[article_id] if article_id in row_of else n + history.index.get(
            article_id, -n - 1)

    hist_nodes = np.array([node(a) for a in hist_ids], dtype=np.int64)
    ok = hist_nodes >= 0
    left = np.concatenate([left, hist_rows[ok]])
    right = np.concatenate([right, hist_nodes[ok]])
    similarity = estimated_similarity(all_sigs[left], all_sigs[right])
    keep = is_copy(similarity, all_words[left], all_words[right], settings)
    left, right = left[keep], right[keep]
    if synd:
        s_left = np.array([r for r, _ in synd], dtype=np.int64)
        s_right = np.array([node(a) for _, a in synd], dtype=np.int64)
        ok = (s_right >= 0) & valid[s_left]
        s_left, s_right = s_left[ok], s_right[ok]
        floor = settings.threshold * SYNDICATION_FLOOR
        keep = estimated_similarity(all_sigs[s_left], all_sigs[s_right]) >= floor
        left = np.concatenate([left, s_left[keep]])
        right = np.concatenate([right, s_right[keep]])
    return left, right, history


def _assign(con: duckdb.DuckDBPyConnection, batch: _Pending, word_counts: np.ndarray,
            labels: np.ndarray, history: _History, now: datetime) -> tuple[int, int]:
    """Give every batch article a story: join the oldest story its component touches
    (recording merges of the others), else found a new one. Returns (new, merged)."""
    n = len(batch.ids)
    members: dict[int, list[int]] = {}
    for i in range(n):
        members.setdefault(int(labels[i]), []).append(i)
    touched: dict[int, set[str]] = {}
    for k, story in enumerate(history.story):
        label = int(labels[n + k])
        if label in members:
            touched.setdefault(label, set()).add(story)
    stories = sorted({s for ss in touched.values() for s in ss})
    registry = {r[0]: r[1:] for r in con.execute(
        "SELECT story_id, created_at, canonical_article_id, canonical_at, canonical_words, "
        "merged_into FROM story_registry WHERE story_id IN (SELECT unnest($s))", {"s": stories}
    ).fetchall()} if stories else {}
    assignment, upserts, merges = [], [], []
    new_count = 0
    for label, rows in sorted(members.items()):
        live = sorted((registry[s][0], s) for s in touched.get(label, ()) if s in registry)
        candidates = [(registry[s][2], -registry[s][3], registry[s][1]) for _, s in live]
        candidates += [(batch.sort_at[i], -int(word_counts[i]), batch.ids[i]) for i in rows]
        best_at, best_words, best_id = min(candidates)
        if live:
            story_id, created_at = live[0][1], live[0][0]
            merges += [(s, story_id) for _, s in live[1:]]
        else:
            story_id, created_at = STORY_ID_PREFIX + best_id, now
            new_count += 1
        upserts.append((story_id, created_at, best_id, best_at, -best_words))
        assignment += [(batch.ids[i], story_id) for i in rows]
    _write_assignment(con, assignment, upserts, merges, now)
    return new_count, len(merges)


def _write_assignment(con: duckdb.DuckDBPyConnection, assignment: list[tuple[str, str]],
                      upserts: list[tuple], merges: list[tuple[str, str]],
                      now: datetime) -> None:
    con.register("_stories", pa.table(dict(zip(
        ("story_id", "created_at", "canonical_article_id", "canonical_at", "canonical_words"),
        map(list, zip(*upserts, strict=True)), strict=True))))
    con.execute(
        """
        INSERT INTO story_registry
        SELECT story_id, created_at, canonical_article_id, canonical_at, canonical_words,
               NULL, NULL
        FROM _stories
        ON CONFLICT (story_id) DO UPDATE SET
            canonical_article_id = excluded.canonical_article_id,
            canonical_at = excluded.canonical_at,
            canonical_words = excluded.canonical_words
        """
    )
    con.unregister("_stories")
    if merges:
        con.register("_merges", pa.table({"story_id": [a for a, _ in merges],
                                          "into_id": [b for _, b in merges]}))
        con.execute("""UPDATE story_registry SET merged_into = m.into_id, merged_at = $now
                       FROM _merges AS m WHERE story_registry.story_id = m.story_id""",
                    {"now": now})
        con.execute("""UPDATE story_registry SET merged_into = m.into_id
                       FROM _merges AS m WHERE story_registry.merged_into = m.story_id""")
        con.execute("""UPDATE articles SET story_id = m.into_id FROM _merges AS m
                       WHERE articles.story_id = m.story_id""")
        con.unregister("_merges")
    con.register("_assign", pa.table({"article_id": [a for a, _ in assignment],
                                      "story_id": [s for _, s in assignment]}))
    # `story_id IS NULL` lets the scan skip row groups of assigned (older) articles.
    con.execute("""UPDATE articles SET story_id = s.story_id FROM _assign AS s
                   WHERE articles.story_id IS NULL AND articles.article_id = s.article_id""")
    con.unregister("_assign")


def update_stories(con: duckdb.DuckDBPyConnection, *, settings: DedupSettings,
                   now: datetime, slice_size: int = STORY_SLICE,
                   max_slices: int | None = None) -> StoryReport:
    """Put every article not yet in a story (page_type 'article') into one, inside the
    caller's transaction: learn and strip outlet boilerplate (re-cleaning earlier articles
    when a sentence is newly learned), sign, find candidates by band key within the window
    and in the batch, verify, and join or found stories. Re-running changes nothing.

    Works in slices of `slice_size` articles, each assigned before the next is read; with
    `max_slices`, stops after that many (the loader commits each slice on its own)."""
    total, previous = StoryReport(), set()
    for _ in range(max_slices) if max_slices is not None else itertools.count():
        batch = _pending(con, slice_size)
        if not batch.ids:
            return total
        if previous.intersection(batch.ids):  # a bug, not bad input: never loop forever
            raise NewspipeError(f"story assignment left {batch.ids[0]} without a story")
        previous = set(batch.ids)
        total = total + _assign_slice(con, batch, settings=settings, now=now)
    return total


def _assign_slice(con: duckdb.DuckDBPyConnection, batch: _Pending, *, settings: DedupSettings,
                  now: datetime) -> StoryReport:
    keys, learned_now = _learn_incrementally(con, batch, now)
    texts = [strip_boilerplate(t, keys.get(o, frozenset()))
             for t, o in zip(batch.texts, batch.outlets, strict=True)]
    cleaned = _reclean_history(con, keys, learned_now, settings)
    rewritten = [t != old for t, old in zip(texts, batch.texts, strict=True)]
    sigs, word_counts = _batch_signatures(batch, texts, rewritten, settings)
    _rewrite_texts(con, batch, texts, word_counts, rewritten)
    left, right, history = _edges(con, batch, sigs, word_counts, settings, now)
    labels = connected_components(len(batch.ids) + len(history.story), left, right)
    new, merged = _assign(con, batch, word_counts, labels, history, now)
    _store_fingerprints(con, batch.ids, None, sigs, batch.seen_at, settings, rewrite_text=False)
    return StoryReport(
        articles_assigned=len(batch.ids),
        stories_new=new,
        stories_merged=merged,
        boilerplate_learned=sum(len(d) for d in learned_now.values()),
        articles_cleaned=cleaned,
    )


def _batch_signatures(batch: _Pending, texts: Sequence[str], rewritten: Sequence[bool],
                      settings: DedupSettings) -> tuple[np.ndarray, np.ndarray]:
    """Signatures and word counts of the batch: the shards' where the text is still the one
    they signed (the single writer should not redo their work), computed here for texts
    boilerplate stripping rewrote or that came without a signature."""
    size = 4 * settings.num_perm
    usable = [blob is not None and len(blob) == size and not changed
              for blob, changed in zip(batch.stored, rewritten, strict=True)]
    keep = [i for i, ok in enumerate(usable) if ok]
    redo = [i for i, ok in enumerate(usable) if not ok]
    sigs = np.empty((len(texts), settings.num_perm), dtype=np.uint32)
    counts = np.asarray(batch.word_counts, dtype=np.int64)
    if keep:
        sigs[keep] = signatures_from_bytes([batch.stored[i] for i in keep],
                                           num_perm=settings.num_perm)
    if redo:
        sigs[redo], counts[redo] = signatures_and_counts([texts[i] for i in redo],
                                                         settings=settings)
    return sigs, counts


def _rewrite_texts(con: duckdb.DuckDBPyConnection, batch: _Pending, texts: Sequence[str],
                   word_counts: np.ndarray, rewritten: Sequence[bool]) -> None:
    """Store the stripped text (and its hash and word count) of batch articles it changed."""
    rows = [(i, t, content_hash(t), int(n))
            for i, t, n, changed in zip(batch.ids, texts, word_counts, rewritten, strict=True)
            if changed]
    if not rows:
        return
    con.register("_texts", pa.table(dict(zip(("article_id", "text", "content_hash",
                                              "word_count"), map(list, zip(*rows, strict=True)),
                                             strict=True))))
    con.execute("""UPDATE articles SET text = t.text, content_hash = t.content_hash,
                   word_count = t.word_count FROM _texts AS t
                   WHERE articles.story_id IS NULL AND articles.article_id = t.article_id""")
    con.unregister("_texts")
