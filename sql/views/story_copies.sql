-- story_copies: one row per article in a story (the canonical included): its outlet, how
-- similar it is to the canonical (estimated Jaccard of their shingles: the share of equal
-- MinHash slots), and how long after the story's first copy it appeared.
CREATE OR REPLACE VIEW story_copies AS
WITH registry AS (
    SELECT story_id, canonical_article_id
    FROM story_registry
    WHERE merged_into IS NULL
),

copies AS (
    SELECT
        a.story_id,
        a.article_id,
        a.outlet,
        a.url,
        a.title,
        a.word_count,
        coalesce(a.published_at, a.first_seen_at)  AS appeared_at,
        a.first_seen_at,
        a.article_id = r.canonical_article_id      AS is_canonical,
        hex(s.signature)                           AS signature_hex,
        hex(cs.signature)                          AS canonical_hex
    FROM articles AS a
    INNER JOIN registry AS r ON r.story_id = a.story_id
    LEFT JOIN article_signatures AS s ON s.article_id = a.article_id
    LEFT JOIN article_signatures AS cs ON cs.article_id = r.canonical_article_id
),

final AS (
    SELECT
        story_id,
        article_id,
        outlet,
        url,
        title,
        is_canonical,
        word_count,
        -- Share of equal 4-byte slots (8 hex digits) of the two signatures.
        CASE
            WHEN signature_hex IS NULL OR canonical_hex IS NULL
                OR length(signature_hex) <> length(canonical_hex) THEN NULL
            ELSE list_avg(list_transform(
                range(length(signature_hex) // 8),
                lambda i: CASE WHEN substr(signature_hex, 8 * i + 1, 8)
                               = substr(canonical_hex, 8 * i + 1, 8) THEN 1.0 ELSE 0.0 END
            ))
        END::DOUBLE                                            AS similarity_to_canonical,
        appeared_at,
        appeared_at - min(appeared_at) OVER (PARTITION BY story_id)  AS delay_after_first
    FROM copies
)

SELECT * FROM final;
