-- The trigrams most search texts of a table share, with the share of rows holding each,
-- sampled by the periodic maintenance job. A substring search leaves them out of what it asks
-- the trigram index for: a posting list that covers every row costs more to read than the
-- rows it would rule out (on SQLite, whose FTS5 index has no such cost, the table stays empty).
CREATE TABLE search_trigrams (
    table_name TEXT NOT NULL,
    trigram TEXT NOT NULL,
    share REAL NOT NULL,
    PRIMARY KEY (table_name, trigram)
);
