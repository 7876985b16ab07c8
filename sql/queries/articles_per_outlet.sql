-- articles_per_outlet: how many articles each outlet has in the store, and how many are
-- exact copies of an earlier article. Grain: one row per outlet.
SELECT
    outlet,
    count(*) AS articles,
    count(*) FILTER (WHERE is_exact_duplicate) AS exact_copies,
    count(*) FILTER (WHERE text_source = 'feed_summary') AS summaries_only
FROM articles
GROUP BY outlet
ORDER BY articles DESC, outlet
