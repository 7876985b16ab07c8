-- 00_stage: the pending staged batches as temp tables, each row tagged with its batch.
-- Parameters: $filenames/$batch_ids/$run_ids (one entry per batch, in load order) and
-- $feeds/$entries/$articles/$fetch_log/$findings/$aliases/$checks (the batches' Parquet
-- files of each kind).
CREATE OR REPLACE TEMP TABLE staged_batch_map AS
SELECT
    unnest($filenames) AS batch_path,
    unnest($batch_ids) AS batch_id,
    generate_subscripts($batch_ids, 1) AS batch_seq,
    unnest($run_ids) AS run_id;

CREATE OR REPLACE TEMP TABLE staged_feeds AS
SELECT m.batch_id, m.batch_seq, m.run_id, p.* EXCLUDE (filename)
FROM read_parquet($feeds, filename = true, union_by_name = true) AS p
INNER JOIN staged_batch_map AS m ON p.filename = m.batch_path || '/feeds.parquet';

CREATE OR REPLACE TEMP TABLE staged_entries AS
SELECT m.batch_id, m.batch_seq, m.run_id, p.* EXCLUDE (filename)
FROM read_parquet($entries, filename = true, union_by_name = true) AS p
INNER JOIN staged_batch_map AS m ON p.filename = m.batch_path || '/entries.parquet';

CREATE OR REPLACE TEMP TABLE staged_articles AS
SELECT m.batch_id, m.batch_seq, m.run_id, p.* EXCLUDE (filename)
FROM read_parquet($articles, filename = true, union_by_name = true) AS p
INNER JOIN staged_batch_map AS m ON p.filename = m.batch_path || '/articles.parquet';

CREATE OR REPLACE TEMP TABLE staged_fetch_log AS
SELECT m.batch_id, m.batch_seq, m.run_id, p.* EXCLUDE (filename)
FROM read_parquet($fetch_log, filename = true, union_by_name = true) AS p
INNER JOIN staged_batch_map AS m ON p.filename = m.batch_path || '/fetch_log.parquet';

CREATE OR REPLACE TEMP TABLE staged_findings AS
SELECT m.batch_id, m.batch_seq, m.run_id, p.* EXCLUDE (filename)
FROM read_parquet($findings, filename = true, union_by_name = true) AS p
INNER JOIN staged_batch_map AS m ON p.filename = m.batch_path || '/findings.parquet';

CREATE OR REPLACE TEMP TABLE staged_aliases AS
SELECT m.batch_id, m.batch_seq, m.run_id, p.* EXCLUDE (filename)
FROM read_parquet($aliases, filename = true, union_by_name = true) AS p
INNER JOIN staged_batch_map AS m ON p.filename = m.batch_path || '/aliases.parquet';

CREATE OR REPLACE TEMP TABLE staged_checks AS
SELECT m.batch_id, m.batch_seq, m.run_id, p.* EXCLUDE (filename)
FROM read_parquet($checks, filename = true, union_by_name = true) AS p
INNER JOIN staged_batch_map AS m ON p.filename = m.batch_path || '/checks.parquet';
