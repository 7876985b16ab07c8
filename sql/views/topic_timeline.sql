-- topic_timeline: how much news each topic had, hour by hour and day by day.
-- Grain: one row per (topic, period, period_start_at) with articles; period is 'hour' or
-- 'day', buckets are UTC. An article counts at published_at, else first_seen_at; topic is
-- the topic of the feed it came from. A story counts in every bucket where it has a copy
-- (`stories`), and once, in its first bucket for the topic (`new_stories`).
CREATE OR REPLACE VIEW topic_timeline AS
WITH articles_in AS (
    SELECT
        article_id,
        topic,
        outlet,
        story_id,
        is_exact_duplicate,
        timezone('UTC', coalesce(published_at, first_seen_at))  AS appeared_utc  -- naive UTC
    FROM articles
    WHERE page_type = 'article'  -- live blogs, videos, index pages are not counted
),

periods AS (
    SELECT unnest(['hour', 'day']) AS period
),

bucketed AS (
    SELECT
        a.*,
        p.period,
        timezone('UTC', date_trunc(p.period, a.appeared_utc))   AS period_start_at,
        min(date_trunc(p.period, a.appeared_utc)) OVER (
            PARTITION BY a.topic, p.period, a.story_id
        ) = date_trunc(p.period, a.appeared_utc)                AS is_story_first_bucket
    FROM articles_in AS a
    CROSS JOIN periods AS p
),

final AS (
    SELECT
        topic,
        period,
        period_start_at,
        count(*)::INTEGER                                              AS articles,
        count(DISTINCT story_id)::INTEGER                              AS stories,
        count(DISTINCT story_id) FILTER (WHERE is_story_first_bucket)::INTEGER
                                                                       AS new_stories,
        count(DISTINCT outlet)::INTEGER                                AS outlets,
        count(*) FILTER (WHERE is_exact_duplicate)::INTEGER           AS exact_duplicates
    FROM bucketed
    GROUP BY topic, period, period_start_at
)

SELECT * FROM final;
