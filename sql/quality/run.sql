-- run: the metrics of the run being checked (grain: one row, or none if the run is not
-- recorded). Rates are over what the run itself did, so an old backlog cannot hide a bad run.
WITH run AS (
    SELECT run_id, articles_loaded
    FROM runs
    WHERE run_id = $run_id
),

copies AS (
    -- the run's new articles that repeat an earlier one: exact copies, or not their
    -- story's canonical article (a wire copy folded into a story)
    SELECT count(*) AS articles
    FROM articles AS a
    LEFT JOIN story_registry AS s ON s.story_id = a.story_id
    WHERE a.run_id = $run_id
        AND (a.is_exact_duplicate OR s.canonical_article_id <> a.article_id)
),

requests AS (
    -- one row per feed or page requested; a request counts as failed when its last
    -- attempt failed (a retry that succeeded is not an error)
    SELECT max_by(error_class IS NOT NULL, (attempt, seq)) AS failed
    FROM fetch_log
    WHERE run_id = $run_id
        AND kind IN ('feed', 'page')
    GROUP BY kind, url
),

final AS (
    SELECT
        r.run_id,
        r.articles_loaded,
        CAST(c.articles AS DOUBLE) / greatest(r.articles_loaded, 1) AS duplicate_rate,
        CAST(coalesce(sum(CAST(q.failed AS INTEGER)), 0) AS DOUBLE)
            / greatest(count(q.failed), 1) AS fetch_error_rate
    FROM run AS r
    CROSS JOIN copies AS c
    LEFT JOIN requests AS q ON true
    GROUP BY r.run_id, r.articles_loaded, c.articles
)

SELECT run_id, articles_loaded, duplicate_rate, fetch_error_rate
FROM final
