-- busiest_topics_by_day: which topics had the most news each day, and how much of it was
-- new stories rather than more copies? Grain: one row per (UTC day, topic).
WITH days AS (
    SELECT *
    FROM topic_timeline
    WHERE period = 'day'
),

final AS (
    SELECT
        period_start_at::DATE  AS day,
        topic,
        articles,
        stories,
        new_stories,
        outlets
    FROM days
)

SELECT * FROM final
ORDER BY day DESC, articles DESC, topic
