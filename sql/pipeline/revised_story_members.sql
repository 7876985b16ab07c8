-- revised_story_members: each article revised by the load under way (the temp table
-- applied_revisions) that is in a story, its new signature, and the signature of every
-- other member (NULL when it is alone), with whether the pair is a declared
-- syndication. Parameter $size: signature bytes.
-- Grain: one row per (revised article, other member).
WITH revised AS (
    SELECT DISTINCT article_id FROM applied_revisions
)

SELECT
    a.article_id,
    s.signature AS own_signature,
    ms.signature AS member_signature,
    coalesce(m.syndicated_from = a.url OR a.syndicated_from = m.url, false) AS syndicated
FROM revised
INNER JOIN articles AS a USING (article_id)
INNER JOIN article_signatures AS s ON s.article_id = a.article_id
LEFT JOIN articles AS m
    ON m.story_id = a.story_id AND m.article_id <> a.article_id AND m.page_type = 'article'
LEFT JOIN article_signatures AS ms
    ON ms.article_id = m.article_id AND octet_length(ms.signature) = $size
WHERE a.story_id IS NOT NULL AND octet_length(s.signature) = $size
ORDER BY a.article_id, m.article_id
