-- 42_url_aliases: feed links that were not fetched because their known form (an AMP
-- twin, a redirect wrapper's target) is an article already, mapped to that article, so
-- every spelling met is on record. Grain: one row per URL (first met wins).
INSERT INTO article_urls (url, article_id, kind, first_seen_at)
SELECT s.url, u.article_id, s.kind, s.seen_at
FROM staged_aliases AS s
INNER JOIN article_urls AS u ON u.url = s.target_url
QUALIFY row_number() OVER (PARTITION BY s.url ORDER BY s.batch_seq, s.seen_at) = 1
ON CONFLICT (url) DO NOTHING;
