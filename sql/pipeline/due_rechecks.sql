-- due_rechecks: stored page articles of the given feeds still young enough to re-check,
-- with their last re-check slot and the page validators to send. The caller picks the
-- due ones against the schedule. Parameters: $feed_urls VARCHAR[], $since, $now.
-- Grain: one row per article.
WITH last_check AS (
    SELECT
        article_id,
        max(slot) FILTER (WHERE outcome <> 'first') AS last_slot,
        arg_max(etag, checked_at) FILTER (WHERE etag IS NOT NULL) AS etag,
        arg_max(last_modified, checked_at) FILTER (WHERE last_modified IS NOT NULL)
            AS last_modified
    FROM article_checks
    GROUP BY article_id
)

SELECT
    a.article_id,
    a.url,
    a.feed_url,
    a.outlet,
    a.title,
    a.content_hash,
    a.text,
    a.revision,
    a.first_seen_at,
    c.last_slot,
    c.etag,
    c.last_modified
FROM articles AS a
LEFT JOIN last_check AS c USING (article_id)
WHERE a.feed_url IN (SELECT unnest($feed_urls))
    AND a.text_source = 'page'
    AND a.first_seen_at >= $since
    AND a.first_seen_at <= $now
ORDER BY a.article_id
