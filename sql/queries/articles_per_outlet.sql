-- articles_per_outlet: how many articles each outlet has in the store, how many are exact
-- copies of an earlier article or only a feed summary, and how many stored pages are not
-- articles (live blogs, videos, index pages: kept, flagged, left out of the counts).
-- Grain: one row per outlet.
SELECT
    outlet,
    count(*) FILTER (WHERE page_type = 'article') AS articles,
    count(*) FILTER (WHERE page_type = 'article' AND is_exact_duplicate) AS exact_copies,
    count(*) FILTER (WHERE page_type = 'article' AND text_source = 'feed_summary') AS summaries_only,
    count(*) FILTER (WHERE page_type <> 'article') AS other_pages
FROM articles
GROUP BY outlet
ORDER BY articles DESC, outlet
