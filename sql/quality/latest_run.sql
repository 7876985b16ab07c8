-- latest_run: the run checked when none is named, the last one loaded (one row or none).
SELECT run_id
FROM runs
ORDER BY coalesce(loaded_at, started_at) DESC, run_id DESC
LIMIT 1
