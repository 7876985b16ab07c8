-- story_links: offending rows between articles and stories, one audit per column (each row
-- fills exactly one); no rows = pass. Whole tables, since a story spans runs. A story is
-- live when story_registry has it unmerged; the `stories` view shows only live stories
-- that have articles.
WITH live AS (
    SELECT story_id, canonical_article_id
    FROM story_registry
    WHERE merged_into IS NULL
),

story_sizes AS (
    SELECT story_id, count(*) AS articles
    FROM articles
    WHERE story_id IS NOT NULL
    GROUP BY story_id
),

orphans AS (
    -- an article whose story is missing or merged away (or that was never given one);
    -- non-articles (live blogs, videos, index pages) are kept out of stories on purpose
    SELECT coalesce(a.story_id, '(none) ' || a.article_id) AS story_id
    FROM articles AS a
    ANTI JOIN live AS l ON l.story_id = a.story_id
    WHERE a.page_type = 'article'
),

missing_canonical AS (
    -- a live story whose canonical article is gone or belongs to another story
    SELECT l.story_id
    FROM live AS l
    LEFT JOIN articles AS a ON a.article_id = l.canonical_article_id
    WHERE a.article_id IS NULL OR a.story_id IS DISTINCT FROM l.story_id
),

miscounted AS (
    -- a live story whose size in the stories view is not the number of its articles
    -- (an emptied story drops out of the view: a size of none)
    SELECT l.story_id
    FROM live AS l
    LEFT JOIN stories AS s ON s.story_id = l.story_id
    LEFT JOIN story_sizes AS z ON z.story_id = l.story_id
    WHERE coalesce(s.article_count, 0) <> coalesce(z.articles, 0)
        OR coalesce(z.articles, 0) = 0
)

SELECT
    story_id  AS orphan_story_id,
    NULL      AS missing_canonical_story_id,
    NULL      AS miscounted_story_id
FROM orphans
UNION ALL
SELECT NULL, story_id, NULL
FROM missing_canonical
UNION ALL
SELECT NULL, NULL, story_id
FROM miscounted
