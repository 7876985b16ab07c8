-- run_quality: how one run fared in Great Expectations, by severity: expectations checked,
-- passed and failed (from quality_results). Parameter $run_id. Grain: one row per
-- severity; none when the run was not checked.
WITH checked AS (
    SELECT severity, success
    FROM quality_results
    WHERE run_id = $run_id
),

final AS (
    SELECT
        severity,
        count(*)::INTEGER                             AS expectations,
        count(*) FILTER (WHERE success)::INTEGER      AS passed,
        count(*) FILTER (WHERE NOT success)::INTEGER  AS failed
    FROM checked
    GROUP BY severity
)

SELECT * FROM final
ORDER BY severity
