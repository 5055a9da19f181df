"""Execution accuracy of SQL an LLM writes from Vanna's prompt, against the gold SQL's result.

Per question and per arm ("context": Vanna's whole prompt; "baseline": the same prompt with the related DDL
only — no documentation, no similar pairs): `vanna_messages` builds the messages of Vanna's `get_sql_prompt`
(system: role + `===Tables` + `===Additional Context` + `===Response Guidelines`; then each similar pair as a
user/assistant turn; then the question), `extract_sql` reads the SQL out of the answer as Vanna's `extract_sql`
does, our guard (data_pipeline.validation.guard.check_sql) vets it, `ResultReader` runs it in a READ ONLY
transaction on the business database, and compare.compare gives EX and subset. Every failure on the way — the
LLM call, no SQL in the answer, the guard, the database — is a miss with its reason, never an exception.
"""
from __future__ import annotations

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

import psycopg2
import psycopg2.errors

from core.business_db import rollback_unless_closed
from core.db import first_line
from core.errors import AppError
from core.secrets import scrub_text
from data_pipeline.evaluation.compare import compare, follow_sql
from data_pipeline.validation.guard import check_sql

DIALECT = "PostgreSQL"
MAX_PROMPT_TOKENS = 14000          # Vanna's default max_tokens for the prompt's DDL and documentation
RESULT_ROW_CAP = 10000             # a result with more rows is not compared (a multiset would be truncated)
ARMS = ("context", "baseline")


def _approx_tokens(text: str) -> float:
    return len(text) / 4             # Vanna's str_to_approx_token_count


def vanna_messages(question: str, ddl_list: Sequence[str], doc_list: Sequence[str],
                   pairs: Sequence[dict]) -> list[dict]:
    """The messages Vanna's get_sql_prompt builds (legacy VannaBase, vanna 0.7.x / 2.0 legacy)."""
    prompt = (f"You are a {DIALECT} expert. Please help to generate a SQL query to answer the question. Your "
              "response should ONLY be based on the given context and follow the response guidelines and format "
              "instructions. ")
    if ddl_list:
        prompt += "\n===Tables \n"
        for ddl in ddl_list:
            if _approx_tokens(prompt) + _approx_tokens(ddl) < MAX_PROMPT_TOKENS:
                prompt += f"{ddl}\n\n"
    if doc_list:
        prompt += "\n===Additional Context \n\n"
        for doc in doc_list:
            if _approx_tokens(prompt) + _approx_tokens(doc) < MAX_PROMPT_TOKENS:
                prompt += f"{doc}\n\n"
    prompt += (
        "===Response Guidelines \n"
        "1. If the provided context is sufficient, please generate a valid SQL query without any explanations for "
        "the question. \n"
        "2. If the provided context is almost sufficient but requires knowledge of a specific string in a "
        "particular column, please generate an intermediate SQL query to find the distinct strings in that column. "
        "Prepend the query with a comment saying intermediate_sql \n"
        "3. If the provided context is insufficient, please explain why it can't be generated. \n"
        "4. Please use the most relevant table(s). \n"
        "5. If the question has been asked and answered before, please repeat the answer exactly as it was given "
        "before. \n"
        f"6. Ensure that the output SQL is {DIALECT}-compliant and executable, and free of syntax errors. \n")
    messages = [{"role": "system", "content": prompt}]
    for pair in pairs:
        if pair.get("question") and pair.get("sql"):
            messages.append({"role": "user", "content": pair["question"]})
            messages.append({"role": "assistant", "content": pair["sql"]})
    messages.append({"role": "user", "content": question})
    return messages


def extract_sql(answer: str) -> str:
    """Vanna's extract_sql: the last `WITH ...;`, else the last `SELECT ...;`, else the last ```sql block, else
    the last ``` block, else the answer itself. (CREATE TABLE ... AS is Vanna's first rule; the guard refuses it.)"""
    for pattern in (r"\bCREATE\s+TABLE\b.*?\bAS\b.*?;", r"\bWITH\b .*?;", r"\bSELECT\b .*?;"):
        found = re.findall(pattern, answer, re.DOTALL | re.IGNORECASE)
        if found:
            return found[-1]
    for pattern in (r"```sql\s*\n(.*?)```", r"```(.*?)```"):
        found = re.findall(pattern, answer, re.DOTALL | re.IGNORECASE)
        if found:
            return found[-1].strip()
    return answer


@dataclass
class Result:
    ok: bool
    columns: list = field(default_factory=list)
    rows: list = field(default_factory=list)
    error: str = ""                   # why not ok: rejected by the guard, database error, timeout, too large
    next_row: Optional[list] = None   # gold only: the row after its LIMIT (compare's tie rule)


class ResultReader:
    """Runs SQL on the business database: guard first, then one READ ONLY transaction per statement, rolled
    back, on one connection per thread (core.business_db.connect_business: vetted URL and role, timeouts)."""

    def __init__(self, business_url: str, settings, row_cap: int = RESULT_ROW_CAP):
        self.url, self.settings, self.row_cap = business_url, settings, row_cap
        self._local = threading.local()
        self._all: list = []
        self._lock = threading.Lock()

    def _conn(self):
        from core.business_db import connect_business
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            conn = connect_business(self.url, statement_timeout_ms=self.settings.statement_timeout_ms,
                                    lock_timeout_ms=self.settings.lock_timeout_ms,
                                    application_name="data_pipeline_evaluation", settings=self.settings)
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def run(self, sql: str) -> Result:
        verdict = check_sql(sql)
        if not verdict.ok:
            return Result(False, error=f"rejected by the SQL guard: {verdict.reason}")
        conn = self._conn()
        try:
            with conn.cursor() as cur:
                cur.execute(f"SELECT * FROM (\n{verdict.body}\n) AS _dp_eval LIMIT {int(self.row_cap) + 1}")
                rows = cur.fetchall()
                columns = [d[0] for d in cur.description or []]
            if len(rows) > self.row_cap:
                return Result(False, error=f"more than {self.row_cap} rows: not compared")
            return Result(True, columns, [list(r) for r in rows])
        except (psycopg2.errors.QueryCanceled, psycopg2.errors.LockNotAvailable) as exc:
            return Result(False, error=f"timeout: {first_line(exc)}")
        except psycopg2.Error as exc:
            return Result(False, error=f"database error: {first_line(exc)}")
        finally:
            rollback_unless_closed(conn)

    def run_gold(self, sql: str) -> Result:
        """`run`, plus the row after the LIMIT when the gold orders with LIMIT n (read with LIMIT n+1)."""
        result = self.run(sql)
        follow = follow_sql(sql) if result.ok else None
        if follow is not None:
            extended = self.run(follow)
            if extended.ok and len(extended.rows) > len(result.rows):
                result.next_row = extended.rows[len(result.rows)]
        return result

    def close(self) -> None:
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            try:
                conn.close()
            except psycopg2.Error:
                pass


@dataclass
class Question:
    id: str
    question: str
    gold_sql: str
    level: str
    ddl: list
    docs: list
    pairs: list


# an answer that is a statement of another kind still goes to the guard (and is rejected there, with its reason)
_STATEMENT = re.compile(r"(\s|--[^\n]*\n|/\*.*?\*/)*(insert|update|delete|drop|create|alter|truncate|copy|grant|"
                        r"revoke|call|do|set|explain|values|table|merge|lock|vacuum|analyze|comment)\b", re.I | re.S)


def _generate(llm, messages: list[dict]) -> tuple[Optional[str], str]:
    """(SQL, "") or (None, why)."""
    try:
        answer = llm.chat(messages, temperature=0, purpose="eval_sql")
    except AppError as exc:
        return None, f"LLM call failed: {scrub_text(exc.details)[:300]}"
    sql = extract_sql(answer).strip()
    if not sql or not (re.search(r"\b(select|with)\b", sql, re.I) or _STATEMENT.match(sql)):
        return None, "the LLM answered without SQL: " + scrub_text(answer.strip())[:200]
    return sql, ""


def judge(question: Question, arm: str, llm, reader: ResultReader, gold: Result) -> dict:
    """One question, one arm: the outcome dict (ex, subset, generated_sql, reason)."""
    messages = vanna_messages(question.question, question.ddl,
                              question.docs if arm == "context" else [],
                              question.pairs if arm == "context" else [])
    started = time.perf_counter()
    sql, why = _generate(llm, messages)
    outcome = {"id": question.id, "arm": arm, "level": question.level, "question": question.question,
               "gold_sql": question.gold_sql, "generated_sql": sql, "ex": False, "subset": False}
    if sql is None:
        outcome["reason"] = why
    else:
        result = reader.run(sql)
        if not result.ok:
            outcome["reason"] = result.error
        else:
            verdict = compare(question.gold_sql, gold.columns, gold.rows, result.columns, result.rows,
                              gold.next_row)
            outcome.update(ex=verdict.ex, subset=verdict.subset, reason=verdict.reason, detail=verdict.detail)
    outcome["seconds"] = round(time.perf_counter() - started, 3)
    return outcome


def run_questions(questions: Sequence[Question], llm, reader: ResultReader, *, concurrency: int,
                  progress: Callable[[int, int], None] = lambda done, total: None,
                  check_cancelled: Callable[[], None] = lambda: None) -> tuple[list[dict], list[dict]]:
    """(outcomes of both arms, questions whose gold could not be run). LLM calls at most `concurrency` at once
    (the LLM client's own semaphore caps them too)."""
    golds = {}
    skipped = []
    for q in questions:
        check_cancelled()
        gold = reader.run_gold(q.gold_sql)
        if gold.ok:
            golds[q.id] = gold
        else:
            skipped.append({"id": q.id, "question": q.question, "gold_sql": q.gold_sql, "reason": gold.error})
    jobs = [(q, arm) for q in questions if q.id in golds for arm in ARMS]
    done = 0
    lock = threading.Lock()

    def one(job):
        nonlocal done
        check_cancelled()
        q, arm = job
        try:
            outcome = judge(q, arm, llm, reader, golds[q.id])
        except (AppError, psycopg2.Error, ValueError, TypeError, KeyError, OSError) as exc:
            # one question's trouble is its miss, never the step's failure (a cancel is none of these: it ends the run)
            first = (str(exc).strip().splitlines() or [""])[0]
            outcome = {"id": q.id, "arm": arm, "level": q.level, "question": q.question, "gold_sql": q.gold_sql,
                       "generated_sql": None, "ex": False, "subset": False,
                       "reason": scrub_text(f"unexpected error: {type(exc).__name__}: {first}")[:300]}
        with lock:
            done += 1
            progress(done, len(jobs))
        return outcome

    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="eval_sql") as pool:
        outcomes = list(pool.map(one, jobs))
    return outcomes, skipped
