-- first_publishers: which outlet broke each story, and by how much it led the next
-- outlet to run it. Grain: one row per live story (merged stories folded into their
-- survivor, as in `stories`). Time is published_at, else first_seen_at (UTC).
CREATE OR REPLACE VIEW first_publishers AS
WITH live AS (
    SELECT story_id, canonical_article_id
    FROM story_registry
    WHERE merged_into IS NULL
),

members AS (
    SELECT
        a.story_id,
        a.article_id,
        a.outlet,
        a.title,
        a.url,
        a.published_at,
        coalesce(a.published_at, a.first_seen_at)  AS appeared_at,
        a.first_seen_at
    FROM articles AS a
    INNER JOIN live AS l ON l.story_id = a.story_id
),

outlet_firsts AS (
    -- Each outlet's earliest copy of the story, ranked: rank 1 broke it.
    SELECT
        *,
        row_number() OVER (
            PARTITION BY story_id ORDER BY appeared_at, first_seen_at, article_id
        )  AS outlet_rank
    FROM members
    QUALIFY row_number() OVER (
        PARTITION BY story_id, outlet ORDER BY appeared_at, first_seen_at, article_id
    ) = 1
),

sizes AS (
    SELECT
        story_id,
        count(*)::INTEGER                AS article_count,
        count(DISTINCT outlet)::INTEGER  AS outlet_count
    FROM members
    GROUP BY story_id
),

final AS (
    SELECT
        f.story_id,
        f.outlet                                        AS first_outlet,
        f.article_id                                    AS first_article_id,
        f.title                                         AS first_title,
        f.url                                           AS first_url,
        f.appeared_at                                   AS first_published_at,
        f.published_at IS NOT NULL                      AS has_published_at,  -- else first_seen_at
        f.article_id = l.canonical_article_id           AS is_canonical,
        s.article_count,
        s.outlet_count,
        r.outlet                                        AS runner_up_outlet,
        epoch(r.appeared_at - f.appeared_at) / 60.0     AS lead_minutes  -- NULL when alone
    FROM outlet_firsts AS f
    INNER JOIN live AS l ON l.story_id = f.story_id
    INNER JOIN sizes AS s ON s.story_id = f.story_id
    LEFT JOIN outlet_firsts AS r ON r.story_id = f.story_id AND r.outlet_rank = 2
    WHERE f.outlet_rank = 1
)

SELECT * FROM final;
