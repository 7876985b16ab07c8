-- time: the timestamps of the batch being checked (grain: one article of the run), in
-- chunks: $chunk of $chunks, split by a hash of article_id.
SELECT
    published_at,  -- TIMESTAMPTZ, read in UTC
    fetched_at
FROM articles
WHERE run_id = $run_id
    AND hash(article_id) % $chunks = $chunk
