-- feeds: offending rows, one per feed that neither yielded entries since $stale_before nor
-- recorded an error on its last poll (no rows = pass). A feed with its error recorded is
-- failing loudly already; a silent one is the problem.
SELECT feed_url AS stale_feed_url
FROM feeds
WHERE (last_entries_at IS NULL OR last_entries_at < $stale_before)
    AND last_error IS NULL
ORDER BY feed_url
