-- what_each_copy_cut: what each copy of a story left out of, and put into, the story's
-- canonical text, word by word. Grain: one row per non-canonical article in a live story.
-- A canonical word counts as kept when one of the three-word runs around it appears in
-- the copy (and the other way round for added words); consecutive changed words are
-- shown as one passage, passages joined by " … ". Case and punctuation are ignored.
WITH live AS (
    SELECT story_id, canonical_article_id
    FROM story_registry
    WHERE merged_into IS NULL
),

pairs AS (
    SELECT
        a.story_id,
        a.article_id          AS copy_article_id,
        a.outlet              AS copy_outlet,
        a.title               AS copy_title,
        l.canonical_article_id
    FROM articles AS a
    INNER JOIN live AS l ON l.story_id = a.story_id
    WHERE a.article_id <> l.canonical_article_id
),

texts AS (
    SELECT article_id, regexp_split_to_array(trim(text), '\s+') AS tokens
    FROM articles
    WHERE article_id IN (SELECT copy_article_id FROM pairs)
       OR article_id IN (SELECT canonical_article_id FROM pairs)
),

tokens AS (
    SELECT
        article_id,
        unnest(tokens)                  AS word,
        generate_subscripts(tokens, 1)  AS token_pos
    FROM texts
),

words AS (
    -- Words only (a lone dash is not a word), keyed for comparison, renumbered.
    SELECT
        article_id,
        word,
        word_key,
        row_number() OVER (PARTITION BY article_id ORDER BY token_pos)  AS pos
    FROM (
        SELECT *, lower(regexp_replace(word, '[^[:alnum:]]', '', 'g')) AS word_key
        FROM tokens
    )
    WHERE word_key <> ''
),

grams AS (
    -- The three-word run starting at each word (NULL for the last two words of a text).
    SELECT
        article_id,
        pos,
        word,
        word_key || ' ' || lead(word_key, 1) OVER w || ' ' || lead(word_key, 2) OVER w  AS gram
    FROM words
    WINDOW w AS (PARTITION BY article_id ORDER BY pos)
),

gram_sets AS (
    SELECT DISTINCT article_id, gram
    FROM grams
    WHERE gram IS NOT NULL
),

directions AS (
    -- 'cut': canonical words missing from the copy; 'added': copy words not in the canonical.
    SELECT story_id, copy_article_id, 'cut' AS change, canonical_article_id AS from_id,
           copy_article_id AS against_id
    FROM pairs
    UNION ALL
    SELECT story_id, copy_article_id, 'added', copy_article_id, canonical_article_id
    FROM pairs
),

matched AS (
    SELECT
        d.copy_article_id,
        d.change,
        g.pos,
        g.word,
        s.gram IS NOT NULL  AS gram_found
    FROM directions AS d
    INNER JOIN grams AS g ON g.article_id = d.from_id
    LEFT JOIN gram_sets AS s ON s.article_id = d.against_id AND s.gram = g.gram
),

changed AS (
    -- A word is kept when any run covering it (starting up to two words before) was found.
    SELECT copy_article_id, change, pos, word
    FROM (
        SELECT
            *,
            bool_or(gram_found) OVER (
                PARTITION BY copy_article_id, change ORDER BY pos
                ROWS BETWEEN 2 PRECEDING AND CURRENT ROW
            )  AS is_kept
        FROM matched
    )
    WHERE NOT is_kept
),

passages AS (
    -- Runs of consecutive changed words (gaps and islands).
    SELECT
        copy_article_id,
        change,
        min(pos)                              AS start_pos,
        count(*)                              AS word_count,
        string_agg(word, ' ' ORDER BY pos)    AS passage
    FROM (
        SELECT
            *,
            pos - row_number() OVER (PARTITION BY copy_article_id, change ORDER BY pos)  AS island
        FROM changed
    )
    GROUP BY copy_article_id, change, island
),

per_copy AS (
    SELECT
        copy_article_id,
        sum(word_count) FILTER (WHERE change = 'cut')::INTEGER                    AS words_cut,
        sum(word_count) FILTER (WHERE change = 'added')::INTEGER                  AS words_added,
        string_agg(passage, ' … ' ORDER BY start_pos) FILTER (WHERE change = 'cut')    AS cut,
        string_agg(passage, ' … ' ORDER BY start_pos) FILTER (WHERE change = 'added')  AS added
    FROM passages
    GROUP BY copy_article_id
),

final AS (
    SELECT
        p.story_id,
        p.copy_outlet                        AS outlet,
        p.copy_article_id                    AS article_id,
        p.copy_title                         AS title,
        c.outlet                             AS canonical_outlet,
        coalesce(w.words_cut, 0)             AS words_cut,
        coalesce(w.words_added, 0)           AS words_added,
        w.cut,
        w.added
    FROM pairs AS p
    INNER JOIN articles AS c ON c.article_id = p.canonical_article_id
    LEFT JOIN per_copy AS w ON w.copy_article_id = p.copy_article_id
)

SELECT * FROM final
ORDER BY story_id, words_cut DESC, outlet
