-- 0003_quality_results: one row per expectation checked, per run checked.
-- Re-checking a run replaces its rows (see sql/quality/record_results.sql), so a retried
-- quality task leaves the table as one check would.
CREATE TABLE quality_results (
    run_id          VARCHAR,               -- the ingest run checked; NULL if none was loaded yet
    suite           VARCHAR NOT NULL,      -- file stem of expectations/suites/<suite>.json
    expectation     VARCHAR NOT NULL,      -- the expectation's meta.name, unique in its suite
    severity        VARCHAR NOT NULL,      -- 'critical' fails the task; 'warning' is reported
    success         BOOLEAN NOT NULL,
    observed_value  VARCHAR,               -- what was seen, as text (counts, examples, values)
    checked_at      TIMESTAMPTZ NOT NULL
);
