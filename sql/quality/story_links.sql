-- story_links: offending rows between articles and stories, one audit per column (each row
-- fills exactly one); no rows = pass. Whole tables: a story spans runs.
WITH story_sizes AS (
    SELECT story_id, count(*) AS articles
    FROM articles
    WHERE story_id IS NOT NULL
    GROUP BY story_id
),

orphans AS (
    -- an article whose story is missing (or that was never given one)
    SELECT coalesce(a.story_id, '(none) ' || a.article_id) AS story_id
    FROM articles AS a
    ANTI JOIN stories AS s ON s.story_id = a.story_id
),

missing_canonical AS (
    -- a story whose canonical article is gone or belongs to another story
    SELECT s.story_id
    FROM stories AS s
    LEFT JOIN articles AS a ON a.article_id = s.canonical_article_id
    WHERE a.article_id IS NULL OR a.story_id IS DISTINCT FROM s.story_id
),

miscounted AS (
    SELECT s.story_id
    FROM stories AS s
    LEFT JOIN story_sizes AS z ON z.story_id = s.story_id
    WHERE s.article_count IS DISTINCT FROM coalesce(z.articles, 0)
)

SELECT story_id AS orphan_story_id, NULL AS missing_canonical_story_id, NULL AS miscounted_story_id
FROM orphans
UNION ALL
SELECT NULL, story_id, NULL
FROM missing_canonical
UNION ALL
SELECT NULL, NULL, story_id
FROM miscounted
