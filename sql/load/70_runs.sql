-- 70_runs: the run's counts, summed over its shards and what this load stored.
-- A run loaded twice (a cleared and re-run DAG run) keeps one row; counts accumulate
-- only from batches not loaded before, which is what the caller passes.
INSERT INTO runs (
    run_id, trigger, started_at, loaded_at, feeds_polled, feeds_failed, entries_new,
    pages_fetched, pages_failed, articles_extracted, articles_loaded, exact_duplicates
)
SELECT
    $run_id, $trigger, $started_at, $loaded_at, $feeds_polled, $feeds_failed, $entries_new,
    $pages_fetched, $pages_failed, $articles_extracted, $articles_loaded, $exact_duplicates
ON CONFLICT (run_id) DO UPDATE SET
    loaded_at = excluded.loaded_at,
    feeds_polled = runs.feeds_polled + excluded.feeds_polled,
    feeds_failed = runs.feeds_failed + excluded.feeds_failed,
    entries_new = runs.entries_new + excluded.entries_new,
    pages_fetched = runs.pages_fetched + excluded.pages_fetched,
    pages_failed = runs.pages_failed + excluded.pages_failed,
    articles_extracted = runs.articles_extracted + excluded.articles_extracted,
    articles_loaded = runs.articles_loaded + excluded.articles_loaded,
    exact_duplicates = runs.exact_duplicates + excluded.exact_duplicates;
