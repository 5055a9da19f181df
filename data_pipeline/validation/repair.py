"""LLM repair of failing SQL: batched prompts with the DDL of the tables involved, answers matched by pair id.

Contract:
- Only pairs whose check failed (error, timeout, rejected) are repaired. An empty result from a valid query is
  NOT a failure and is not sent to the LLM: "no rows" is often the right answer to a question about a period or
  a value without data, and an LLM asked to "fix" it tends to change the question's meaning to get rows.
- Up to `max_rounds` (2) rounds: round 1 sends every failing pair; round 2 only the pairs whose repair still
  failed, with the repaired SQL and its new error. Several pairs go into one call (`batch_size`), each tagged
  with its stable pair id; answers are validated by pydantic and matched BY PAIR ID — an answer for an unknown
  id is ignored, a missing id counts as "no answer", the order of the answer never matters.
- Every repaired SQL goes through the same guard + read-only execution (`SqlChecker.check_pooled`) as the
  original: an LLM answering `DROP TABLE` gets `rejected`, never executed. A repair that references none of
  the task's tables (e.g. `SELECT 1`) does not count as a repair (`off_schema`).
- An LLM failure (after the client's retries) fails that batch's attempt, not the step.
- Without an LLM (rule-based mode) nothing is repaired; the step says so in its report.
"""
from __future__ import annotations

import json
import logging
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Collection, Optional, Sequence

import sqlglot
from pydantic import BaseModel, Field, model_validator
from sqlglot import exp

from core.errors import LLMError
from core.llm import load_prompt
from data_pipeline.schema.model import Table
from data_pipeline.validation.check import FAILED, CheckResult
from data_pipeline.validation.guard import check_sql

MAX_ROUNDS = 2
BATCH_SIZE = 5
DDL_CHAR_BUDGET = 12000      # DDL text per prompt; beyond it the remaining tables are named only
REPAIR_PURPOSE = "sql_repair"

log = logging.getLogger(__name__)


class RepairItem(BaseModel):
    pair_id: str = Field(min_length=1, max_length=64)
    sql: Optional[str] = None     # null: the model says it cannot repair this one


class RepairAnswer(BaseModel):
    repairs: list[RepairItem]

    @model_validator(mode="before")
    @classmethod
    def _bare_list(cls, value: Any) -> Any:
        # some models answer with the array only; accept it, the items are validated the same way
        return {"repairs": value} if isinstance(value, list) else value


@dataclass
class RepairCandidate:
    pair_id: str
    question: str
    sql: str
    check: CheckResult
    tables: list[str] = field(default_factory=list)   # qualified names from the pair metadata, may be empty


@dataclass
class RepairAttempt:
    round: int
    sql: Optional[str]          # None: no usable answer this round
    status: str                 # a check status, or "no_answer" / "llm_error" / "off_schema"
    error: str = ""
    execution_time: float = 0.0     # seconds spent checking this SQL (0 when it never reached the database)

    def to_dict(self) -> dict:
        return {"round": self.round, "sql": self.sql, "status": self.status, "error": self.error,
                "execution_time": self.execution_time}


@dataclass
class RepairOutcome:
    pair_id: str
    attempts: list[RepairAttempt] = field(default_factory=list)
    repaired_sql: Optional[str] = None      # set when a repair passed the checks
    check: Optional[CheckResult] = None     # the check of `repaired_sql`

    @property
    def succeeded(self) -> bool:
        return self.repaired_sql is not None

    @property
    def last_error(self) -> str:
        return self.attempts[-1].error if self.attempts else ""


# --- DDL of the tables involved --------------------------------------------------------------------------------
def referenced_tables(sql: str, tables: Sequence[Table]) -> list[Table]:
    """Known tables named in `sql` (schema-qualified or by unique/public name). Unparseable: none."""
    try:
        tree = sqlglot.parse_one(sql, read="postgres")
    except (sqlglot.errors.ParseError, sqlglot.errors.TokenError, ValueError, RecursionError):
        return []
    if tree is None:
        return []
    by_qualified = {t.qualified: t for t in tables}
    by_name: dict[str, Table] = {}
    for t in tables:
        if t.schema == "public" or t.name not in by_name:
            by_name[t.name] = t
    found: dict[str, Table] = {}
    for ref in tree.find_all(exp.Table):
        table = by_qualified.get(f"{ref.db}.{ref.name}") if ref.db else by_name.get(ref.name)
        if table is not None:
            found.setdefault(table.qualified, table)
    return list(found.values())


def render_ddl(table: Table) -> str:
    """A CREATE TABLE with comments, from the snapshot (used when the step-1 `.ddl` file is missing)."""
    lines = [f"  {c.name} {c.data_type}{'' if c.nullable else ' NOT NULL'}"
             + (f" -- {c.effective_comment}" if c.effective_comment else "") for c in table.columns]
    if table.primary_key:
        lines.append(f"  PRIMARY KEY ({', '.join(table.primary_key)})")
    for fk in table.foreign_keys:
        lines.append(f"  FOREIGN KEY ({', '.join(fk.columns)}) REFERENCES {fk.ref_schema}.{fk.ref_table}"
                     f"({', '.join(fk.ref_columns)})")
    head = f"-- {table.effective_comment}\n" if table.effective_comment else ""
    return f"{head}CREATE TABLE {table.qualified} (\n" + ",\n".join(lines) + "\n);"


class DdlLibrary:
    """DDL text per table: the task's `{stem}.ddl` file from ddl_generation, else rendered from the snapshot."""

    def __init__(self, task_dir: Path, tables: Sequence[Table]):
        self.task_dir = Path(task_dir)
        self.tables = list(tables)
        self._by_qualified = {t.qualified: t for t in self.tables}
        self._cache: dict[str, str] = {}

    def ddl(self, table: Table) -> str:
        if table.qualified not in self._cache:
            path = self.task_dir / f"{table.file_stem}.ddl"
            text = path.read_text(encoding="utf-8") if path.is_file() else render_ddl(table)
            self._cache[table.qualified] = text.strip()
        return self._cache[table.qualified]

    def tables_for(self, candidates: Sequence[RepairCandidate]) -> list[Table]:
        """Tables named in the pairs' metadata or SQL; all tables when none can be found."""
        chosen: dict[str, Table] = {}
        for c in candidates:
            named = [self._by_qualified[q] for q in c.tables if q in self._by_qualified]
            for t in named or referenced_tables(c.sql, self.tables):
                chosen.setdefault(t.qualified, t)
        return list(chosen.values()) or self.tables

    def text_for(self, candidates: Sequence[RepairCandidate]) -> str:
        parts, used, skipped = [], 0, []
        for table in self.tables_for(candidates):
            text = self.ddl(table)
            if used + len(text) > DDL_CHAR_BUDGET and parts:
                skipped.append(table.qualified)
                continue
            parts.append(text)
            used += len(text)
        if skipped:
            parts.append("-- 其他相关表（结构从略）: " + ", ".join(skipped))
        return "\n\n".join(parts)


# --- one LLM call ----------------------------------------------------------------------------------------------
def build_messages(batch: Sequence[RepairCandidate], ddl_text: str, business_context: str) -> list[dict]:
    items = [{"pair_id": c.pair_id, "question": c.question, "sql": c.sql,
              "error": f"{c.check.status}: {c.check.error}"} for c in batch]
    user = load_prompt("sql_repair", business_context=business_context or "（未提供）", ddl=ddl_text,
                       items=json.dumps(items, ensure_ascii=False, indent=1))
    return [{"role": "system", "content": load_prompt("sql_repair_system")}, {"role": "user", "content": user}]


def request_repairs(llm: Any, batch: Sequence[RepairCandidate], ddl_text: str,
                    business_context: str) -> dict[str, Optional[str]]:
    """pair id -> repaired SQL (None when the model gave up) for the ids of `batch` the model answered.

    Matching is by pair id only; answers for ids not in the batch are dropped, the first answer per id wins.
    Raises LLMError when the call fails or the answer is not valid JSON of the expected shape.
    """
    answer: RepairAnswer = llm.chat_json(build_messages(batch, ddl_text, business_context), RepairAnswer,
                                         purpose=REPAIR_PURPOSE)
    wanted = {c.pair_id for c in batch}
    matched: dict[str, Optional[str]] = {}
    for item in answer.repairs:
        pid = item.pair_id.strip()
        if pid in wanted and pid not in matched:
            matched[pid] = _unfenced(item.sql) if isinstance(item.sql, str) else None
    unknown = [i.pair_id for i in answer.repairs if i.pair_id.strip() not in wanted]
    if unknown:
        log.warning("repair answer named %d unknown pair id(s); ignored", len(unknown))
    return matched


_FENCE = re.compile(r"^```(?:[A-Za-z]+[ \t]*\n|\s*)(.*?)\s*```$", re.S)


def _unfenced(sql: str) -> Optional[str]:
    """The SQL without a Markdown code fence some models put around it; None when empty."""
    text = sql.strip()
    m = _FENCE.match(text)
    return (m.group(1).strip() if m else text) or None


# --- the rounds ------------------------------------------------------------------------------------------------
def repair_failing(candidates: Sequence[RepairCandidate], *, llm: Any, check: Callable[[str], CheckResult],
                   ddl: DdlLibrary, business_context: str = "", max_rounds: int = MAX_ROUNDS,
                   batch_size: int = BATCH_SIZE, concurrency: int = 2,
                   should_stop: Callable[[], bool] = lambda: False,
                   on_round: Callable[[int, int, int], None] = lambda rnd, tried, fixed: None,
                   request: Optional[Callable[[list, str], dict[str, Optional[str]]]] = None,
                   lead: Collection[str] = frozenset()) -> dict[str, RepairOutcome]:
    """Repair failing pairs in up to `max_rounds` rounds; pair id -> outcome (every candidate has one).

    `check(sql)` must be the full guard + read-only execution check, callable from several threads at once (a
    batch's answers are checked together: SqlChecker.check_pooled). Batches of one round run concurrently
    (`concurrency`, the LLM client caps requests itself); re-validation happens as each batch returns.
    `request(batch, ddl_text)` answers one batch (default: `request_repairs`, one LLM call; repair_ahead.py
    hands over the answer of the very same prompt sent before every pair was checked); `lead`: the SQL guessed
    to fail, batched apart in round 1 (`first_round_batches`).
    """
    if request is None:
        def request(batch: list, ddl_text: str) -> dict[str, Optional[str]]:
            return request_repairs(llm, batch, ddl_text, business_context)
    outcomes = {c.pair_id: RepairOutcome(c.pair_id) for c in candidates if c.check.status in FAILED}
    pending = [c for c in candidates if c.pair_id in outcomes]
    for rnd in range(1, max_rounds + 1):
        if not pending or should_stop():
            break
        batches = first_round_batches(pending, batch_size, lead) if rnd == 1 else in_batches(pending, batch_size)

        def run_batch(batch: list[RepairCandidate]) -> list[RepairCandidate]:
            if should_stop():
                return []
            return _repair_batch(batch, rnd, request=request, check=check, ddl=ddl, known_tables=ddl.tables,
                                 outcomes=outcomes)

        with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(batches)))) as pool:
            still_failing = [c for retry in pool.map(run_batch, batches) for c in retry]
        on_round(rnd, len(pending), len(pending) - len(still_failing))
        pending = still_failing
    return outcomes


def first_round_batches(pending: Sequence[RepairCandidate], batch_size: int = BATCH_SIZE,
                        lead: Collection[str] = frozenset()) -> list[list[RepairCandidate]]:
    """Round 1's batches, in file order: first the failures whose SQL was guessed to fail (`lead`,
    validation/likely_failing.py), then the others. Kept apart, a failure found late never moves a guessed one
    to another batch, so the repair of the guessed failures can leave before every pair is checked with the
    very prompt round 1 sends (repair_ahead.py). Without `lead`, plain batches of the file order."""
    return in_batches([c for c in pending if c.sql in lead], batch_size) + \
        in_batches([c for c in pending if c.sql not in lead], batch_size)


def in_batches(items: Sequence[RepairCandidate], size: int) -> list[list[RepairCandidate]]:
    """`items` cut into lists of `size`, in order (the batches of one repair round)."""
    return [list(items[i:i + size]) for i in range(0, len(items), size)]


def _repair_batch(batch: list[RepairCandidate], rnd: int, *, request: Callable[[list, str], dict],
                  check: Callable[[str], CheckResult], ddl: DdlLibrary, known_tables: Sequence[Table],
                  outcomes: dict[str, RepairOutcome]) -> list[RepairCandidate]:
    """One call for `batch`; record an attempt per pair; return the candidates to retry next round."""
    try:
        answers = request(batch, ddl.text_for(batch))
    except LLMError as exc:
        for c in batch:
            outcomes[c.pair_id].attempts.append(RepairAttempt(rnd, None, "llm_error", str(exc)[:300]))
        return list(batch)
    retry = []
    answered: dict[str, str] = {}     # pair id -> the answer that goes to the database check
    for c in batch:
        sql = answers.get(c.pair_id)
        if sql is None:
            reason = "the model answered null (cannot repair)" if c.pair_id in answers else \
                "no answer for this pair id"
            outcomes[c.pair_id].attempts.append(RepairAttempt(rnd, None, "no_answer", reason))
            continue
        # guard first (a hostile answer is reported as `rejected`), then the schema test, then the DB check
        if known_tables and check_sql(sql).ok and not referenced_tables(sql, known_tables):
            outcomes[c.pair_id].attempts.append(
                RepairAttempt(rnd, sql, "off_schema", "the repaired SQL references none of the task's tables"))
            continue
        answered[c.pair_id] = sql
    # the batch's answers are checked at once, each on its own connection of the checker's pool, not one after
    # another (issue 26: the last repair answer -> embeddings gap)
    with ThreadPoolExecutor(max_workers=max(1, len(answered)), thread_name_prefix="repair_check") as pool:
        results = dict(zip(answered, pool.map(check, answered.values())))
    for c in batch:
        if c.pair_id not in answered:
            retry.append(c)
            continue
        sql, result = answered[c.pair_id], results[c.pair_id]
        outcomes[c.pair_id].attempts.append(
            RepairAttempt(rnd, sql, result.status, result.error, result.execution_time))
        if result.executable:
            # stored as the guard's statement body: no trailing `;` or comment in the training data
            outcomes[c.pair_id].repaired_sql = check_sql(sql).body or sql
            outcomes[c.pair_id].check = result
        else:
            retry.append(RepairCandidate(c.pair_id, c.question, sql, result, c.tables))
    return retry
