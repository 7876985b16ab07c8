-- content: what an analyst reads, for the batch being checked (grain: one article of the
-- run), in chunks: $chunk of $chunks, split by a hash of article_id. The text itself is not
-- pulled: its length is, and the first learned boilerplate sentence it still carries.
WITH batch AS (
    SELECT article_id, outlet, title, text, text_source, language
    FROM articles
    WHERE run_id = $run_id
        AND hash(article_id) % $chunks = $chunk
),

boilerplate_left AS (
    SELECT
        b.article_id,
        min(p.sentence) AS sentence
    FROM batch AS b
    INNER JOIN outlet_boilerplate AS p
        ON p.outlet = b.outlet AND contains(lower(b.text), lower(p.sentence))
    GROUP BY b.article_id
)

SELECT
    b.article_id,
    b.title,
    length(b.text) AS text_chars,
    b.text_source,      -- 'page' or 'feed_summary': only pages are held to the length bounds
    b.language,
    l.sentence AS boilerplate_left
FROM batch AS b
LEFT JOIN boilerplate_left AS l ON l.article_id = b.article_id
