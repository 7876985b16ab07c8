-- run_fetch_errors: what went wrong fetching in one run, by error class and request kind
-- (feed, page, robots), with one example. Parameter $run_id. Grain: one row per (kind,
-- error class); none when every request succeeded.
WITH failures AS (
    SELECT kind, error_class, url, detail, fetched_at
    FROM fetch_log
    WHERE run_id = $run_id AND error_class IS NOT NULL
),

final AS (
    SELECT
        error_class,
        kind,
        count(*)::INTEGER                         AS requests,
        count(DISTINCT url)::INTEGER              AS urls,
        arg_min(url || ' ' || coalesce(detail, ''), fetched_at)  AS example
    FROM failures
    GROUP BY error_class, kind
)

SELECT * FROM final
ORDER BY requests DESC, error_class, kind
