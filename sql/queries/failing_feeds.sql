-- failing_feeds: which feeds are failing, or failed recently? Feeds whose last poll failed,
-- or with any failed request, or not successfully polled for 24 hours; worst first.
-- Grain: one row per such feed (none when all is well).
WITH health AS (
    SELECT *
    FROM fetch_health
),

flagged AS (
    SELECT
        *,
        last_success_at IS NULL
            OR last_success_at < now() - INTERVAL 24 HOURS  AS is_stale
    FROM health
),

final AS (
    SELECT
        feed_url,
        outlet,
        is_failing,
        is_stale,
        last_success_at,
        round(error_rate, 3)  AS error_rate,
        poll_errors,
        page_errors,
        coalesce(last_poll_error, last_error_class || ': ' || last_error_detail)  AS last_error
    FROM flagged
    WHERE is_failing OR is_stale OR poll_errors + page_errors > 0
)

SELECT * FROM final
ORDER BY is_failing DESC, is_stale DESC, error_rate DESC NULLS LAST, feed_url
