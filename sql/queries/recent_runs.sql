-- recent_runs: the last 100 runs, newest first, with what each found and stored.
-- Grain: one row per run.
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
        articles_loaded,
        exact_duplicates
    FROM runs
)

SELECT * FROM final
ORDER BY started_at DESC, run_id
LIMIT 100
