-- 0002_stories: what near-duplicate detection keeps between runs (signatures, LSH band
-- keys, learned per-outlet boilerplate) and the story registry behind the `stories` view.

-- One row per article with text: its MinHash signature (num_perm little-endian uint32).
CREATE TABLE article_signatures (
    article_id  VARCHAR PRIMARY KEY,
    signature   BLOB NOT NULL
);

-- One row per (article, LSH band): candidates are found by joining a batch's band keys
-- here, within the window, never by scanning texts. Texts without words have no rows.
CREATE TABLE article_bands (
    band_key    BIGINT NOT NULL,       -- hash of the band number and the band's slots
    article_id  VARCHAR NOT NULL,
    seen_at     TIMESTAMPTZ NOT NULL   -- the article's first_seen_at: the window filter
);

-- One row per story ever created; a merged story keeps its row, pointing at the survivor.
CREATE TABLE story_registry (
    story_id              VARCHAR PRIMARY KEY,  -- 'story-' || the founding canonical article
    created_at            TIMESTAMPTZ NOT NULL,
    canonical_article_id  VARCHAR NOT NULL,     -- earliest published (else first seen), then most words
    canonical_at          TIMESTAMPTZ NOT NULL, -- that article's published_at, else first_seen_at
    canonical_words       INTEGER NOT NULL,
    merged_into           VARCHAR,              -- the older story that absorbed this one
    merged_at             TIMESTAMPTZ
);

-- Sentences seen near the start or end of each article: the evidence boilerplate is
-- learned from (an outlet's sentence met in articles with different contexts).
CREATE TABLE boilerplate_edges (
    outlet           VARCHAR NOT NULL,
    sentence_digest  BIGINT NOT NULL,   -- boilerplate.sentence_digest of the folded sentence
    context_digest   BIGINT NOT NULL,   -- the article's own content (its longest inner line)
    article_id       VARCHAR NOT NULL
);

-- One row per learned boilerplate sentence of an outlet; stripped from its stored texts.
CREATE TABLE outlet_boilerplate (
    outlet           VARCHAR NOT NULL,
    sentence_digest  BIGINT NOT NULL,
    sentence         VARCHAR NOT NULL,   -- as first met
    support          INTEGER NOT NULL,   -- articles with different contexts when learned
    learned_at       TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (outlet, sentence_digest)
);
