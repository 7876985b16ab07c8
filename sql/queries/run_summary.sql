-- run_summary: the counts of one run, as `newspipe run` and the demo print them.
-- Parameter $run_id. Grain: one row (or none for an unknown run).
SELECT
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
