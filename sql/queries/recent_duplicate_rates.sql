-- recent_duplicate_rates: the share of copies among the articles each run stored, for the
-- last 20 runs up to and including $run_id (by start time). A copy is an exact duplicate
-- or an article of a story another article appeared in earlier. duplicate_rate is NULL for
-- a run that stored nothing. Grain: one row per run, oldest first.
WITH this_run AS (
    SELECT started_at
    FROM runs
    WHERE run_id = $run_id
),

recent AS (
    SELECT r.run_id, r.started_at
    FROM runs AS r
    CROSS JOIN this_run AS t
    WHERE r.started_at <= t.started_at
    ORDER BY r.started_at DESC
    LIMIT 20
),

story_ranks AS (
    SELECT
        article_id,
        row_number() OVER (
            PARTITION BY story_id
            ORDER BY coalesce(published_at, first_seen_at), first_seen_at, article_id
        )  AS rank_in_story
    FROM articles
    WHERE story_id IS NOT NULL
),

per_run AS (
    SELECT
        a.run_id,
        count(*)::INTEGER  AS articles,
        count(*) FILTER (
            WHERE a.is_exact_duplicate OR coalesce(s.rank_in_story > 1, false)
        )::INTEGER         AS copies
    FROM articles AS a
    LEFT JOIN story_ranks AS s ON s.article_id = a.article_id
    GROUP BY a.run_id
),

final AS (
    SELECT
        r.run_id,
        r.started_at,
        coalesce(p.articles, 0)                                  AS articles,
        coalesce(p.copies, 0)                                    AS copies,
        (p.copies / nullif(p.articles, 0))::DOUBLE               AS duplicate_rate
    FROM recent AS r
    LEFT JOIN per_run AS p ON p.run_id = r.run_id
)

SELECT * FROM final
ORDER BY started_at, run_id
