-- run_overview: one run's row from `runs`, as the run report's header shows it.
-- Parameter $run_id. Grain: one row (none for an unknown run).
WITH final AS (
    SELECT
        run_id,
        trigger,
        started_at,
        loaded_at,
        feeds_polled,
        feeds_failed,
        entries_new,
        pages_fetched,
        pages_failed,
        articles_extracted,
        articles_loaded,
        exact_duplicates
    FROM runs
    WHERE run_id = $run_id
)

SELECT * FROM final
