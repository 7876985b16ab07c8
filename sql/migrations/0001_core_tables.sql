-- 0001_core_tables: the foundation's tables. Keys derive from URLs and content so
-- that re-running a load is an upsert, never a second copy.

-- One row per configured feed, with the conditional-GET state of its last poll.
CREATE TABLE feeds (
    feed_url          VARCHAR PRIMARY KEY,   -- the URL as configured
    topic             VARCHAR NOT NULL,
    outlet            VARCHAR NOT NULL,
    etag              VARCHAR,               -- sent back as If-None-Match
    last_modified     VARCHAR,               -- sent back as If-Modified-Since
    last_polled_at    TIMESTAMPTZ,
    last_success_at   TIMESTAMPTZ,           -- last 200 or 304
    last_entries_at   TIMESTAMPTZ,           -- last poll that yielded entries
    last_status       INTEGER,
    last_error        VARCHAR,               -- NULL when the last poll succeeded
    last_entry_count  INTEGER,
    last_malformed    BOOLEAN,               -- XML was broken, the loose parser still read it
    hub_url           VARCHAR,               -- WebSub hub advertised by the feed
    self_url          VARCHAR                -- WebSub rel=self
);

-- One row per feed item ever seen; the same article in two feeds is two rows here.
CREATE TABLE feed_entries (
    feed_url       VARCHAR NOT NULL,
    entry_key      VARCHAR NOT NULL,        -- guid/id, else the normalised link
    url            VARCHAR NOT NULL,        -- normalised link
    title          VARCHAR,
    summary        VARCHAR,
    published_at   TIMESTAMPTZ,
    categories     VARCHAR[],
    first_seen_at  TIMESTAMPTZ NOT NULL,
    run_id         VARCHAR NOT NULL,
    PRIMARY KEY (feed_url, entry_key)
);

-- One row per article (one canonical URL), its latest revision.
CREATE TABLE articles (
    article_id           VARCHAR PRIMARY KEY,  -- hash of the canonical URL
    url                  VARCHAR NOT NULL UNIQUE,
    feed_url             VARCHAR NOT NULL,     -- the feed it was first found in
    outlet               VARCHAR NOT NULL,
    topic                VARCHAR NOT NULL,
    title                VARCHAR,
    text                 VARCHAR NOT NULL,     -- clean text, site boilerplate stripped
    text_source          VARCHAR NOT NULL,     -- 'page' or 'feed_summary'
    content_hash         VARCHAR NOT NULL,     -- hash of the normalised text
    word_count           INTEGER NOT NULL,
    authors              VARCHAR[],
    published_at         TIMESTAMPTZ,          -- UTC
    published_at_source  VARCHAR,              -- 'feed', 'json-ld', 'meta', 'url', ...
    modified_at          TIMESTAMPTZ,
    site_name            VARCHAR,
    language             VARCHAR,
    section              VARCHAR,
    tags                 VARCHAR[],
    page_type            VARCHAR NOT NULL DEFAULT 'article',
    is_exact_duplicate   BOOLEAN NOT NULL DEFAULT false,
    exact_duplicate_of   VARCHAR,              -- article_id of the first with this hash
    syndicated_from      VARCHAR,              -- cross-domain canonical URL
    story_id             VARCHAR,
    revision             INTEGER NOT NULL DEFAULT 1,
    first_seen_at        TIMESTAMPTZ NOT NULL,
    fetched_at           TIMESTAMPTZ NOT NULL,
    run_id               VARCHAR NOT NULL
);

-- Every URL an article was met under; the seen-filter checks these, not only articles.url.
CREATE TABLE article_urls (
    url            VARCHAR PRIMARY KEY,
    article_id     VARCHAR NOT NULL,
    kind           VARCHAR NOT NULL,          -- 'canonical', 'feed_link', 'redirect', ...
    first_seen_at  TIMESTAMPTZ NOT NULL
);

-- Every request the pipeline made and its outcome.
CREATE TABLE fetch_log (
    run_id       VARCHAR NOT NULL,
    batch_id     VARCHAR NOT NULL,           -- the staged batch that carried the row
    seq          INTEGER NOT NULL,           -- order within the batch
    url          VARCHAR NOT NULL,
    kind         VARCHAR NOT NULL,           -- 'feed', 'page', 'robots'
    status       INTEGER,
    error_class  VARCHAR,                    -- NULL on success
    detail       VARCHAR,
    bytes        BIGINT NOT NULL,
    duration_ms  DOUBLE NOT NULL,
    attempt      INTEGER NOT NULL,
    fetched_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (batch_id, seq)
);

-- One row per ingest run (Airflow DAG run, CLI run or push run).
CREATE TABLE runs (
    run_id              VARCHAR PRIMARY KEY,
    trigger             VARCHAR NOT NULL,    -- 'cli', 'scheduled', 'manual', 'push', ...
    started_at          TIMESTAMPTZ NOT NULL,
    loaded_at           TIMESTAMPTZ,
    feeds_polled        INTEGER NOT NULL DEFAULT 0,
    feeds_failed        INTEGER NOT NULL DEFAULT 0,
    entries_new         INTEGER NOT NULL DEFAULT 0,
    pages_fetched       INTEGER NOT NULL DEFAULT 0,
    pages_failed        INTEGER NOT NULL DEFAULT 0,
    articles_extracted  INTEGER NOT NULL DEFAULT 0,
    articles_loaded     INTEGER NOT NULL DEFAULT 0,
    exact_duplicates    INTEGER NOT NULL DEFAULT 0
);

-- Staged batches already loaded: a retried load skips them.
CREATE TABLE staged_batches (
    batch_id   VARCHAR PRIMARY KEY,
    run_id     VARCHAR NOT NULL,
    path       VARCHAR NOT NULL,
    rows       INTEGER NOT NULL,
    loaded_at  TIMESTAMPTZ NOT NULL
);
