"""Zero writes for the evaluation too: an LLM answering with hostile SQL cannot change a business database through
the evaluation's guarded, read-only runs — on a scratch copy connected as its superuser owner, so only the guard,
the READ ONLY transaction and the timeouts stand in the way. Every hostile answer is a miss with its reason."""
from __future__ import annotations

import os

from core.llm import LLMClient
from data_pipeline.evaluation.accuracy import Question, ResultReader, run_questions
from tests.openai_stub import OpenAIStub
from tests.test_zero_writes import HOSTILE_SQL, fingerprint, scratch_url  # noqa: F401 - the fixture too

GOLD = "SELECT count(*) AS n FROM bss_company"


def test_hostile_generated_sql_writes_nothing_and_each_is_a_miss(settings, scratch_url):  # noqa: F811
    before = fingerprint(scratch_url)
    questions = [Question(f"q{i}", f"问题{i}：公司有多少家？", GOLD, "simple", ["CREATE TABLE bss_company (id text);"],
                          [], []) for i in range(len(HOSTILE_SQL))]
    answer = {q.question: sql for q, sql in zip(questions, HOSTILE_SQL)}
    s = settings.model_copy(update={"allow_privileged_business_role": True, "statement_timeout_ms": 500,
                                    "lock_timeout_ms": 200, "llm_max_retries": 0, "llm_max_concurrency": 3})
    with OpenAIStub() as stub:
        stub.responder = lambda req: f"```sql\n{answer[req['messages'][-1]['content']]}\n```"
        llm = LLMClient(s.model_copy(update={"llm_base_url": stub.base_url, "llm_model": "stub-model"}))
        reader = ResultReader(scratch_url, s)
        try:
            outcomes, skipped = run_questions(questions, llm, reader, concurrency=3)
        finally:
            reader.close()
    assert not skipped and len(outcomes) == 2 * len(HOSTILE_SQL)
    # Vanna's extract_sql keeps the last "SELECT ...;" of an answer: of "SELECT count(*) ...; DROP TABLE ..." only
    # the count is run (and is right); nothing else hostile gets a result
    right = {o["generated_sql"] for o in outcomes if o["ex"] or o["subset"]}
    assert right == {"SELECT count(*) FROM bss_company;"}
    reasons = {o["generated_sql"]: o["reason"] for o in outcomes}
    for sql in ("DROP TABLE bss_company", "SELECT pg_sleep(600)", "SELECT nextval('scratch_seq')",
                "SELECT audit_write(company_name) FROM bss_company", "SELECT * FROM bss_company FOR UPDATE"):
        assert reasons[sql].startswith("rejected by the SQL guard"), (sql, reasons[sql])
    assert fingerprint(scratch_url) == before                   # zero writes
    assert not os.path.exists("/tmp/zero_writes_copy.csv")
