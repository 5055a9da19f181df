-- Vanna PG_VectorStore tables (langchain-postgres layout), see ARCHITECTURE.md "Vanna PG_VectorStore contract".
-- The vector dimension is left untyped on purpose: Vanna's store creates it that way and any model fits.
CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE IF NOT EXISTS langchain_pg_collection (
    uuid      UUID PRIMARY KEY,
    name      VARCHAR NOT NULL UNIQUE,
    cmetadata JSON
);

CREATE TABLE IF NOT EXISTS langchain_pg_embedding (
    id            VARCHAR PRIMARY KEY,
    collection_id UUID REFERENCES langchain_pg_collection(uuid) ON DELETE CASCADE,
    embedding     vector,
    document      VARCHAR,
    cmetadata     JSONB
);

CREATE INDEX IF NOT EXISTS ix_cmetadata_gin ON langchain_pg_embedding USING gin (cmetadata jsonb_path_ops);
