-- 0004_identity_revisions: what identity, metadata and revisions need beyond the core:
-- credits and the modified time's source on articles, every fetch and re-check of a
-- page (with its validators), the revisions of articles that changed, and the findings
-- (impossible dates) that were recorded instead of believed.

ALTER TABLE articles ADD COLUMN credits VARCHAR[];            -- agencies and desks, not people
ALTER TABLE articles ADD COLUMN modified_at_source VARCHAR;   -- 'json-ld', 'microdata', 'meta'

-- One row per fetch of an article's page: the first ('first') and every re-check.
-- Grain: (article_id, batch_id): a batch fetches an article at most once.
CREATE TABLE article_checks (
    article_id     VARCHAR NOT NULL,
    batch_id       VARCHAR NOT NULL,          -- the staged batch that carried the check
    run_id         VARCHAR NOT NULL,
    checked_at     TIMESTAMPTZ NOT NULL,
    slot           INTEGER,                   -- re-check schedule slot; NULL for 'first'
    outcome        VARCHAR NOT NULL,          -- 'first', 'not_modified', 'unchanged', 'revised', 'failed', 'stale'
    status         INTEGER,                   -- HTTP status (304 for not_modified)
    etag           VARCHAR,                   -- validators the page answered with
    last_modified  VARCHAR,
    revision       INTEGER,                   -- the article's revision after this check
    detail         VARCHAR,                   -- why a check failed
    PRIMARY KEY (article_id, batch_id)
);

-- One row per revision of an article that changed after it was first stored; revision 1
-- (as first stored) is added when revision 2 arrives. Articles that never changed have
-- no rows. Grain: (article_id, revision).
CREATE TABLE article_revisions (
    article_id     VARCHAR NOT NULL,
    revision       INTEGER NOT NULL,          -- 1 = as first stored
    fetched_at     TIMESTAMPTZ NOT NULL,
    title          VARCHAR,
    text_hash      VARCHAR NOT NULL,          -- content_hash of the boilerplate-stripped text
    text           VARCHAR NOT NULL,
    word_count     INTEGER NOT NULL,
    words_added    INTEGER NOT NULL,          -- against the previous revision
    words_removed  INTEGER NOT NULL,
    diff           VARCHAR,                   -- short word-level diff: -[old] +[new]; ...
    run_id         VARCHAR NOT NULL,
    PRIMARY KEY (article_id, revision)
);

-- Values a page or feed declared that were not believed (quality findings, never the
-- truth): impossible dates (before 1990, in the future), unparsable ones.
-- Grain: one row per (article, field, source, reason).
CREATE TABLE article_findings (
    article_id   VARCHAR NOT NULL,
    field        VARCHAR NOT NULL,            -- 'published_at', 'modified_at'
    source       VARCHAR NOT NULL,            -- 'json-ld', 'meta', 'feed', ...
    reason       VARCHAR NOT NULL,            -- 'before_1990', 'in_future', 'unparsable', ...
    raw_value    VARCHAR NOT NULL,            -- as declared
    found_at     TIMESTAMPTZ NOT NULL,
    run_id       VARCHAR NOT NULL,
    PRIMARY KEY (article_id, field, source, reason)
);
