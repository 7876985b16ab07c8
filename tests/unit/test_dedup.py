"""Dedup: offline clustering, the JSON-lines/CSV edges, and story assignment in DuckDB."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pytest

from pipeline.config import DedupSettings
from pipeline.dedup import (
    Document,
    DocumentError,
    cluster_documents,
    connected_components,
    read_documents_jsonl,
    update_stories,
    write_clusters_csv,
)
from pipeline.evalcorpus import CorpusSpec, generate_corpus
from pipeline.fingerprint import fingerprint

ROOT = Path(__file__).parents[2]
SEED_000 = next((ROOT / "seeds").glob("000_*.txt")).read_text(encoding="utf-8").strip()
SEED_001 = next((ROOT / "seeds").glob("001_*.txt")).read_text(encoding="utf-8").strip()
PROMO = SEED_001.splitlines()[-1]
SEED_001_BODY = "\n".join(SEED_001.splitlines()[:-1])
SETTINGS = DedupSettings()
NOW = datetime(2026, 10, 27, 12, tzinfo=UTC)
OTHER_STORY = (
    "Monsoon rains flooded low-lying districts of Mumbai on Monday, halting suburban trains.\n"
    "Officials opened relief camps in schools as water rose in several neighbourhoods.\n"
    "The weather office warned of heavy rain for two more days across the coast.\n"
    "Airlines diverted several flights while the main runway was briefly closed.")


def _copies(text: str) -> dict[str, str]:
    """Wire copies with the edits real outlets make."""
    lines = text.splitlines()
    return {
        "dateline": "KUALA LUMPUR, Oct 26 (Reuters) - " + text,
        "cut_last": "\n".join(lines[:-1]),
        "cut_two": "\n".join(lines[:-2]),
        "editors_note": "Editor's note: This story was updated with comments.\n" + text,
        "typos": text.replace("the", "teh", 4).replace("talks", "taks", 2),
    }


# --- offline ----------------------------------------------------------------------------------


def test_one_document_is_one_cluster():
    assert cluster_documents([Document("only", SEED_000)], settings=SETTINGS) == {"only": "only"}


def test_empty_texts_stay_alone():
    docs = [Document("a", ""), Document("b", ""), Document("c", "   "), Document("d", SEED_000)]
    clusters = cluster_documents(docs, settings=SETTINGS)
    assert len(set(clusters.values())) == 4


def test_no_documents():
    assert cluster_documents([], settings=SETTINGS) == {}


@pytest.mark.parametrize("edit", sorted(_copies(SEED_000)))
def test_edited_copies_join_their_original_and_the_seeds_never_merge(edit):
    docs = [Document("s0", SEED_000), Document("s1", SEED_001),
            Document("copy", _copies(SEED_000)[edit]),
            Document("copy1", _copies(SEED_001_BODY)[edit])]
    clusters = cluster_documents(docs, settings=SETTINGS)
    assert clusters["copy"] == clusters["s0"]
    assert clusters["copy1"] == clusters["s1"]
    assert clusters["s0"] != clusters["s1"]


def test_cluster_named_by_the_earliest_then_fullest_document():
    t0 = datetime(2026, 10, 26, tzinfo=UTC)
    docs = [Document("late", SEED_000, published_at=t0 + timedelta(hours=2)),
            Document("short", "\n".join(SEED_000.splitlines()[:-1]), published_at=t0),
            Document("full", SEED_000, published_at=t0)]
    assert set(cluster_documents(docs, settings=SETTINGS).values()) == {"full"}


def test_ids_are_stable_across_runs_and_input_order():
    docs = [d.document for d in generate_corpus(CorpusSpec(n_docs=150))]
    first = cluster_documents(docs, settings=SETTINGS)
    assert cluster_documents(list(reversed(docs)), settings=SETTINGS) == first


def test_duplicate_ids_are_refused():
    with pytest.raises(DocumentError):
        cluster_documents([Document("a", "x"), Document("a", "y")], settings=SETTINGS)


def test_connected_components_labels_by_smallest_member():
    labels = connected_components(6, np.array([4, 1, 2]), np.array([5, 2, 5]))
    assert labels.tolist() == [0, 1, 1, 3, 1, 1]


def test_read_jsonl_and_write_csv(tmp_path):
    path = tmp_path / "docs.jsonl"
    path.write_text('{"id": "a", "text": "x", "published_at": "2026-10-26T08:00:00Z"}\n\n'
                    '{"id": 7, "text": "y", "title": "T", "source": "s"}\n', encoding="utf-8")
    docs = read_documents_jsonl(path)
    assert [d.doc_id for d in docs] == ["a", "7"]
    assert docs[0].published_at == datetime(2026, 10, 26, 8, tzinfo=UTC)
    out = tmp_path / "clusters.csv"
    write_clusters_csv(out, cluster_documents(docs, settings=SETTINGS))
    rows = list(csv.reader(out.open(encoding="utf-8")))
    assert rows[0] == ["doc_id", "cluster_id"] and [r[0] for r in rows[1:]] == ["a", "7"]


@pytest.mark.parametrize(("content", "line"), [
    ('{"id": "a", "text": "x"}\nnot json\n', 2),
    ('{"id": "a", "text": "x"}\n{"id": "b"}\n', 2),
    ('{"text": "x"}\n', 1),
    ('[1, 2]\n', 1),
    ('{"id": "a", "text": "x"}\n\n{"id": "a", "text": "y"}\n', 3),
    ('{"id": "a", "text": "x", "published_at": "yesterday"}\n', 1),
])
def test_a_bad_line_is_named(tmp_path, content, line):
    path = tmp_path / "docs.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DocumentError, match=f"^line {line}: "):
        read_documents_jsonl(path)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(DocumentError, match="no such file"):
        read_documents_jsonl(tmp_path / "absent.jsonl")


# --- incremental, in DuckDB --------------------------------------------------------------------


def _migrated() -> duckdb.DuckDBPyConnection:
    """An in-memory database with every migration applied."""
    db = duckdb.connect()
    for migration in sorted((ROOT / "sql" / "migrations").glob("*.sql")):
        db.execute(migration.read_text(encoding="utf-8"))
    return db


@pytest.fixture
def con():
    con = _migrated()
    for view in ("stories.sql", "story_copies.sql"):
        con.execute((ROOT / "sql" / "views" / view).read_text(encoding="utf-8"))
    yield con
    con.close()


def _add(con, article_id: str, outlet: str, text: str, seen: datetime, *,
         page_type: str = "article", syndicated_from: str | None = None) -> None:
    con.execute(
        """INSERT INTO articles (article_id, url, feed_url, outlet, topic, title, text,
               text_source, content_hash, word_count, published_at, first_seen_at, fetched_at,
               run_id, page_type, syndicated_from)
           VALUES (?, ?, 'feed', ?, 'trade', ?, ?, 'page', '', 0, ?, ?, ?, 'run', ?, ?)""",
        [article_id, f"https://{outlet}/{article_id}", outlet, text.split("\n")[0][:40], text,
         seen, seen, seen, page_type, syndicated_from],
    )


def _stories(con) -> dict[str, str]:
    return dict(con.execute("SELECT article_id, story_id FROM articles ORDER BY 1").fetchall())


def _snapshot(con) -> list:
    return [con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
            for t in ("articles", "story_registry", "article_signatures", "article_bands",
                      "outlet_boilerplate", "boilerplate_edges")]


def _add_signed(con, article_id: str, outlet: str, text: str, seen: datetime) -> None:
    """An article as the loader stores it: with the shard's fingerprint and word count."""
    _add(con, article_id, outlet, text, seen)
    fp = fingerprint(text, settings=SETTINGS)
    con.execute("UPDATE articles SET word_count = ?, content_hash = ? WHERE article_id = ?",
                [fp.word_count, fp.content_hash, article_id])
    con.execute("INSERT INTO article_signatures VALUES (?, ?)", [article_id, fp.signature])


def _fixture_web(con, add=_add) -> None:
    """Two batches: each seed and its copies, spread over outlets, plus an unrelated item."""
    add(con, "cna-0", "cna.example", SEED_000, NOW)
    add(con, "mc-1", "moneycontrol.example", SEED_001, NOW)
    update_stories(con, settings=SETTINGS, now=NOW)
    later = NOW + timedelta(hours=3)
    for k, text in enumerate(v for _, v in sorted(_copies(SEED_000).items())):
        add(con, f"copy0-{k}", f"wire{k}.example", text, later)
    for k, text in enumerate(v for _, v in sorted(_copies(SEED_001_BODY).items())):
        add(con, f"copy1-{k}", f"paper{k}.example", text, later)
    add(con, "mc-2", "moneycontrol.example", OTHER_STORY + "\n" + PROMO, later)
    update_stories(con, settings=SETTINGS, now=later)


def test_the_shards_signatures_give_the_stories_signing_in_the_writer_gives(con):
    # The writer reuses a signature the shard staged unless stripping changed the text;
    # the promo outlet's texts are rewritten (and re-signed), the others are reused.
    _fixture_web(con)
    computed = [_stories(con), *(con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
                                 for t in ("story_registry", "article_signatures", "article_bands"))]
    reused = _migrated()
    _fixture_web(reused, add=_add_signed)
    assert [_stories(reused), *(reused.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
                                for t in ("story_registry", "article_signatures",
                                          "article_bands"))] == computed
    reused.close()


def test_fixture_web_seeds_form_two_stories_and_nothing_else_joins(con):
    _fixture_web(con)
    stories = _stories(con)
    s0 = {a for a, s in stories.items() if s == stories["cna-0"]}
    s1 = {a for a, s in stories.items() if s == stories["mc-1"]}
    assert s0 == {"cna-0", *(f"copy0-{k}" for k in range(5))}
    assert s1 == {"mc-1", *(f"copy1-{k}" for k in range(5))}
    assert stories["mc-2"] not in (stories["cna-0"], stories["mc-1"])
    assert all(s is not None for s in stories.values())


def test_the_promo_never_remains_once_learned_and_earlier_texts_are_recleaned(con):
    _fixture_web(con)
    texts = dict(con.execute("SELECT article_id, text FROM articles").fetchall())
    assert not [a for a, t in texts.items() if "Discover the latest Business News" in t]
    assert texts["mc-1"].endswith("in the negotiations.")
    fp = con.execute("SELECT content_hash, word_count FROM articles WHERE article_id = 'mc-1'"
                     ).fetchall()[0]
    from pipeline.fingerprint import fingerprint
    assert fp == (fingerprint(SEED_001_BODY, settings=SETTINGS).content_hash,
                  fingerprint(SEED_001_BODY, settings=SETTINGS).word_count)


def test_rerunning_changes_nothing(con):
    _fixture_web(con)
    before = _snapshot(con)
    report = update_stories(con, settings=SETTINGS, now=NOW + timedelta(hours=5))
    assert report.articles_assigned == 0
    assert _snapshot(con) == before


def test_canonical_is_the_earliest_and_views_describe_the_story(con):
    _fixture_web(con)
    row = con.execute("SELECT canonical_article_id, article_count, outlet_count, outlets "
                      "FROM stories WHERE story_id = 'story-cna-0'").fetchall()
    assert row == [("cna-0", 6, 6, sorted(["cna.example",
                                           *(f"wire{k}.example" for k in range(5))]))]
    copies = con.execute("SELECT article_id, similarity_to_canonical, delay_after_first "
                         "FROM story_copies WHERE story_id = 'story-cna-0' ORDER BY 1").fetchall()
    assert copies[0] == ("cna-0", 1.0, timedelta(0))
    assert all(sim >= SETTINGS.threshold and delay == timedelta(hours=3)
               for _, sim, delay in copies[1:])


def test_a_bridging_copy_merges_stories_keeping_the_older_id(con):
    lines = SEED_000.splitlines()
    _add(con, "head", "a.example", "\n".join(lines[:7]), NOW)
    update_stories(con, settings=SETTINGS, now=NOW)
    _add(con, "tail", "b.example", "\n".join(lines[5:]), NOW + timedelta(hours=1))
    update_stories(con, settings=SETTINGS, now=NOW + timedelta(hours=1))
    assert _stories(con)["head"] != _stories(con)["tail"]
    _add(con, "full", "c.example", SEED_000, NOW + timedelta(hours=2))
    report = update_stories(con, settings=SETTINGS, now=NOW + timedelta(hours=2))
    assert report.stories_merged == 1
    assert set(_stories(con).values()) == {"story-head"}
    merged = con.execute("SELECT story_id, merged_into FROM story_registry "
                         "WHERE merged_into IS NOT NULL").fetchall()
    assert merged == [("story-tail", "story-head")]


def test_non_article_pages_stay_out_and_old_history_is_outside_the_window(con):
    _add(con, "old", "a.example", SEED_000, NOW - timedelta(days=SETTINGS.window_days + 1))
    update_stories(con, settings=SETTINGS, now=NOW - timedelta(days=SETTINGS.window_days + 1))
    _add(con, "index", "b.example", SEED_000, NOW, page_type="index")
    _add(con, "new", "c.example", SEED_000, NOW)
    update_stories(con, settings=SETTINGS, now=NOW)
    stories = _stories(con)
    assert stories["index"] is None
    assert stories["new"] != stories["old"]


def test_declared_syndication_joins_a_trimmed_copy(con):
    _add(con, "orig", "wire.example", SEED_000, NOW)
    update_stories(con, settings=SETTINGS, now=NOW)
    trimmed = "\n".join(SEED_000.splitlines()[:5])
    _add(con, "synd", "paper.example", trimmed, NOW, syndicated_from="https://wire.example/orig")
    _add(con, "plain", "other.example", trimmed, NOW)
    update_stories(con, settings=SETTINGS, now=NOW)
    stories = _stories(con)
    assert stories["synd"] == stories["orig"]


def test_incremental_and_offline_agree_on_one_batch(con):
    labelled = generate_corpus(CorpusSpec(n_docs=120, seed=7))
    for d in labelled:
        doc = d.document
        _add(con, doc.doc_id, doc.source, doc.text, doc.published_at)
    update_stories(con, settings=SETTINGS, now=max(d.document.published_at for d in labelled))
    offline = cluster_documents([d.document for d in labelled], settings=SETTINGS)

    def partition(mapping: dict[str, str]) -> set[frozenset[str]]:
        groups: dict[str, set[str]] = {}
        for doc_id, cluster in mapping.items():
            groups.setdefault(cluster, set()).add(doc_id)
        return {frozenset(g) for g in groups.values()}

    assert partition(_stories(con)) == partition(offline)


def test_a_load_assigned_in_slices_gives_the_stories_of_one_slice(con):
    # A big load is assigned a slice at a time so its memory stays flat; each slice meets
    # the earlier ones as history, which must give the same stories.
    labelled = generate_corpus(CorpusSpec(n_docs=120, seed=11))
    sliced = _migrated()
    now = max(d.document.published_at for d in labelled)
    for db in (con, sliced):  # one load: all first seen now, published over months
        for d in labelled:
            _add(db, d.document.doc_id, d.document.source, d.document.text, now)
            db.execute("UPDATE articles SET published_at = ? WHERE article_id = ?",
                       [d.document.published_at, d.document.doc_id])
    whole = update_stories(con, settings=SETTINGS, now=now)
    parts = update_stories(sliced, settings=SETTINGS, now=now, slice_size=16)
    assert parts.articles_assigned == whole.articles_assigned == len(labelled)

    def partition(db) -> set[frozenset[str]]:
        groups: dict[str, set[str]] = {}
        for doc_id, story in _stories(db).items():
            groups.setdefault(story, set()).add(doc_id)
        return {frozenset(g) for g in groups.values()}

    assert len(partition(con)) < len(labelled)  # the corpus has copies to find
    assert partition(sliced) == partition(con)
    sliced.close()
