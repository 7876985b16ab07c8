-- fetch_health: is each feed working? Its last poll and last success (from `feeds`), and
-- every request made for it (from `fetch_log`): the feed's own polls and the article
-- pages its entries pointed at. Grain: one row per configured feed.
-- A page listed by two feeds counts for both. Error rate = failed requests / requests;
-- a 304 is a success.
CREATE OR REPLACE VIEW fetch_health AS
WITH feeds_in AS (
    SELECT feed_url, outlet, topic, last_polled_at, last_success_at, last_status, last_error
    FROM feeds
),

entry_pages AS (
    SELECT DISTINCT feed_url, url
    FROM feed_entries
),

requests AS (
    -- Polls of the feed itself.
    SELECT f.feed_url, l.kind, l.error_class, l.detail, l.status, l.fetched_at
    FROM feeds_in AS f
    INNER JOIN fetch_log AS l ON l.url = f.feed_url AND l.kind = 'feed'
    UNION ALL
    -- Article pages reached through the feed's entries.
    SELECT e.feed_url, l.kind, l.error_class, l.detail, l.status, l.fetched_at
    FROM entry_pages AS e
    INNER JOIN fetch_log AS l ON l.url = e.url AND l.kind = 'page'
),

counts AS (
    SELECT
        feed_url,
        count(*) FILTER (WHERE kind = 'feed')::INTEGER                             AS polls,
        count(*) FILTER (WHERE kind = 'feed' AND error_class IS NOT NULL)::INTEGER AS poll_errors,
        count(*) FILTER (WHERE kind = 'page')::INTEGER                             AS pages,
        count(*) FILTER (WHERE kind = 'page' AND error_class IS NOT NULL)::INTEGER AS page_errors,
        count(*)::INTEGER                                                          AS requests,
        count(*) FILTER (WHERE error_class IS NOT NULL)::INTEGER                  AS errors
    FROM requests
    GROUP BY feed_url
),

last_errors AS (
    SELECT
        feed_url,
        fetched_at   AS last_error_at,
        kind         AS last_error_kind,
        error_class  AS last_error_class,
        detail       AS last_error_detail
    FROM requests
    WHERE error_class IS NOT NULL
    QUALIFY row_number() OVER (PARTITION BY feed_url ORDER BY fetched_at DESC, kind) = 1
),

final AS (
    SELECT
        f.feed_url,
        f.outlet,
        f.topic,
        f.last_polled_at,
        f.last_success_at,
        f.last_status,
        f.last_error IS NOT NULL                                     AS is_failing,  -- last poll failed
        f.last_error                                                 AS last_poll_error,
        coalesce(c.polls, 0)                                         AS polls,
        coalesce(c.poll_errors, 0)                                   AS poll_errors,
        coalesce(c.pages, 0)                                         AS pages,
        coalesce(c.page_errors, 0)                                   AS page_errors,
        CASE WHEN c.requests > 0 THEN c.errors / c.requests END::DOUBLE  AS error_rate,
        e.last_error_at,
        e.last_error_kind,
        e.last_error_class,
        e.last_error_detail
    FROM feeds_in AS f
    LEFT JOIN counts AS c ON c.feed_url = f.feed_url
    LEFT JOIN last_errors AS e ON e.feed_url = f.feed_url
)

SELECT * FROM final;
