-- record_results: replace the rows of the run checked with this check's verdicts.
-- The result lists arrive as parallel arrays; unnest in one SELECT zips them.
DELETE FROM quality_results
WHERE run_id IS NOT DISTINCT FROM $run_id;

INSERT INTO quality_results (
    run_id, suite, expectation, severity, success, observed_value, checked_at
)
SELECT
    $run_id,
    unnest($suites),
    unnest($expectations),
    unnest($severities),
    unnest($successes),
    unnest($observed_values),
    $checked_at;
