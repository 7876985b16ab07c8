-- 35_article_signatures: the MinHash signature of each newly stored article, for dedup.
INSERT INTO article_signatures (article_id, signature)
SELECT s.article_id, s.signature
FROM staged_articles AS s
INNER JOIN articles AS a ON a.article_id = s.article_id
WHERE a.story_id IS NULL
QUALIFY row_number() OVER (PARTITION BY s.article_id ORDER BY s.batch_seq, s.position) = 1
ON CONFLICT (article_id) DO NOTHING;
