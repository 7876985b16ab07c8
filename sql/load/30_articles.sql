-- 30_articles: new articles, one row per article_id, none already known under any URL.
-- Exact copies (same normalised text as an earlier article) are flagged, not dropped:
-- they are real publications, and stories count them. Only article pages are compared: a
-- live blog quoting a wire story is not a copy of it.
INSERT INTO articles (
    article_id, url, feed_url, outlet, topic, title, text, text_source, content_hash,
    word_count, authors, published_at, published_at_source, modified_at, site_name,
    language, section, tags, page_type, is_exact_duplicate, exact_duplicate_of,
    syndicated_from, story_id, revision, first_seen_at, fetched_at, run_id, credits,
    modified_at_source
)
WITH variants AS (
    SELECT article_id, unnest(url_variants) AS url
    FROM staged_articles
),

known AS (
    SELECT v.article_id
    FROM variants AS v
    INNER JOIN article_urls AS u ON u.url = v.url
    UNION
    SELECT s.article_id
    FROM staged_articles AS s
    INNER JOIN articles AS a ON a.article_id = s.article_id
),

candidates AS (
    SELECT s.*, coalesce(s.page_type, 'article') = 'article' AS is_article_page
    FROM staged_articles AS s
    ANTI JOIN known AS k ON k.article_id = s.article_id
    QUALIFY row_number() OVER (PARTITION BY s.article_id ORDER BY s.batch_seq, s.position) = 1
),

stored_originals AS (
    SELECT
        content_hash,
        arg_min(article_id, (coalesce(published_at, first_seen_at), article_id)) AS original_id
    FROM articles
    WHERE page_type = 'article'
        AND content_hash IN (SELECT content_hash FROM candidates WHERE is_article_page)
    GROUP BY content_hash
),

final AS (
    SELECT
        c.*,
        CASE WHEN c.is_article_page THEN coalesce(
            o.original_id,
            first_value(c.article_id) OVER (
                PARTITION BY c.content_hash, c.is_article_page
                ORDER BY coalesce(c.published_at, c.fetched_at), c.article_id
            )
        ) ELSE c.article_id END AS original_id
    FROM candidates AS c
    LEFT JOIN stored_originals AS o ON o.content_hash = c.content_hash AND c.is_article_page
)

SELECT
    article_id, url, feed_url, outlet, topic, title, text, text_source, content_hash,
    word_count, authors, published_at, published_at_source, modified_at, site_name,
    language, section, tags,
    coalesce(final.page_type, 'article') AS page_type,  -- batches staged before page types
    original_id <> article_id AS is_exact_duplicate,
    nullif(original_id, article_id) AS exact_duplicate_of,
    syndicated_from,
    NULL AS story_id,
    1 AS revision,
    fetched_at AS first_seen_at,
    fetched_at,
    run_id,
    credits,
    modified_at_source
FROM final;
