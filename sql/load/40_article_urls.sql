-- 40_article_urls: every URL each staged article was met under, mapped to the stored
-- article it is (by id, or by a URL already known), so no variant is fetched again.
-- `url_kinds` (parallel to `url_variants`) says how each was met: canonical, feed_link,
-- amp, wrapper, redirect, served.
INSERT INTO article_urls (url, article_id, kind, first_seen_at)
WITH variants AS (
    SELECT
        article_id, url AS canonical_url, requested_url, fetched_at, batch_seq, position,
        unnest(url_variants) AS url, unnest(url_kinds) AS url_kind
    FROM staged_articles
),

resolved AS (
    SELECT v.article_id AS staged_id, min(coalesce(a.article_id, u.article_id)) AS stored_id
    FROM variants AS v
    LEFT JOIN articles AS a ON a.article_id = v.article_id
    LEFT JOIN article_urls AS u ON u.url = v.url
    GROUP BY v.article_id
)

SELECT
    v.url,
    r.stored_id,
    coalesce(v.url_kind, CASE
        WHEN v.url = v.canonical_url THEN 'canonical'
        WHEN v.url = v.requested_url THEN 'feed_link'
        ELSE 'redirect'
    END),
    v.fetched_at
FROM variants AS v
INNER JOIN resolved AS r ON r.staged_id = v.article_id
WHERE r.stored_id IS NOT NULL
QUALIFY row_number() OVER (PARTITION BY v.url ORDER BY v.batch_seq, v.position) = 1
ON CONFLICT (url) DO NOTHING;
