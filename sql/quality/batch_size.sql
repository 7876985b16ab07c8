-- batch_size: how many articles the run being checked stored (one row), to plan chunks.
SELECT count(*) AS articles
FROM articles
WHERE run_id = $run_id
