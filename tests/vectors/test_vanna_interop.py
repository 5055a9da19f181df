"""Interoperability: what `training_load` writes is read back correctly by Vanna's own PG_VectorStore.

vanna==2.0.2 (`vanna.legacy.pgvector.PG_VectorStore`, the 0.7.x store kept under `legacy`) with its `pgvector`
extra, pinned in requirements-dev.txt. Vanna connects to our metadata database through SQLAlchemy + psycopg 3
(the embedded server is a unix socket: the URL carries it as the `host=` query parameter) and embeds queries
with the SAME embedder the loader used, wrapped as a LangChain `Embeddings`.
"""
from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

import pytest

INSTALL_HINT = "vanna[pgvector]==2.0.2 is not installed (pip install -r requirements-dev.txt)"


def _require_vanna() -> None:
    """Skip locally without Vanna; under CI=true fail instead: this is the only proof of the Vanna contract."""
    try:
        import vanna.legacy.pgvector  # noqa: F401
    except ImportError as exc:
        if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes"):
            pytest.fail(f"the Vanna interoperability tests cannot run under CI: {INSTALL_HINT} ({exc})",
                        pytrace=False)
        pytest.skip(INSTALL_HINT, allow_module_level=True)


_require_vanna()

from langchain_core.embeddings import Embeddings  # noqa: E402
from vanna.legacy.pgvector import PG_VectorStore  # noqa: E402

from core.embedding import make_embedder  # noqa: E402
from data_pipeline.steps import training_load  # noqa: E402
from tests.vector_fixtures import (DDL_TEXTS, MD_TEXTS, TRICKY_PAIRS, empty_vector_tables, step_context,  # noqa: E402
                                   write_task_files)
from tests.vanna_messages import VannaMessages  # noqa: E402

TASK = "task_20250103_000001"


class SameEmbeddings(Embeddings):
    """Our embedder under LangChain's interface: the reader must embed exactly like the writer."""

    def __init__(self, embedder):
        self.embedder = embedder

    def embed_documents(self, texts):
        return self.embedder.embed_documents(list(texts))

    def embed_query(self, text):
        return self.embedder.embed_query(text)


class ReaderOnlyVanna(VannaMessages, PG_VectorStore):
    """PG_VectorStore needs an LLM half to be instantiable; these tests only use the vector half."""

    def submit_prompt(self, prompt, **kwargs):
        raise AssertionError("no LLM in the interoperability test")


def sqlalchemy_url(meta_url: str) -> str:
    """Our libpq URL as a SQLAlchemy psycopg-3 URL (query string, e.g. host=/socket/dir, kept)."""
    parts = urlsplit(meta_url)
    return urlunsplit(("postgresql+psycopg", parts.netloc, parts.path, parts.query, parts.fragment))


@pytest.fixture()
def vanna(clean_db):
    empty_vector_tables(clean_db.db)
    store = ReaderOnlyVanna(config={"connection_string": sqlalchemy_url(clean_db.runtime.meta_url),
                                    "embedding_function": SameEmbeddings(make_embedder(clean_db.settings)),
                                    "n_results": 10})
    yield store
    empty_vector_tables(clean_db.db)


def _training_rows(store) -> list[tuple]:
    df = store.get_training_data()
    # pandas turns Vanna's question=None (ddl/doc rows) into NaN in a mixed column; map it back
    return sorted(((r["training_data_type"], None if not isinstance(r["question"], str) else r["question"],
                    r["content"], r["id"]) for _, r in df.iterrows()), key=repr)


def test_vanna_reads_exactly_our_rows(vanna, app_ctx):
    write_task_files(app_ctx.task_dir(TASK))
    training_load.run(step_context(app_ctx, TASK))

    rows = _training_rows(vanna)
    assert len(rows) == len(TRICKY_PAIRS) + len(DDL_TEXTS) + len(MD_TEXTS)
    expected = sorted([("sql", q, s) for q, s in TRICKY_PAIRS]
                      + [("ddl", None, t) for t in DDL_TEXTS.values()]
                      + [("documentation", None, t) for t in MD_TEXTS.values()], key=repr)
    assert sorted([(kind, q, content) for kind, q, content, _ in rows], key=repr) == expected
    stored_ids = {r["id"] for r in app_ctx.db.fetchall("SELECT id FROM langchain_pg_embedding")}
    assert {row_id for *_, row_id in rows} == stored_ids


def test_vanna_similarity_search_returns_our_texts_intact(vanna, app_ctx):
    write_task_files(app_ctx.task_dir(TASK))
    training_load.run(step_context(app_ctx, TASK))

    for question, sql in TRICKY_PAIRS:
        found = vanna.get_similar_question_sql(question)
        assert {"question": question, "sql": sql} in found
        assert found[0] == {"question": question, "sql": sql}, (question, found[0])
    assert sorted(vanna.get_related_ddl("服务区 service_area_name")) == sorted(DDL_TEXTS.values())
    assert vanna.get_related_ddl("company_name 公司名称")[0] == DDL_TEXTS["bss_company.ddl"]
    assert sorted(vanna.get_related_documentation("服务区")) == sorted(MD_TEXTS.values())


def test_reload_leaves_no_duplicates_and_keeps_vannas_own_rows(vanna, app_ctx):
    write_task_files(app_ctx.task_dir(TASK))
    training_load.run(step_context(app_ctx, TASK))
    own_id = vanna.train(question="Vanna 自己加的问题", sql="SELECT 42")
    first = _training_rows(vanna)

    training_load.run(step_context(app_ctx, TASK))
    training_load.run(step_context(app_ctx, TASK))
    assert _training_rows(vanna) == first
    assert any(row_id == own_id for *_, row_id in first)

    # Vanna's own removal works on our rows (it matches cmetadata->>'id')
    ddl_id = next(row_id for kind, _, _, row_id in first if kind == "ddl")
    assert vanna.remove_training_data(ddl_id) is True
    assert len(_training_rows(vanna)) == len(first) - 1


def test_vanna_reads_a_real_pipeline_run(vanna, app_ctx):
    """ddl_generation -> qa_generation -> sql_validation -> training_load on two demo tables (rule-based, no LLM),
    then Vanna sees every generated DDL, doc and surviving pair."""
    from dataclasses import replace

    from data_pipeline.qa.pairs import latest_pairs_file, read_pairs
    from data_pipeline.steps import step_module
    from data_pipeline.taskfiles.table_list import parse_names

    task = "task_20250103_000002"
    app_ctx.task_dir(task).mkdir(parents=True)
    ctx = replace(step_context(app_ctx, task, params={"business_context": "高速公路服务区管理系统",
                                                      "modify_original_file": True}),
                  tables=parse_names(["bss_company", "bss_service_area"]))
    for step in ("ddl_generation", "qa_generation", "sql_validation"):
        step_module(step).run(ctx)
    result = training_load.run(ctx)

    task_dir = app_ctx.task_dir(task)
    ddl = {p.read_text(encoding="utf-8") for p in task_dir.glob("*.ddl")}
    docs = {p.read_text(encoding="utf-8") for p in task_dir.glob("bss_*_detail.md")}
    pairs = {(p.question, p.sql) for p in read_pairs(latest_pairs_file(task_dir))}
    assert len(ddl) == 2 and len(docs) == 2 and pairs
    assert result.summary["loaded"] == {"sql": len(pairs), "ddl": 2, "documentation": 2}

    rows = _training_rows(vanna)
    assert {content for kind, _, content, _ in rows if kind == "ddl"} == ddl
    assert {content for kind, _, content, _ in rows if kind == "documentation"} == docs
    assert {(q, content) for kind, q, content, _ in rows if kind == "sql"} == pairs
    question, sql = sorted(pairs)[0]
    assert {"question": question, "sql": sql} in vanna.get_similar_question_sql(question)
