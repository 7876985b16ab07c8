-- stories: one row per live story (merged stories are folded into their survivor), with
-- its canonical article's title, when it was first seen, and how widely it ran.
CREATE OR REPLACE VIEW stories AS
WITH live AS (
    SELECT story_id, canonical_article_id, created_at
    FROM story_registry
    WHERE merged_into IS NULL
),

members AS (
    SELECT
        story_id,
        count(*)::INTEGER                        AS article_count,
        count(DISTINCT outlet)::INTEGER          AS outlet_count,
        list(DISTINCT outlet ORDER BY outlet)    AS outlets,
        min(first_seen_at)                       AS first_seen_at,
        min(published_at)                        AS first_published_at
    FROM articles
    WHERE story_id IS NOT NULL
    GROUP BY story_id
),

final AS (
    SELECT
        l.story_id,
        c.title                 AS canonical_title,
        l.canonical_article_id,
        c.url                   AS canonical_url,
        c.outlet                AS canonical_outlet,
        m.first_seen_at,        -- earliest first_seen_at of any copy (UTC)
        m.first_published_at,   -- earliest published_at of any copy, when known (UTC)
        m.article_count,
        m.outlet_count,
        m.outlets,
        l.created_at
    FROM live AS l
    INNER JOIN members AS m ON m.story_id = l.story_id
    LEFT JOIN articles AS c ON c.article_id = l.canonical_article_id
)

SELECT * FROM final;
