-- run_articles_per_outlet: what one run stored, per outlet: originals (first in their
-- story) and copies (exact duplicates, or a story someone ran earlier). Parameter $run_id.
-- Grain: one row per outlet with articles in the run.
WITH story_ranks AS (
    SELECT
        article_id,
        row_number() OVER (
            PARTITION BY story_id
            ORDER BY coalesce(published_at, first_seen_at), first_seen_at, article_id
        )  AS rank_in_story
    FROM articles
    WHERE story_id IS NOT NULL
),

run_articles AS (
    SELECT
        a.outlet,
        a.is_exact_duplicate OR coalesce(r.rank_in_story > 1, false)  AS is_copy
    FROM articles AS a
    LEFT JOIN story_ranks AS r ON r.article_id = a.article_id
    WHERE a.run_id = $run_id
        AND a.page_type = 'article'  -- live blogs, videos, index pages are not counted
),

final AS (
    SELECT
        outlet,
        count(*)::INTEGER                               AS articles,
        count(*) FILTER (WHERE NOT is_copy)::INTEGER    AS originals,
        count(*) FILTER (WHERE is_copy)::INTEGER        AS copies
    FROM run_articles
    GROUP BY outlet
)

SELECT * FROM final
ORDER BY articles DESC, outlet
