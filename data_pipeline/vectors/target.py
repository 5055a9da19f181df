"""Which vector store a task loads into, and how to open it.

One store per Vanna deployment: Vanna's PG_VectorStore has no per-database filter, so a Vanna app for database X
must read a store that holds X's training data only. The store is, in order: the task's `vector_db_connection`,
the `VECTOR_DB_URL` setting, else our metadata database (the default before issue 14).

A store is named without credentials by its `store_key` — `metadata` for our own database, else
`dbname@host:port` — which keys the ownership records (data_pipeline/store/vector_owners.py) and is what logs and
answers show. The URL itself (a secret) only ever opens connections.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Optional
from urllib.parse import parse_qs, unquote, urlsplit

import psycopg2

from core import business_db
from core.db import Database, first_line, is_postgres_url
from core.errors import DatabaseConnectionError, ValidationFailed
from data_pipeline.store import vector as vector_sql

META_STORE_KEY = "metadata"


@dataclass(frozen=True)
class VectorTarget:
    url: str           # secret: never logged or returned
    store_key: str     # 'metadata' or 'dbname@host:port', no credentials
    is_meta: bool      # our own metadata database (its pool is reused, its tables come from the migrations)
    given: bool        # named by the client/task (a connection failure is then the client's 400)

    @property
    def label(self) -> str:
        return "metadata database" if self.is_meta else self.store_key


def database_identity(url: str) -> str:
    """`dbname@host:port` of a PostgreSQL URL (host from the netloc or a `host=` query, e.g. a unix socket)."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    host = parts.hostname or (query.get("host") or [""])[0] or "localhost"
    try:
        port = parts.port or int((query.get("port") or ["5432"])[0])
    except ValueError:
        port = 5432
    return f"{unquote(parts.path.lstrip('/'))}@{host}:{port}"


def check_url(value: Optional[str], field: str = "vector_db_connection") -> Optional[str]:
    if value is not None and not is_postgres_url(value):
        raise ValidationFailed(f"{field} must be a URL like postgresql://user:password@host:5432/dbname",
                               invalid_params=[field])
    if value is not None:
        business_db.vet_store_url(value, field)
    return value


def refuse_business_database(vector_url: Optional[str], business_url: Optional[str],
                             field: str = "vector_db_connection") -> None:
    """The business database is never written: it cannot be a vector store (the load creates tables there)."""
    if vector_url and business_url and database_identity(vector_url) == database_identity(business_url):
        raise ValidationFailed(f"{field} names the business database {database_identity(business_url)}, which "
                               "this service never writes; give the vector store its own database",
                               invalid_params=[field])


def resolve(settings, meta_url: str, given: Optional[str] = None) -> VectorTarget:
    """The store for a task parameter / request field `given` (None: the setting, else the metadata database)."""
    url = given or settings.vector_db_url or meta_url
    is_meta = database_identity(url) == database_identity(meta_url)
    return VectorTarget(url=url, store_key=META_STORE_KEY if is_meta else database_identity(url), is_meta=is_meta,
                        given=bool(given))


def for_task(settings, meta_url: str, params: dict) -> VectorTarget:
    return resolve(settings, meta_url, (params or {}).get("vector_db_connection") or None)


@contextmanager
def open_store(target: VectorTarget, meta_db: Database) -> Iterator[Database]:
    """A `Database` on the store: the metadata pool itself, or a small pool closed when the block ends."""
    if target.is_meta:
        yield meta_db
        return
    db = Database(target.url, maxconn=2, application_name="data_pipeline_vectors")
    try:
        yield db
    except DatabaseConnectionError as exc:
        raise connection_error(target, exc) from None
    finally:
        db.close()


def connection_error(target: VectorTarget, exc: Exception) -> DatabaseConnectionError:
    text = exc.details if isinstance(exc, DatabaseConnectionError) else first_line(exc)
    err = DatabaseConnectionError(f"cannot connect to the vector store {target.store_key}: "
                                  f"{text.replace('metadata database: ', '')}",
                                  invalid_params=["vector_db_connection"] if target.given else [])
    if target.given:
        err.status = 400   # the client's URL is the problem, not our service
    return err


def ensure_tables(db: Database, target: VectorTarget) -> bool:
    """Create the `vector` extension (when the role may) and Vanna's two tables if missing. True if created.

    Without the extension and without the right to create it, a clear error naming it (400 / step error)."""
    if target.is_meta:
        return False          # sql/migrations/002 made them
    try:
        with db.connection() as conn, conn.cursor() as cur:
            if vector_sql.tables_exist(cur):
                return False
            if not vector_sql.extension_installed(cur):
                try:
                    cur.execute("SAVEPOINT ext")
                    cur.execute("CREATE EXTENSION IF NOT EXISTS vector")
                except psycopg2.Error as exc:
                    cur.execute("ROLLBACK TO SAVEPOINT ext")
                    raise ValidationFailed(
                        f"the vector store {target.store_key} lacks the PostgreSQL extension 'vector' (pgvector) "
                        f"and this role may not create it ({first_line(exc)}); run CREATE EXTENSION vector there "
                        "as a superuser", invalid_params=["vector_db_connection"] if target.given else []) from None
            vector_sql.create_tables(cur)
            return True
    except psycopg2.Error as exc:
        raise ValidationFailed(f"the vector tables cannot be created in {target.store_key}: {first_line(exc)}",
                               invalid_params=["vector_db_connection"] if target.given else []) from None
