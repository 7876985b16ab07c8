-- 47_article_checks: every fetch of an article page on record: the first fetch of each
-- newly stored article (with the validators its page answered), and every re-check with
-- its outcome; a 'revised' check that did not apply is recorded as 'stale'.
INSERT INTO article_checks (
    article_id, batch_id, run_id, checked_at, slot, outcome, status, etag, last_modified,
    revision, detail
)
SELECT
    s.article_id, s.batch_id, s.run_id, s.fetched_at, NULL, 'first', 200, s.etag,
    s.last_modified, 1, NULL
FROM staged_articles AS s
SEMI JOIN articles AS a ON a.article_id = s.article_id
ANTI JOIN article_checks AS k ON k.article_id = s.article_id AND k.outcome = 'first'
QUALIFY row_number() OVER (PARTITION BY s.article_id ORDER BY s.batch_seq, s.position) = 1
ON CONFLICT DO NOTHING;

INSERT INTO article_checks (
    article_id, batch_id, run_id, checked_at, slot, outcome, status, etag, last_modified,
    revision, detail
)
SELECT
    c.article_id,
    c.batch_id,
    c.run_id,
    c.checked_at,
    c.slot,
    CASE
        WHEN c.outcome = 'revised' AND r.article_id IS NULL THEN 'stale'
        ELSE c.outcome
    END,
    c.status,
    c.etag,
    c.last_modified,
    coalesce(r.new_revision, c.base_revision),
    c.detail
FROM staged_checks AS c
LEFT JOIN applied_revisions AS r ON r.article_id = c.article_id AND r.batch_id = c.batch_id
SEMI JOIN articles AS a ON a.article_id = c.article_id
ON CONFLICT DO NOTHING;
