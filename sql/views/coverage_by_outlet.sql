-- coverage_by_outlet: what each outlet carries and how much of it is other people's
-- news. Grain: one row per outlet with articles.
-- A "wire copy" is an article whose story another outlet published first; the delay is
-- how long after that first publication the copy appeared (published_at, else
-- first_seen_at, UTC). Exact duplicates are counted, not dropped.
CREATE OR REPLACE VIEW coverage_by_outlet AS
WITH articles_in AS (
    SELECT
        article_id,
        outlet,
        story_id,
        is_exact_duplicate,
        coalesce(published_at, first_seen_at)  AS appeared_at,
        first_seen_at
    FROM articles
    WHERE page_type = 'article'  -- live blogs, videos, index pages are not counted
),

ranked AS (
    -- The first publisher of a story: earliest appearance, then earliest seen, then id.
    SELECT
        *,
        row_number() OVER (
            PARTITION BY story_id ORDER BY appeared_at, first_seen_at, article_id
        )                                                            AS rank_in_story,
        first_value(outlet) OVER (
            PARTITION BY story_id ORDER BY appeared_at, first_seen_at, article_id
        )                                                            AS first_outlet,
        min(appeared_at) OVER (PARTITION BY story_id)                AS story_first_at
    FROM articles_in
    WHERE story_id IS NOT NULL
),

flagged AS (
    SELECT
        a.article_id,
        a.outlet,
        a.story_id,
        a.is_exact_duplicate,
        coalesce(r.first_outlet <> a.outlet, false)                  AS is_wire_copy,
        coalesce(r.rank_in_story = 1, false)                         AS is_first_publication,
        epoch(a.appeared_at - r.story_first_at) / 60.0               AS minutes_behind_first
    FROM articles_in AS a
    LEFT JOIN ranked AS r ON r.article_id = a.article_id
),

final AS (
    SELECT
        outlet,
        count(*)::INTEGER                                            AS articles,
        count(DISTINCT story_id)::INTEGER                            AS stories,
        count(*) FILTER (WHERE is_first_publication)::INTEGER       AS stories_broken,
        count(*) FILTER (WHERE is_wire_copy)::INTEGER               AS wire_copies,
        (count(*) FILTER (WHERE is_wire_copy) / count(*))::DOUBLE   AS wire_copy_share,
        count(*) FILTER (WHERE is_exact_duplicate)::INTEGER         AS exact_duplicates,
        -- Median over this outlet's wire copies only; NULL when it copied nothing.
        median(minutes_behind_first) FILTER (WHERE is_wire_copy)::DOUBLE
                                                                     AS median_delay_minutes
    FROM flagged
    GROUP BY outlet
)

SELECT * FROM final;
