-- known_urls: which of the given URLs the store has met already, under any spelling.
-- Parameter $urls: VARCHAR[] of normalised URLs. Grain: one row per known URL.
SELECT url
FROM article_urls
WHERE url IN (SELECT unnest($urls))
