-- article_changes: what changed after publication, one row per revision that rewrote the
-- headline or added a correction, with a short word-level diff (-[old] +[new]).
-- Grain: one row per (article_id, revision > 1). Source: article_revisions (articles that
-- never changed have none).
CREATE OR REPLACE VIEW article_changes AS
WITH revisions AS (
    SELECT
        r.*,
        lag(r.title) OVER w AS previous_title,
        -- correction notices in the text: one more than before means one was added
        len(regexp_extract_all(r.text, '(?i)\b(correction|corrected|clarification|an earlier version of this)\b'))
            - coalesce(len(regexp_extract_all(
                lag(r.text) OVER w,
                '(?i)\b(correction|corrected|clarification|an earlier version of this)\b'
            )), 0) AS corrections_added
    FROM article_revisions AS r
    WINDOW w AS (PARTITION BY r.article_id ORDER BY r.revision)
)

SELECT
    a.article_id,
    a.url,
    a.outlet,
    r.revision,
    r.fetched_at                                             AS changed_at,
    coalesce(r.previous_title, '') <> coalesce(r.title, '')  AS headline_changed,
    r.corrections_added > 0                                  AS is_correction,
    r.previous_title,
    r.title,
    r.words_added,
    r.words_removed,
    r.diff
FROM revisions AS r
INNER JOIN articles AS a USING (article_id)
WHERE r.revision > 1
    AND (coalesce(r.previous_title, '') <> coalesce(r.title, '') OR r.corrections_added > 0)
