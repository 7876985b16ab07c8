"""Revisions: young articles re-checked on a decaying schedule, and what changed.

A shard re-checks the articles of its feeds that are due (by default 1, 3, 12 and 24
hours after they were first stored) with a conditional GET using the page's stored
ETag and Last-Modified. A 304 records the check only. A 200 whose text (after the
outlet's learned boilerplate is stripped) or headline differs from the stored one is a
revision: staged with its word-level diff, loaded into `article_revisions`, and the
`articles` row shows the latest. A revision keeps its story unless the new text is no
longer a copy of any other member (`reassess_stories`), then dedup places it afresh.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

import duckdb
import numpy as np

from . import store
from .boilerplate import fold_sentence, strip_boilerplate
from .config import DedupSettings
from .dedup import SYNDICATION_FLOOR, estimated_similarity
from .extract import extract_page
from .fetch import Fetcher
from .fingerprint import fingerprint_texts, signatures_from_bytes
from .records import Failure, FeedEntry, PageCheck, Response

__all__ = [
    "DueCheck",
    "compare_page",
    "due_checks",
    "due_slot",
    "reassess_stories",
    "recheck",
    "word_diff",
]

#: Changed words shown per side in a revision's short diff.
DIFF_WORDS = 12
#: Longest short diff kept (characters).
DIFF_CHARS = 400
#: Changed runs listed in a short diff.
DIFF_RUNS = 3


def due_slot(first_seen_at: datetime, now: datetime, schedule_hours: Sequence[float]) -> int | None:
    """The latest schedule slot that has come due by `now`, or None before the first.

    After downtime several slots may be past: one check serves them all, so a late
    pipeline does not fire three checks in a row.
    """
    age = now - first_seen_at
    passed = [i for i, h in enumerate(schedule_hours) if age >= timedelta(hours=h)]
    return passed[-1] if passed else None


@dataclass(frozen=True, slots=True)
class DueCheck:
    """A stored article to re-check now, with what it is compared against."""

    article_id: str
    url: str
    feed_url: str
    outlet: str
    title: str | None
    content_hash: str
    text: str
    revision: int
    etag: str | None
    last_modified: str | None
    slot: int


def due_checks(
    db_path: str,
    feed_urls: Sequence[str],
    *,
    now: datetime,
    schedule_hours: Sequence[float],
    limit: int,
) -> tuple[list[DueCheck], dict[str, frozenset[str]]]:
    """Articles of these feeds whose next re-check is due, oldest slot first, and the
    learned boilerplate of their outlets; read from the published snapshot."""
    if not schedule_hours:
        return [], {}
    con = store.reader(db_path)
    try:
        # A late pipeline still owes the last check: look back twice the last slot.
        since = now - 2 * timedelta(hours=max(schedule_hours))
        rows = con.execute(store.sql_text("pipeline/due_rechecks.sql"), {
            "feed_urls": list(feed_urls), "since": since, "now": now,
        }).fetchall()
        due = []
        for (article_id, url, feed_url, outlet, title, content_hash, text, revision,
             first_seen_at, last_slot, etag, last_modified) in rows:
            slot = due_slot(first_seen_at, now, schedule_hours)
            if slot is not None and (last_slot is None or slot > last_slot):
                due.append(DueCheck(article_id, url, feed_url, outlet, title, content_hash,
                                    text, revision, etag, last_modified, slot))
        due.sort(key=lambda d: (d.slot, d.article_id))
        due = due[:limit]
        outlets = sorted({d.outlet for d in due})
        learned = con.execute(
            "SELECT outlet, list(sentence) FROM outlet_boilerplate "
            "WHERE outlet IN (SELECT unnest($o)) GROUP BY outlet", {"o": outlets}
        ).fetchall() if outlets else []
    finally:
        con.close()
    keys = {o: frozenset(fold_sentence(s) for s in ss) for o, ss in learned}
    return due, keys


def word_diff(old: str, new: str) -> tuple[int, int, str]:
    """Words added, words removed, and a short diff (`-[old words] +[new words]` per
    changed run, the first few runs, each side cut to a dozen words)."""
    a, b = old.split(), new.split()
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    added = removed = 0
    runs = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            continue
        removed += i2 - i1
        added += j2 - j1
        if len(runs) < DIFF_RUNS:
            parts = []
            if i2 > i1:
                parts.append("-[" + _clip(a[i1:i2]) + "]")
            if j2 > j1:
                parts.append("+[" + _clip(b[j1:j2]) + "]")
            runs.append(" ".join(parts))
    more = " …" if len(runs) == DIFF_RUNS and sum(
        op != "equal" for op, *_ in matcher.get_opcodes()) > DIFF_RUNS else ""
    return added, removed, ("; ".join(runs) + more)[:DIFF_CHARS]


def _clip(words: Sequence[str]) -> str:
    return " ".join(words[:DIFF_WORDS]) + (" …" if len(words) > DIFF_WORDS else "")


def compare_page(
    due: DueCheck,
    page: Response | Failure,
    *,
    extract: Callable[[Response], object],
    boilerplate: frozenset[str],
    settings: DedupSettings,
    checked_at: datetime,
) -> PageCheck:
    """The outcome of one re-check: not modified, unchanged, revised, or failed.

    Texts are compared after the outlet's learned boilerplate is stripped, as stored
    texts are, so a promo line learned since the first fetch is not a revision; a new
    headline over the same text is one (`article_changes` lists it).
    """
    base = {"article_id": due.article_id, "url": due.url, "slot": due.slot,
            "base_revision": due.revision}
    if isinstance(page, Failure):
        return PageCheck(**base, checked_at=checked_at, outcome="failed", status=page.status,
                         detail=f"{page.kind}: {page.detail}"[:300])
    validators = {"status": page.status, "etag": page.header("etag"),
                  "last_modified": page.header("last-modified")}
    if page.status == 304:
        return PageCheck(**base, checked_at=page.fetched_at, outcome="not_modified",
                         **validators)
    found = extract(page)
    if isinstance(found, Failure) or getattr(found, "text_source", "page") != "page":
        detail = found.detail if isinstance(found, Failure) else "page gave no text"
        return PageCheck(**base, checked_at=page.fetched_at, outcome="failed",
                         detail=detail[:300], **validators)
    text = strip_boilerplate(found.text, boilerplate)
    (fp,) = fingerprint_texts([text], settings=settings)
    if fp.content_hash == due.content_hash and (found.title or "") == (due.title or ""):
        return PageCheck(**base, checked_at=page.fetched_at, outcome="unchanged", **validators)
    added, removed, diff = word_diff(due.text, text)
    return PageCheck(
        **base, checked_at=page.fetched_at, outcome="revised", **validators,
        title=found.title, text=text, fingerprint=fp, modified_at=found.modified_at,
        words_added=added, words_removed=removed, diff=diff or None,
    )


def recheck(
    fetcher: Fetcher,
    due: Sequence[DueCheck],
    *,
    timezones: Mapping[str, str],
    boilerplate: Mapping[str, frozenset[str]],
    settings: DedupSettings,
    now: Callable[[], datetime],
    concurrency: int,
) -> list[PageCheck]:
    """Conditional GET of every due page (its stored validators sent), then compare."""
    def one(item: DueCheck) -> PageCheck:
        page = fetcher.get(item.url, kind="page", etag=item.etag,
                           last_modified=item.last_modified)
        entry = FeedEntry(item.feed_url, item.url, item.url, item.title, None, None)
        zone = timezones.get(item.feed_url, "UTC")
        return compare_page(
            item, page, extract=lambda p: extract_page(p, entry, timezone=zone),
            boilerplate=boilerplate.get(item.outlet, frozenset()), settings=settings,
            checked_at=now(),
        )

    if not due:
        return []
    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(due)))) as pool:
        return list(pool.map(one, due))


def reassess_stories(con: duckdb.DuckDBPyConnection, *, settings: DedupSettings) -> int:
    """Take out of their story the articles revised in this load (`applied_revisions`) whose new text is no
    longer a copy of any other member; dedup then places them afresh. Returns how many.

    A member that names the revised article (or is named by it) as its syndication
    source is held to the lower floor dedup uses for such pairs.
    """
    rows = con.execute(store.sql_text("pipeline/revised_story_members.sql"),
                       {"size": 4 * settings.num_perm}).fetchall()
    by_article: dict[str, tuple[bytes, list[tuple[bytes, bool]]]] = {}
    for article_id, own_sig, member_sig, syndicated in rows:
        entry = by_article.setdefault(article_id, (own_sig, []))
        if member_sig is not None:
            entry[1].append((member_sig, bool(syndicated)))
    leaving = []
    for article_id, (own, members) in sorted(by_article.items()):
        if not members:
            continue  # alone in its story: nothing to stop copying
        own_sig = signatures_from_bytes([own], num_perm=settings.num_perm)[0]
        sigs = signatures_from_bytes([m for m, _ in members], num_perm=settings.num_perm)
        floors = np.array([settings.threshold * (SYNDICATION_FLOOR if s else 1.0)
                           for _, s in members])
        similarity = estimated_similarity(np.repeat(own_sig[None, :], len(sigs), axis=0), sigs)
        if not (similarity >= floors).any():
            leaving.append(article_id)
    if leaving:
        con.execute("UPDATE articles SET story_id = NULL WHERE article_id IN (SELECT unnest($ids))",
                    {"ids": leaving})
        con.execute("DELETE FROM article_bands WHERE article_id IN (SELECT unnest($ids))",
                    {"ids": leaving})
    return len(leaving)
