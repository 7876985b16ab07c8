-- 46_article_revisions: re-checks that found a changed page become revisions. A revision
-- applies only on top of the revision it was compared with (a check staged against an
-- older state is recorded as 'stale' by 47_article_checks and changes nothing).
-- Revision 1 (the article as first stored) is kept the first time an article changes.
CREATE OR REPLACE TEMP TABLE applied_revisions AS
SELECT c.*, c.base_revision + 1 AS new_revision
FROM staged_checks AS c
INNER JOIN articles AS a ON a.article_id = c.article_id AND a.revision = c.base_revision
WHERE c.outcome = 'revised'
QUALIFY row_number() OVER (PARTITION BY c.article_id ORDER BY c.batch_seq, c.checked_at) = 1;

INSERT INTO article_revisions (
    article_id, revision, fetched_at, title, text_hash, text, word_count, words_added,
    words_removed, diff, run_id
)
SELECT
    a.article_id, a.revision, a.fetched_at, a.title, a.content_hash, a.text, a.word_count,
    0, 0, NULL, a.run_id
FROM articles AS a
SEMI JOIN applied_revisions AS r ON r.article_id = a.article_id
ON CONFLICT DO NOTHING;

INSERT INTO article_revisions (
    article_id, revision, fetched_at, title, text_hash, text, word_count, words_added,
    words_removed, diff, run_id
)
SELECT
    article_id, new_revision, checked_at, title, content_hash, text, word_count, words_added,
    words_removed, diff, run_id
FROM applied_revisions
ON CONFLICT DO NOTHING;

UPDATE articles SET
    title = r.title,
    text = r.text,
    content_hash = r.content_hash,
    word_count = r.word_count,
    revision = r.new_revision,
    fetched_at = r.checked_at,
    modified_at = coalesce(r.modified_at, articles.modified_at),
    -- a changed text is no longer byte-equal to the copy it duplicated
    is_exact_duplicate = false,
    exact_duplicate_of = NULL
FROM applied_revisions AS r
WHERE articles.article_id = r.article_id;

-- Dedup compares the latest text: its signature follows the revision.
DELETE FROM article_signatures WHERE article_id IN (SELECT article_id FROM applied_revisions);
INSERT INTO article_signatures (article_id, signature)
SELECT article_id, signature FROM applied_revisions WHERE signature IS NOT NULL;
