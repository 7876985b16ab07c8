-- run_top_stories: the widest-running stories among those a run added articles to, with
-- who broke them. Parameter $run_id. Grain: one row per story, top 10.
WITH touched AS (
    SELECT story_id, count(*)::INTEGER AS articles_in_run
    FROM articles
    WHERE run_id = $run_id AND story_id IS NOT NULL
    GROUP BY story_id
),

final AS (
    SELECT
        s.story_id,
        s.canonical_title,
        s.canonical_url,
        s.outlet_count,
        s.article_count,
        t.articles_in_run,
        f.first_outlet,
        f.first_published_at,
        s.outlets
    FROM stories AS s
    INNER JOIN touched AS t ON t.story_id = s.story_id
    LEFT JOIN first_publishers AS f ON f.story_id = s.story_id
)

SELECT * FROM final
ORDER BY outlet_count DESC, article_count DESC, first_published_at, story_id
LIMIT 10
