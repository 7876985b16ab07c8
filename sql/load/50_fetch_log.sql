-- 50_fetch_log: every request of the staged batches and its outcome.
INSERT INTO fetch_log (
    run_id, batch_id, seq, url, kind, status, error_class, detail, bytes, duration_ms,
    attempt, fetched_at
)
SELECT
    run_id, batch_id, seq, url, kind, status, error_class, detail, bytes, duration_ms,
    attempt, fetched_at
FROM staged_fetch_log
ON CONFLICT (batch_id, seq) DO NOTHING;
