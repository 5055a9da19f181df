"""SQL on the Vanna vector tables `langchain_pg_collection` / `langchain_pg_embedding` of a vector store (our
metadata database by default, or a task's `vector_db_connection`).

Every function takes an open cursor so the caller decides the transaction: a training load, a truncate and a
restore each run in ONE transaction. Layout and row rules: ARCHITECTURE.md "Vanna PG_VectorStore contract".
Rows we write carry `cmetadata.task_id` (latest loader) and `business_db`; Vanna only reads `cmetadata["id"]`
(and writes extra keys itself, e.g. `createdat`), so extra keys are harmless to it. Who owns a row is recorded
in our metadata database (store/vector_owners.py), not here.
"""
from __future__ import annotations

import io
import struct
import uuid
from contextlib import contextmanager
from typing import Iterable, Sequence

import psycopg2.extensions
from psycopg2 import sql

COLLECTION_TABLE = "langchain_pg_collection"
EMBEDDING_TABLE = "langchain_pg_embedding"
VECTOR_TABLES = (COLLECTION_TABLE, EMBEDDING_TABLE)
# explicit column lists: backups and restores never depend on the physical column order
TABLE_COLUMNS = {
    COLLECTION_TABLE: ("uuid", "name", "cmetadata"),
    EMBEDDING_TABLE: ("id", "collection_id", "embedding", "document", "cmetadata"),
}
# one key for every writer of the vector tables in this project (load, truncate, restore)
_LOCK_KEY = 0x7EC7_0001
_I16, _I32 = struct.Struct(">h"), struct.Struct(">i")


# how long a writer waits for another load/restore (or a foreign lock on the table) before failing clearly
WRITER_LOCK_TIMEOUT = "300s"


def lock_writers(cur, *, wait: bool = True) -> bool:
    """Serialise our own writers for the rest of the transaction; False when `wait` is off and it is taken.
    Waiting is bounded (`WRITER_LOCK_TIMEOUT`), so a stuck lock fails the step instead of hanging it."""
    cur.execute(f"SET LOCAL lock_timeout = '{WRITER_LOCK_TIMEOUT}'")
    if wait:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        return True
    cur.execute("SELECT pg_try_advisory_xact_lock(%s) AS ok", (_LOCK_KEY,))
    row = cur.fetchone()
    return bool(row[0] if not isinstance(row, dict) else row["ok"])


def block_external_writes(cur) -> None:
    """Readers (Vanna searching) go on; writers outside this transaction wait until it ends."""
    cur.execute(f"LOCK TABLE {EMBEDDING_TABLE} IN SHARE ROW EXCLUSIVE MODE")


def upsert_collections(cur, names: Iterable[str], new_uuid) -> dict[str, str]:
    """Create missing collections by name (never delete one: the FK cascades) and return {name: uuid}."""
    names = list(names)
    for name in names:
        cur.execute(f"INSERT INTO {COLLECTION_TABLE} (uuid, name, cmetadata) VALUES (%s, %s, NULL) "
                    "ON CONFLICT (name) DO NOTHING", (new_uuid(name), name))
    cur.execute(f"SELECT uuid::text, name FROM {COLLECTION_TABLE} WHERE name = ANY(%s)", (names,))
    return {name: uid for uid, name in _tuples(cur.fetchall(), ("uuid", "name"))}


def delete_all_embeddings(cur) -> int:
    """Empty the embedding table only (the collection rows stay). DELETE, not TRUNCATE: readers keep seeing the
    old rows until the transaction commits instead of queueing behind an ACCESS EXCLUSIVE lock."""
    cur.execute(f"DELETE FROM {EMBEDDING_TABLE}")
    return cur.rowcount


def delete_ids(cur, row_ids: Sequence[str]) -> int:
    """Delete the given rows (a task's own rows on re-load or delete_vectors)."""
    if not row_ids:
        return 0
    cur.execute(f"DELETE FROM {EMBEDDING_TABLE} WHERE id = ANY(%s)", (list(row_ids),))
    return cur.rowcount


def other_dimensions(cur, replaced_ids: Sequence[str]) -> list[int]:
    """Vector dimensions of the rows that stay after `replaced_ids` are rewritten (a mixed dimension breaks
    Vanna's cosine search)."""
    cur.execute(f"SELECT DISTINCT vector_dims(embedding) AS d FROM {EMBEDDING_TABLE} "
                "WHERE embedding IS NOT NULL AND NOT (id = ANY(%s))", (list(replaced_ids),))
    return sorted(int(d) for (d,) in _tuples(cur.fetchall(), ("d",)))


def business_databases(cur) -> dict[str, int]:
    """{business_db: rows} over the rows that carry `cmetadata.business_db` (rows of our loads since issue 14)."""
    cur.execute(f"SELECT cmetadata->>'business_db' AS db, count(*) AS n FROM {EMBEDDING_TABLE} "
                "WHERE cmetadata ? 'business_db' GROUP BY 1 ORDER BY 1")
    return {db: int(n) for db, n in _tuples(cur.fetchall(), ("db", "n"))}


def row_index(cur) -> dict[str, tuple[str, str | None]]:
    """{row_id: (collection name, cmetadata task_id)} of every row: what ownership records are reconciled with."""
    cur.execute(f"SELECT e.id, c.name, e.cmetadata->>'task_id' AS task_id FROM {EMBEDDING_TABLE} e "
                f"JOIN {COLLECTION_TABLE} c ON c.uuid = e.collection_id")
    return {row_id: (name, task_id) for row_id, name, task_id in _tuples(cur.fetchall(), ("id", "name", "task_id"))}


# ------------------------------------------------------------------------------------------------ a new store
def tables_exist(cur) -> bool:
    cur.execute("SELECT to_regclass(%s) IS NOT NULL AND to_regclass(%s) IS NOT NULL AS ok",
                (COLLECTION_TABLE, EMBEDDING_TABLE))
    row = cur.fetchone()
    return bool(row[0] if not isinstance(row, dict) else row["ok"])


def extension_installed(cur) -> bool:
    cur.execute("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector') AS ok")
    row = cur.fetchone()
    return bool(row[0] if not isinstance(row, dict) else row["ok"])


def create_tables(cur) -> None:
    """Vanna's layout, exactly as sql/migrations/002_vector_store.sql makes it in our own database."""
    cur.execute(f"""
        CREATE TABLE IF NOT EXISTS {COLLECTION_TABLE} (
            uuid UUID PRIMARY KEY, name VARCHAR NOT NULL UNIQUE, cmetadata JSON);
        CREATE TABLE IF NOT EXISTS {EMBEDDING_TABLE} (
            id VARCHAR PRIMARY KEY,
            collection_id UUID REFERENCES {COLLECTION_TABLE}(uuid) ON DELETE CASCADE,
            embedding vector, document VARCHAR, cmetadata JSONB);
        CREATE INDEX IF NOT EXISTS ix_cmetadata_gin ON {EMBEDDING_TABLE} USING gin (cmetadata jsonb_path_ops);
    """)


# ------------------------------------------------------------------------------------------------ search
def nearest(cur, collection: str, vector: Sequence[float], k: int) -> list[dict]:
    """The `k` rows of `collection` nearest to `vector`, as langchain-postgres' PGVector (Vanna's reader) finds
    them: cosine distance `<=>`, ascending, within the collection of that name."""
    literal = "[" + ",".join(repr(float(x)) for x in vector) + "]"
    cur.execute(f"SELECT e.id, e.document, e.cmetadata, e.embedding <=> %s::vector AS distance "
                f"FROM {EMBEDDING_TABLE} e JOIN {COLLECTION_TABLE} c ON c.uuid = e.collection_id "
                "WHERE c.name = %s ORDER BY distance ASC LIMIT %s", (literal, collection, int(k)))
    return [dict(zip(("id", "document", "cmetadata", "distance"), r)) if not isinstance(r, dict) else dict(r)
            for r in cur.fetchall()]


def create_embedding_staging(cur) -> str:
    """A temporary table shaped like the embedding table, dropped at commit."""
    cur.execute(f"CREATE TEMP TABLE load_{EMBEDDING_TABLE} (LIKE {EMBEDDING_TABLE}) ON COMMIT DROP")
    return f"load_{EMBEDDING_TABLE}"


def copy_embeddings(cur, staging: str, rows: Sequence[tuple]) -> int:
    """Stream (id, collection_uuid, floats, document, cmetadata_json) rows into `staging` with binary COPY.

    Binary because formatting hundreds of floats per row as text costs more than everything else in a load;
    pgvector's binary input is int16 dimension, int16 unused, then float4 values (big-endian).
    """
    buf = io.BytesIO()
    buf.write(b"PGCOPY\n\xff\r\n\x00" + _I32.pack(0) + _I32.pack(0))
    for row_id, collection_id, vector, document, cmetadata in rows:
        fields = (row_id.encode("utf-8"), uuid.UUID(str(collection_id)).bytes,
                  struct.pack(f">hh{len(vector)}f", len(vector), 0, *vector),
                  document.encode("utf-8"), b"\x01" + cmetadata.encode("utf-8"))
        buf.write(_I16.pack(len(fields)))
        for value in fields:
            buf.write(_I32.pack(len(value)))
            buf.write(value)
    buf.write(_I16.pack(-1))
    buf.seek(0)
    _copy(cur, sql.SQL("COPY {s} (id, collection_id, embedding, document, cmetadata) FROM STDIN WITH "
                       "(FORMAT binary)").format(s=sql.Identifier(staging)).as_string(cur.connection), buf)
    return len(rows)


def _copy(cur, statement: str, stream) -> None:
    """`copy_expert`, also under the API's gevent workers: psycopg2 refuses COPY while a wait callback is set
    (psycogreen's), so the COPY runs blocking with the callback lifted. Nothing in between yields to another
    greenlet (the stream is a local file or buffer), so the callback is back before any other request queries."""
    with _no_wait_callback():
        cur.copy_expert(statement, stream)


@contextmanager
def _no_wait_callback():
    callback = psycopg2.extensions.get_wait_callback()
    if callback is None:
        yield
        return
    psycopg2.extensions.set_wait_callback(None)
    try:
        yield
    finally:
        psycopg2.extensions.set_wait_callback(callback)


def insert_from_staging(cur, staging: str) -> int:
    """Move staged rows into the embedding table; an existing id is replaced.

    Ids are derived from the content, so the same document loaded by another task is one row (owned by both, see
    store/vector_owners.py; `cmetadata.task_id` names the latest loader) instead of a duplicate Vanna would
    return twice.
    """
    cur.execute(sql.SQL(
        "INSERT INTO {t} (id, collection_id, embedding, document, cmetadata) "
        "SELECT id, collection_id, embedding, document, cmetadata FROM {s} "
        "ON CONFLICT (id) DO UPDATE SET collection_id = EXCLUDED.collection_id, embedding = EXCLUDED.embedding, "
        "document = EXCLUDED.document, cmetadata = EXCLUDED.cmetadata").format(
        t=sql.Identifier(EMBEDDING_TABLE), s=sql.Identifier(staging)))
    return cur.rowcount


def distinct_dimensions(cur) -> list[int]:
    cur.execute(f"SELECT DISTINCT vector_dims(embedding) FROM {EMBEDDING_TABLE} WHERE embedding IS NOT NULL")
    return sorted(int(r[0] if not isinstance(r, dict) else r["vector_dims"]) for r in cur.fetchall())


def count_rows(cur) -> dict[str, int]:
    out = {}
    for table in VECTOR_TABLES:
        cur.execute(f"SELECT count(*) AS n FROM {table}")
        row = cur.fetchone()
        out[table] = int(row[0] if not isinstance(row, dict) else row["n"])
    return out


def copy_out(cur, table: str, stream) -> int:
    """Stream `table` as CSV with a header into `stream`; returns the row count."""
    query = sql.SQL("COPY (SELECT {cols} FROM {table} ORDER BY 1) TO STDOUT WITH (FORMAT csv, HEADER true)").format(
        cols=sql.SQL(", ").join(sql.Identifier(c) for c in TABLE_COLUMNS[table]), table=sql.Identifier(table))
    _copy(cur, query.as_string(cur.connection), stream)
    return cur.rowcount


def copy_into_staging(cur, table: str, stream) -> tuple[str, int]:
    """Load a CSV backup of `table` into a temporary table dropped at commit; returns (staging name, rows)."""
    staging = f"restore_{table}"
    cur.execute(sql.SQL("CREATE TEMP TABLE {s} (LIKE {t}) ON COMMIT DROP").format(
        s=sql.Identifier(staging), t=sql.Identifier(table)))
    query = sql.SQL("COPY {s} ({cols}) FROM STDIN WITH (FORMAT csv, HEADER true)").format(
        s=sql.Identifier(staging), cols=sql.SQL(", ").join(sql.Identifier(c) for c in TABLE_COLUMNS[table]))
    _copy(cur, query.as_string(cur.connection), stream)
    return staging, cur.rowcount


def restore_collections(cur, staging: str) -> int:
    """Add the backed-up collections missing by name (existing ones keep their uuid)."""
    cur.execute(sql.SQL("INSERT INTO {t} (uuid, name, cmetadata) SELECT uuid, name, cmetadata FROM {s} "
                        "ON CONFLICT DO NOTHING").format(t=sql.Identifier(COLLECTION_TABLE),
                                                         s=sql.Identifier(staging)))
    return cur.rowcount


def restore_embeddings(cur, staging: str, collections_staging: str | None) -> tuple[int, int]:
    """Insert backed-up embeddings, re-pointing each row at the current collection of the same name (a collection
    may have been re-created with a new uuid since the backup). Returns (restored, skipped without collection)."""
    if collections_staging:
        source = sql.SQL(
            "SELECT e.id, COALESCE(cur_by_name.uuid, cur_by_id.uuid) AS collection_id, e.embedding, e.document, "
            "e.cmetadata FROM {s} e LEFT JOIN {cs} old ON old.uuid = e.collection_id "
            "LEFT JOIN {t} cur_by_name ON cur_by_name.name = old.name "
            "LEFT JOIN {t} cur_by_id ON cur_by_id.uuid = e.collection_id").format(
            s=sql.Identifier(staging), cs=sql.Identifier(collections_staging), t=sql.Identifier(COLLECTION_TABLE))
    else:
        source = sql.SQL("SELECT e.id, c.uuid AS collection_id, e.embedding, e.document, e.cmetadata FROM {s} e "
                         "LEFT JOIN {t} c ON c.uuid = e.collection_id").format(
            s=sql.Identifier(staging), t=sql.Identifier(COLLECTION_TABLE))
    cur.execute(sql.SQL(
        "INSERT INTO {t} (id, collection_id, embedding, document, cmetadata) "
        "SELECT id, collection_id, embedding, document, cmetadata FROM ({src}) r WHERE r.collection_id IS NOT NULL "
        "ON CONFLICT (id) DO UPDATE SET collection_id = EXCLUDED.collection_id, embedding = EXCLUDED.embedding, "
        "document = EXCLUDED.document, cmetadata = EXCLUDED.cmetadata").format(
        t=sql.Identifier(EMBEDDING_TABLE), src=source))
    restored = cur.rowcount
    cur.execute(sql.SQL("SELECT count(*) FROM {s}").format(s=sql.Identifier(staging)))
    row = cur.fetchone()
    total = int(row[0] if not isinstance(row, dict) else row["count"])
    return restored, total - restored


def _tuples(rows, keys):
    """Rows as tuples whether the cursor is a tuple or a dict cursor."""
    return [tuple(r[k] for k in keys) if isinstance(r, dict) else tuple(r) for r in rows]
