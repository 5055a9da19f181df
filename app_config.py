"""One settings object for every process (API, executor, CLI), read once from the environment and `.env`.

Each setting is declared once below with its type, default and meaning; `README.md` documents the same table.
Invalid values fail at start with a message naming the variable.
"""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal, Optional

from dotenv import load_dotenv
from pydantic import BaseModel, Field, ValidationError, field_validator

PROJECT_ROOT = Path(__file__).resolve().parent
VERSION = "1.0.0"


class Settings(BaseModel):
    """Field name upper-cased is the environment variable (e.g. `database_url` <- `DATABASE_URL`)."""

    # --- where things live -------------------------------------------------------------------------------------
    data_home: Path = Field(PROJECT_ROOT, description="Home of embedded PostgreSQL files (data/pgdata) and "
                                                      "data_pipeline/training_data/. Alias: DP_DATA_HOME.")
    training_data_dir: Optional[Path] = Field(None, description="Task directories root; default "
                                                                "{data_home}/data_pipeline/training_data")
    database_url: str = Field("", description="Metadata + vector PostgreSQL URL (needs pgvector). Empty: embedded.")
    business_db_url: str = Field("", description="Default business database URL. Empty: embedded demo highway_db.")
    vector_db_url: str = Field("", description="Default vector store (Vanna's pgvector tables) for training_load, "
                                               "backup and search. Empty: the metadata database")
    # --- HTTP service ------------------------------------------------------------------------------------------
    host: str = Field("127.0.0.1", description="Listen address of the API")
    port: int = Field(8084, ge=1, le=65535, description="Listen port of the API")
    workers: int = Field(2, ge=1, le=32, description="gunicorn worker processes")
    server_model: Literal["gevent", "gthread"] = Field(
        "gevent", description="gunicorn worker class: gevent (a greenlet per connection; slow clients cost no "
                             "thread) or gthread (THREADS threads per worker; a half-sent request holds one)")
    threads: int = Field(8, ge=1, le=256, description="threads per gunicorn worker (gthread); under gevent the "
                                                      "stream caps are still derived from it")
    computing_requests_per_worker: int = Field(1, ge=0, le=256, description="Requests computing at once in one "
                                               "API worker; the others wait in line, but never behind one that "
                                               "has run 25 ms (it is waiting on I/O). 0: no limit")
    debug: bool = Field(False, description="Serve with the Flask development server instead of gunicorn")
    allowed_hosts: str = Field("", description="Comma list of Host header names the API answers (any port; '*': "
                                "any). Empty: localhost, 127.0.0.1, ::1 and HOST (with 0.0.0.0: this machine's names)")
    allowed_origins: str = Field("", description="Comma list of browser origins (scheme://host:port) allowed to send "
                                 "state-changing requests besides the API's own; others get 403 ORIGIN_NOT_ALLOWED")
    max_json_body_kb: int = Field(2048, ge=16, le=65536, description="Largest JSON request body (KB); larger is 413 "
                                  "before it is read")
    api_token: str = Field("", description="When set, every /api/ request needs 'Authorization: Bearer <token>'")
    log_level: str = Field("INFO", description="Log level of API and executor")
    # --- execution ---------------------------------------------------------------------------------------------
    max_concurrent_tasks: int = Field(1, ge=1, le=64, description="Tasks allowed to run at the same time")
    heartbeat_interval_s: float = Field(2.0, gt=0, description="Executor heartbeat period")
    executor_standby: bool = Field(True, description="Keep one executor process started ahead (modules imported, "
                                                     "database attached) for the next execution of each API worker")
    heartbeat_stale_s: float = Field(30.0, gt=0, description="A running execution without heartbeat this long "
                                                              "is failed")
    monitor_interval_s: float = Field(10.0, gt=0, description="How often the API checks for dead executors")
    cancel_grace_s: float = Field(1.0, ge=0, description="SIGTERM -> SIGKILL grace period on cancel")
    retention_days: int = Field(30, ge=0, description="Completed, partial_completed and failed tasks older than this are removed "
                                                       "(0 disables)")
    cleanup_interval_s: float = Field(3600.0, gt=0, description="How often the API runs the retention cleanup")
    # --- business database safety ------------------------------------------------------------------------------
    statement_timeout_ms: int = Field(10000, ge=100, description="statement_timeout for every business query")
    lock_timeout_ms: int = Field(2000, ge=10, description="lock_timeout for every business query")
    sample_rows: int = Field(20, ge=1, le=1000, description="Sample rows read per table")
    validation_row_cap: int = Field(1000, ge=1, description="Rows fetched when executing a SQL under validation")
    validation_byte_cap: int = Field(16_000_000, ge=1024, description="Bytes of result (rows as PostgreSQL holds "
                                     "them) a SQL under validation may return, counted while fetching; beyond it "
                                     "the SQL is rejected as too large")
    validation_concurrency: int = Field(4, ge=1, le=64, description="Parallel connections for SQL validation")
    allow_privileged_business_role: bool = Field(False, description="Accept a business database role that is a "
                                                 "superuser or may read/write server files (refused by default)")
    business_db_allowed_hosts: str = Field("", description="Comma list of hosts, IPs, CIDRs or socket directories "
                                                           "a db_connection may name; empty: any host")
    vector_db_allowed_hosts: str = Field("", description="Comma list of hosts, IPs, CIDRs or socket directories a "
                                         "vector_db_connection may name; empty: BUSINESS_DB_ALLOWED_HOSTS applies")
    client_db_connect_timeout_s: int = Field(3, ge=2, le=10, description="Connect timeout (s) for a database a "
                                             "client names; every failed connect answers after this long (x hosts)")
    database_tools_concurrency: int = Field(4, ge=1, le=64, description="Concurrent /api/v0/database/* requests "
                                                                         "per API process; more get 429")
    qa_pairs_per_table: int = Field(8, ge=1, le=50, description="Rule-based question-SQL pairs per table (plus "
                                                               "joins per FK edge): output grows with the schema")
    # --- LLM (OpenAI compatible); empty base URL -> built-in rule-based generator ---------------------------------
    llm_base_url: str = Field("", description="e.g. https://dashscope.aliyuncs.com/compatible-mode/v1")
    llm_api_key: str = Field("", description="Bearer key for the LLM endpoint")
    llm_model: str = Field("", description="Model name, e.g. qwen-plus")
    llm_temperature: float = Field(0.3, ge=0, le=2, description="Sampling temperature")
    llm_timeout_s: float = Field(60.0, gt=0, description="Per-request timeout")
    llm_max_retries: int = Field(3, ge=0, le=10, description="Retries on 429/5xx/timeouts")
    llm_max_concurrency: int = Field(4, ge=1, le=64, description="Concurrent LLM calls per task")
    llm_retry_backoff_s: float = Field(1.0, ge=0, description="Base of the exponential backoff between retries "
                                                               "(LLM and embeddings), with jitter")
    llm_retry_max_wait_s: float = Field(30.0, ge=0, description="Longest single wait between retries, also caps "
                                                                "a server's Retry-After")
    # --- embeddings (OpenAI compatible); empty base URL -> built-in hashing embedder ------------------------------
    embedding_base_url: str = Field("", description="OpenAI-compatible /embeddings base URL")
    embedding_api_key: str = Field("", description="Bearer key for the embedding endpoint")
    embedding_model: str = Field("", description="Embedding model name")
    embedding_dimension: int = Field(384, ge=8, le=8192, description="Dimension of the built-in embedder")
    embedding_batch_size: int = Field(64, ge=1, le=2048, description="Texts per /embeddings request")
    # --- uploads -----------------------------------------------------------------------------------------------
    max_upload_mb: float = Field(20.0, gt=0, description="Largest accepted upload (MB)")
    max_task_uploads_mb: float = Field(200.0, gt=0, description="Total size of the files uploaded into one task "
                                                                "(MB); more is 413")
    table_list_max_lines: int = Field(5000, ge=1, description="Most lines accepted in a table list")

    @field_validator("log_level")
    @classmethod
    def _level(cls, v: str) -> str:
        v = v.upper()
        if v not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return v

    @field_validator("vector_db_url")
    @classmethod
    def _postgres_url(cls, v: str) -> str:
        if v and not v.startswith(("postgresql://", "postgres://")):
            raise ValueError("must be a URL like postgresql://user:password@host:5432/dbname")
        return v

    @property
    def tasks_root(self) -> Path:
        return (self.training_data_dir or self.data_home / "data_pipeline" / "training_data").resolve()

    @property
    def pgdata(self) -> Path:
        return (self.data_home / "data" / "pgdata").resolve()

    @property
    def llm_enabled(self) -> bool:
        return bool(self.llm_base_url and self.llm_model)

    @property
    def embedding_remote(self) -> bool:
        return bool(self.embedding_base_url and self.embedding_model)

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    @property
    def max_task_uploads_bytes(self) -> int:
        return int(self.max_task_uploads_mb * 1024 * 1024)

    @property
    def table_lists_dir(self) -> Path:
        """Where server-side table lists (`table_list_file`) live: {data_home}/table_lists."""
        return (self.data_home / "table_lists").resolve()


ALIASES = {"data_home": ("DP_DATA_HOME",)}


class ConfigError(RuntimeError):
    pass


def load_settings(overrides: Optional[dict] = None, environ: Optional[dict] = None) -> Settings:
    """Build settings from `.env` + environment, then `overrides` (tests pass these instead of patching)."""
    if environ is None:
        load_dotenv(PROJECT_ROOT / ".env", override=False)
        environ = dict(os.environ)
    raw: dict = {}
    for name in Settings.model_fields:
        for key in (name.upper(), *ALIASES.get(name, ())):
            if environ.get(key) not in (None, ""):
                raw[name] = environ[key]
    raw.update(overrides or {})
    if environ.get("PGSERVICE"):
        raise ConfigError("invalid configuration: PGSERVICE is set; libpq would apply it to databases clients name. "
                          "Name the service in DATABASE_URL / BUSINESS_DB_URL (?service=NAME) instead")
    try:
        return Settings(**raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"invalid configuration: {problems}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()


def settings_env(settings: Settings) -> dict[str, str]:
    """The settings as environment variables, so a child process (executor) reads exactly these settings."""
    env: dict[str, str] = {}
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        env[name.upper()] = ("1" if value else "0") if isinstance(value, bool) else str(value)
    env["DP_DATA_HOME"] = str(settings.data_home)
    return env
