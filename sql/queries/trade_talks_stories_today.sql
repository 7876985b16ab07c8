-- trade_talks_stories_today: which trade-talks stories ran on the most outlets today?
-- "Today" is the last 24 hours of ingest (a copy first seen since now() - 24 hours); a
-- story is about the trade talks when any copy's title or text names them (edit `terms`).
-- Grain: one row per matching live story, widest coverage first.
WITH terms AS (
    SELECT '\b(trade (talks|framework|truce|deal|war)|tariffs?)\b' AS pattern
),

window_start AS (
    SELECT now() - INTERVAL 24 HOURS AS since_at
),

matching AS (
    SELECT DISTINCT a.story_id
    FROM articles AS a
    CROSS JOIN terms AS t
    CROSS JOIN window_start AS w
    WHERE a.story_id IS NOT NULL
      AND a.first_seen_at >= w.since_at
      AND regexp_matches(lower(coalesce(a.title, '') || ' ' || a.text), t.pattern)
),

final AS (
    SELECT
        s.story_id,
        s.canonical_title,
        s.outlet_count,
        s.article_count,
        f.first_outlet,
        f.first_published_at,
        s.outlets
    FROM stories AS s
    INNER JOIN matching AS m ON m.story_id = s.story_id
    LEFT JOIN first_publishers AS f ON f.story_id = s.story_id
)

SELECT * FROM final
ORDER BY outlet_count DESC, article_count DESC, first_published_at, story_id
