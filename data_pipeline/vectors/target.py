"""Which vector store a task loads into, and how to open it.

One store per Vanna deployment: Vanna's PG_VectorStore has no per-database filter, so a Vanna app for database X
must read a store that holds X's training data only. The store is, in order: the task's `vector_db_connection`,
the `VECTOR_DB_URL` setting, else our metadata database (the default before issue 14).

A store a client names (`given`) is vetted like a business database (core/client_db.py: no file-reading
parameters, VECTOR_DB_ALLOWED_HOSTS or BUSINESS_DB_ALLOWED_HOSTS, none of this service's PG* environment, one
answer after one delay for every connect failure). Every store but our metadata database is refused once connected
when its server identity (system identifier + database) is that of a business database the task or request reads:
the business database is never written, however the URL spells it.

A store is named without credentials by its `store_key` — `metadata` for our own database, else
`dbname@host:port` — which keys the ownership records (data_pipeline/store/vector_owners.py) and is what logs and
answers show. The URL itself (a secret) only ever opens connections.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator, Optional
from urllib.parse import parse_qs, unquote, urlsplit

import psycopg2

from core import business_db, client_db
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
    business_urls: tuple = ()   # secret too: business databases this store may not be (checked by identity)
    settings: Any = None

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


def check_url(value: Optional[str], field: str = "vector_db_connection", settings=None) -> Optional[str]:
    """400 unless `value` is a PostgreSQL URL a client may name as a store (with `settings`: its allowed hosts)."""
    if value is not None and not is_postgres_url(value):
        raise ValidationFailed(f"{field} must be a URL like postgresql://user:password@host:5432/dbname",
                               invalid_params=[field])
    if value is not None:
        business_db.vet_store_url(value, field, settings)
    return value


def resolve(settings, meta_url: str, given: Optional[str] = None, business_urls=()) -> VectorTarget:
    """The store for a task parameter / request field `given` (None: the setting, else the metadata database);
    `business_urls`: the business databases it must not be."""
    url = given or settings.vector_db_url or meta_url
    is_meta = database_identity(url) == database_identity(meta_url) and (not given or url == meta_url)
    return VectorTarget(url=url, store_key=META_STORE_KEY if is_meta else database_identity(url), is_meta=is_meta,
                        given=bool(given), business_urls=tuple(u for u in business_urls if u), settings=settings)


def for_task(settings, meta_url: str, params: dict, business_url: str = "") -> VectorTarget:
    """A task's store; it may not be the task's business database (its `db_connection`, else `business_url`)."""
    params = params or {}
    return resolve(settings, meta_url, params.get("vector_db_connection") or None,
                   (params.get("db_connection") or business_url,))


@contextmanager
def open_store(target: VectorTarget, meta_db: Database) -> Iterator[Database]:
    """A `Database` on the store: the metadata pool itself, or a small pool closed when the block ends."""
    if target.is_meta:
        yield meta_db
        return
    params = _connect_params(target)
    db = Database(target.url, maxconn=2, application_name="data_pipeline_vectors", connect_params=params)
    try:
        yield db
    except DatabaseConnectionError as exc:
        raise connection_error(target, exc) from None
    finally:
        db.close()


def _connect_params(target: VectorTarget) -> Optional[dict]:
    """Connect once to vet the store: a client's URL through client_db (isolated, one answer for every failure),
    then refuse it when it is a business database. The parameters the pool connects with (None: the URL's)."""
    timeout = business_db.client_timeout_s(target.settings)
    params = None
    if target.given:
        vetted = business_db.vet_store_url(target.url, "vector_db_connection", target.settings)
        params = client_db.pin(client_db.isolated(vetted, timeout_s=timeout,
                                                  application_name="data_pipeline_vectors"))
        conn = client_db.connect(params, what="vector store", field="vector_db_connection", timeout_s=timeout)
    else:
        try:
            conn = psycopg2.connect(target.url, connect_timeout=10, application_name="data_pipeline_vectors")
        except psycopg2.Error as exc:
            raise connection_error(target, exc) from None
    try:
        identity = client_db.server_identity(conn)
    except psycopg2.Error:
        identity = None      # a server without pg_control_system(): not one of ours, not comparable
    finally:
        conn.close()
    for business_url in target.business_urls:
        if identity is not None and identity == business_db.business_identity(business_url, target.settings):
            raise ValidationFailed(
                f"the vector store {target.store_key} is the business database {identity[1]}, which this service "
                "never writes; give the vector store its own database",
                invalid_params=["vector_db_connection"] if target.given else [])
    return params


def connection_error(target: VectorTarget, exc: Exception) -> DatabaseConnectionError:
    if target.given:   # a client's store: one sentence, whatever libpq said
        text = client_db.UNREACHABLE
    else:
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
