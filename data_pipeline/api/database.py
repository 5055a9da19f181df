"""Database tools (contract "Database tools", seed 002 §6): list business tables, one table's DDL/Markdown.

Both read the business database through read-only sessions with timeouts; `db_connection` omitted means the
configured default. Every URL is vetted by core/business_db.py (not our own database, no file-reading
parameters, allowed hosts, no privileged role). A connection failure answers DATABASE_CONNECTION_ERROR with a
scrubbed message (400 when the client supplied the URL, 500 for the configured default); the password is never
echoed. At most DATABASE_TOOLS_CONCURRENCY requests run at once per API process (each may wait on a connect
timeout): more answer 429 with `Retry-After`, so the endpoints cannot tie up every request thread.
"""
from __future__ import annotations

import logging
import re
from typing import Literal, Optional, Union

from flask import Blueprint
from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.db import database_name, is_postgres_url
from core.errors import AppError, DatabaseConnectionError, LLMError, ValidationFailed
from core.secrets import scrub_text
from data_pipeline.schema import comments
from data_pipeline.api import ctx, tool_slots
from data_pipeline.api.envelope import json_body, ok, parse
from data_pipeline.schema.ddl_render import render_ddl, render_md, short_type
from data_pipeline.schema.introspect import introspect, list_tables
from data_pipeline.lexicon.glossary import resolve_language
from data_pipeline.steps.ddl_generation import generator_label, measure_columns, table_label
from data_pipeline.taskfiles.table_list import TableRef, parse_name

bp = Blueprint("database", __name__, url_prefix="/api/v0/database")
log = logging.getLogger(__name__)


DatabaseToolsBusy = tool_slots.ToolsBusy
tool_slots.cap(bp, methods=("POST", "GET", "PUT", "PATCH", "DELETE"))


def is_system_schema(name: str) -> bool:
    """PostgreSQL's own schemas: pg_catalog, information_schema, pg_toast, pg_temp_N, pg_toast_temp_N (every `pg_`
    name is reserved for the system; compared case-insensitively: refusing a user's "PG_x" is the safe side)."""
    lowered = name.strip().lower()
    return lowered == "information_schema" or lowered.startswith("pg_")


def _refuse_system_schemas(names: list[str], field: str) -> None:
    system = [n for n in names if is_system_schema(n)]
    if system:
        raise ValidationFailed(f"{field}: {', '.join(system)} is a PostgreSQL system schema; the database tools "
                               "list and describe business schemas only", invalid_params=[field])


class TableNotFound(AppError):
    """No such table or view in the business database."""
    status, code, message, error_type = 404, "NOT_FOUND", "表不存在", "NotFoundError"


def _check_url(value: Optional[str]) -> Optional[str]:
    if value is not None and not is_postgres_url(value):
        raise ValueError("must be a URL like postgresql://user:password@host:5432/dbname")
    return value


class ListTablesRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    db_connection: Optional[str] = Field(None, max_length=2048)
    schema_: Union[str, list[str], None] = Field(None, alias="schema")
    table_name_pattern: Optional[str] = Field(None, max_length=200)

    @field_validator("db_connection")
    @classmethod
    def _url(cls, v: Optional[str]) -> Optional[str]:
        return _check_url(v)

    def schemas(self) -> list[str]:
        raw = self.schema_ if isinstance(self.schema_, list) else (self.schema_ or "public").split(",")
        names = [s.strip() for s in raw if isinstance(s, str) and s.strip()]
        if not names or any(len(s.encode("utf-8")) > 63 for s in names):
            raise ValidationFailed("schema: give one or more schema names (comma separated, at most 63 bytes each)",
                                   invalid_params=["schema"])
        _refuse_system_schemas(names, "schema")
        return list(dict.fromkeys(names))


class TableDDLRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    table: str = Field(..., min_length=1, max_length=300)
    db_connection: Optional[str] = Field(None, max_length=2048)
    business_context: Optional[str] = Field(None, max_length=4000)
    type: Literal["ddl", "md", "both"] = "both"
    # as a task's: the language of generated comments and of the files' labels (zh: the seeds' format)
    question_language: Optional[Literal["zh", "en", "auto"]] = None

    @field_validator("db_connection")
    @classmethod
    def _url(cls, v: Optional[str]) -> Optional[str]:
        return _check_url(v)


def _business_url(given: Optional[str]) -> str:
    url = given or ctx().runtime.business_url
    if not url:
        raise ValidationFailed("no business database configured: pass db_connection", invalid_params=["db_connection"])
    return url


def _connection_error(exc: DatabaseConnectionError, client_url: bool) -> DatabaseConnectionError:
    err = DatabaseConnectionError(scrub_text(exc.details), invalid_params=["db_connection"] if client_url else [])
    if client_url:
        err.status = 400   # the client's URL is the problem, not our service
    return err


@bp.post("/tables")
def tables():
    req = parse(ListTablesRequest, json_body())
    schemas = req.schemas()
    url = _business_url(req.db_connection)
    try:
        items = list_tables(url, schemas, req.table_name_pattern or None, ctx().settings)
    except DatabaseConnectionError as exc:
        raise _connection_error(exc, bool(req.db_connection)) from None
    names = [TableRef(i["schema"], i["name"]).qualified for i in items]
    data = {
        "tables": names, "total": len(names), "schemas": schemas, "table_name_pattern": req.table_name_pattern,
        "db_connection_info": {"database": database_name(url)},
        "objects": [{"name": n, "type": i["type"], "comment": i["comment"], "readable": i["readable"]}
                    for n, i in zip(names, items)],
    }
    return ok(data, message="获取表列表成功")


def _fill_comments(table, business_context: str, language: str) -> dict:
    """LLM comments when an LLM is configured (falling back to rules if it fails), else rule-based."""
    from core.llm import make_llm
    by_name = {(table.schema, table.name): table}
    settings = ctx().settings
    llm = make_llm(settings)
    rules = generator_label(None, language)
    if llm is None:
        comments.apply_rule_based(table, by_name, language)
        return {"has_llm_comments": False, "generator": rules}
    try:
        with llm:
            comments.apply_llm(table, llm, business_context, by_name, language)
        return {"has_llm_comments": table.comment_source == "llm", "generator": generator_label(llm, language)}
    except LLMError as exc:
        log.warning("LLM comments for %s failed, using rules: %s", table.qualified, exc.details)
        comments.apply_rule_based(table, by_name, language)
        return {"has_llm_comments": False, "generator": rules, "llm_error": exc.details}


def _field(col) -> dict:
    return {"column_name": col.name, "data_type": re.sub(r"\(.*\)$", "", short_type(col)).strip(),
            "full_type": col.data_type, "max_length": col.max_length, "is_nullable": col.nullable,
            "is_primary_key": col.is_primary_key, "comment": col.effective_comment,
            "comment_source": col.comment_source if not col.comment else "database",
            "is_enum_like": col.is_enum_like, "pii_kind": col.pii_kind}


@bp.post("/table/ddl")
def table_ddl():
    req = parse(TableDDLRequest, json_body(required=True))
    try:
        ref = parse_name(req.table)
    except ValueError as exc:
        raise ValidationFailed(f"table: {exc}", invalid_params=["table"]) from None
    _refuse_system_schemas([ref.schema], "table")
    url = _business_url(req.db_connection)
    try:
        found, _missing = introspect(url, [ref], ctx().settings)
    except DatabaseConnectionError as exc:
        raise _connection_error(exc, bool(req.db_connection)) from None
    if not found:
        raise TableNotFound(f"table {ref.qualified} not found in database {database_name(url)!r}",
                            invalid_params=["table"])
    table = found[0]
    language = resolve_language(req.question_language, req.business_context or "",
                                [table.comment] + [c.comment for c in table.columns])
    info = _fill_comments(table, req.business_context or "", language)
    label = table_label(table, info["generator"], language)
    data = {
        "ddl": render_ddl(table, source_label=label, language=language) if req.type in ("ddl", "both") else None,
        "md": (render_md(table, source_label=label, language=language, measures=measure_columns(table))
               if req.type in ("md", "both") else None),
        "table_info": {"table_name": table.name, "schema_name": table.schema, "full_name": TableRef(table.schema, table.name).qualified,
                       "comment": table.effective_comment, "comment_source": table.comment_source,
                       "table_type": table.kind, "field_count": len(table.columns), "row_count": table.row_estimate,
                       "row_count_exact": table.row_count_exact},
        "fields": [_field(c) for c in table.columns],
        "generation_info": {"business_context": req.business_context, "output_type": req.type,
                            "database": database_name(url), "question_language": language, **info},
    }
    return ok(data, message="获取表DDL成功")
