-- 44_article_findings: dates the staged articles declared that were not believed
-- (impossible or unparsable), for the stored article they belong to.
INSERT INTO article_findings (article_id, field, source, reason, raw_value, found_at, run_id)
SELECT f.article_id, f.field, f.source, f.reason, f.raw_value, f.found_at, f.run_id
FROM staged_findings AS f
SEMI JOIN articles AS a ON a.article_id = f.article_id
QUALIFY row_number() OVER (
    PARTITION BY f.article_id, f.field, f.source, f.reason ORDER BY f.batch_seq
) = 1
ON CONFLICT DO NOTHING;
