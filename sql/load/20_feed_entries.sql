-- 20_feed_entries: every feed item seen for the first time; items seen before stay as they were.
INSERT INTO feed_entries (
    feed_url, entry_key, url, title, summary, published_at, categories, first_seen_at, run_id
)
SELECT
    e.feed_url,
    e.entry_key,
    e.url,
    e.title,
    e.summary,
    e.published_at,
    e.categories,
    f.polled_at,
    e.run_id
FROM staged_entries AS e
INNER JOIN staged_feeds AS f ON f.feed_url = e.feed_url AND f.batch_id = e.batch_id
QUALIFY row_number() OVER (PARTITION BY e.feed_url, e.entry_key ORDER BY e.batch_seq, e.position) = 1
ON CONFLICT (feed_url, entry_key) DO NOTHING;
