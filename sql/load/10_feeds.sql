-- 10_feeds: upsert each polled feed's state. Validators and success times only move
-- forward on success, so a failed poll never loses the last good ETag.
INSERT INTO feeds (
    feed_url, topic, outlet, etag, last_modified, last_polled_at, last_success_at,
    last_entries_at, last_status, last_error, last_entry_count, last_malformed, hub_url, self_url
)
WITH latest AS (
    SELECT *
    FROM staged_feeds
    QUALIFY row_number() OVER (PARTITION BY feed_url ORDER BY polled_at DESC, batch_seq DESC) = 1
)
SELECT
    feed_url,
    topic,
    outlet,
    etag,
    last_modified,
    polled_at,
    CASE WHEN error_class IS NULL THEN polled_at END,
    CASE WHEN entry_count > 0 THEN polled_at END,
    status,
    CASE WHEN error_class IS NOT NULL THEN error_class || ': ' || coalesce(error_detail, '') END,
    CASE WHEN not_modified THEN NULL ELSE entry_count END,
    CASE WHEN not_modified OR error_class IS NOT NULL THEN NULL ELSE is_malformed END,
    hub_url,
    self_url
FROM latest
ON CONFLICT (feed_url) DO UPDATE SET
    topic = excluded.topic,
    outlet = excluded.outlet,
    etag = CASE WHEN excluded.last_error IS NULL THEN coalesce(excluded.etag, feeds.etag) ELSE feeds.etag END,
    last_modified = CASE
        WHEN excluded.last_error IS NULL THEN coalesce(excluded.last_modified, feeds.last_modified)
        ELSE feeds.last_modified
    END,
    last_polled_at = excluded.last_polled_at,
    last_success_at = coalesce(excluded.last_success_at, feeds.last_success_at),
    last_entries_at = coalesce(excluded.last_entries_at, feeds.last_entries_at),
    last_status = excluded.last_status,
    last_error = excluded.last_error,
    last_entry_count = coalesce(excluded.last_entry_count, feeds.last_entry_count),
    last_malformed = coalesce(excluded.last_malformed, feeds.last_malformed),
    hub_url = coalesce(excluded.hub_url, feeds.hub_url),
    self_url = coalesce(excluded.self_url, feeds.self_url);
