-- who_published_first: for every story more than one outlet ran, who broke it, who came
-- next and how far behind. Grain: one row per live story with two or more outlets.
WITH firsts AS (
    SELECT *
    FROM first_publishers
    WHERE outlet_count > 1
),

final AS (
    SELECT
        story_id,
        first_title,
        first_outlet,
        first_published_at,
        runner_up_outlet,
        round(lead_minutes)::INTEGER  AS lead_minutes,
        outlet_count
    FROM firsts
)

SELECT * FROM final
ORDER BY outlet_count DESC, first_published_at, story_id
