-- run_story_sizes: how widely the stories a run touched have run, as a histogram: for
-- each story size (articles in the story, all runs), how many of the run's stories have
-- it. Parameter $run_id. Grain: one row per story size.
WITH touched AS (
    SELECT DISTINCT story_id
    FROM articles
    WHERE run_id = $run_id AND story_id IS NOT NULL
),

sizes AS (
    SELECT s.story_id, s.article_count, s.outlet_count
    FROM stories AS s
    INNER JOIN touched AS t ON t.story_id = s.story_id
),

final AS (
    SELECT
        article_count                AS story_size,
        count(*)::INTEGER            AS stories,
        max(outlet_count)::INTEGER   AS max_outlets
    FROM sizes
    GROUP BY article_count
)

SELECT * FROM final
ORDER BY story_size
