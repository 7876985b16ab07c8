-- keys: the identifiers of every stored article (grain: one row per articles row).
-- The whole table, because uniqueness is a property of the table, not of a batch; only the
-- two key columns are pulled, so memory grows with the key size, never with the text.
SELECT
    article_id,
    url
FROM articles
