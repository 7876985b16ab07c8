-- feed_states: conditional-GET validators of the given feeds, from their last poll.
-- Parameter $feed_urls: VARCHAR[]. Grain: one row per known feed.
SELECT feed_url, etag, last_modified
FROM feeds
WHERE feed_url IN (SELECT unnest($feed_urls))
