-- 60_staged_batches: mark the batches loaded, so a retried load skips them.
INSERT INTO staged_batches (batch_id, run_id, path, rows, loaded_at)
SELECT
    m.batch_id,
    m.run_id,
    m.batch_path,
    (SELECT count(*) FROM staged_articles AS s WHERE s.batch_id = m.batch_id),
    $loaded_at
FROM staged_batch_map AS m
ON CONFLICT (batch_id) DO NOTHING;
