-- outlets_relying_on_wire: which outlets mostly run copy another outlet published first,
-- and how late do they run it? Grain: one row per outlet, most dependent first.
WITH coverage AS (
    SELECT *
    FROM coverage_by_outlet
),

final AS (
    SELECT
        outlet,
        articles,
        wire_copies,
        round(100 * wire_copy_share, 1)       AS wire_copy_pct,
        stories_broken,
        round(median_delay_minutes)::INTEGER  AS median_delay_minutes
    FROM coverage
)

SELECT * FROM final
ORDER BY wire_copy_pct DESC, median_delay_minutes DESC NULLS LAST, outlet
