"""Repair calls sent before every pair is checked (issue 26): used only when the prompt is the very same."""
from __future__ import annotations

import json
import threading

from core.llm import make_llm
from data_pipeline.qa.pairs import Pair, read_pairs
from data_pipeline.schema.model import save_snapshot
from data_pipeline.steps import early_checks, sql_validation
from data_pipeline.validation.check import CheckResult
from data_pipeline.validation.check import SqlChecker
from data_pipeline.validation.repair import DdlLibrary, RepairCandidate, first_round_batches, repair_failing
from data_pipeline.validation.repair_ahead import RepairAhead
from tests.executor_support import wait_for
from tests.openai_stub import OpenAIStub
from tests.validation.test_sql_validation import (FIXES, GOOD, MISSING, BROKEN, _ctx, _pair_ids, _report, _tables,
                                                  _write, fast_settings, task_dir)  # noqa: F401 - fixtures

# fails on the server only (nothing in the SQL names an unknown column): never guessed, found by its check
DIVIDE = Pair("每家公司的比例", "SELECT count(*) / (count(*) - count(*)) FROM bss_company")
DIVIDE_FIX = "SELECT count(*) FROM bss_company"


def _candidate(pair: Pair, error: str = "boom") -> RepairCandidate:
    return RepairCandidate(pair.id, pair.question, pair.sql, CheckResult("error", error))


def _answer(req) -> str:
    return json.dumps({"repairs": [{"pair_id": pid, "sql": FIXES.get(pid, DIVIDE_FIX)} for pid in _pair_ids(req)]})


def test_the_same_prompt_is_answered_once_another_one_is_asked(task_dir, fast_settings):
    with OpenAIStub() as stub:
        stub.responder = _answer
        s = fast_settings.model_copy(update={"llm_base_url": stub.base_url, "llm_model": "stub-model"})
        with make_llm(s) as llm:
            ahead = RepairAhead(llm, DdlLibrary(task_dir, _tables()), "ctx", concurrency=2)
            assert ahead.send([_candidate(BROKEN), _candidate(MISSING)]) == 1
            assert ahead.send([_candidate(BROKEN), _candidate(MISSING)]) == 0      # the same batch: not again
            # the call sent ahead runs in the pool: counting the stub's requests below needs it received first
            wait_for(lambda: len(stub.chat_requests) == 1, 30, what="the repair call sent ahead")
            batch = [_candidate(BROKEN), _candidate(MISSING)]
            other = ahead.request(batch, "-- other DDL")
            assert len(stub.chat_requests) == 2          # another DDL text: another prompt, another call
            same = ahead.request(batch, DdlLibrary(task_dir, _tables()).text_for(batch))
            assert len(stub.chat_requests) == 2          # answered by the call sent ahead
            assert ahead.send([_candidate(GOOD)]) == 0   # the round has started: nothing more goes ahead
            assert (ahead.sent, ahead.used, ahead.close()) == (1, 1, 0)
    assert same == other == {BROKEN.id: FIXES[BROKEN.id], MISSING.id: FIXES[MISSING.id]}
    # one call sent ahead (the DDL of the tables), one asked with the other DDL text
    assert sorted("-- other DDL" in r.prompt_text() for r in stub.chat_requests) == [False, True]


def test_unused_batch_sent_ahead_is_counted_and_waited_for(task_dir, fast_settings):
    with OpenAIStub(latency=0.2) as stub:
        stub.responder = _answer
        s = fast_settings.model_copy(update={"llm_base_url": stub.base_url, "llm_model": "stub-model"})
        with make_llm(s) as llm:
            ahead = RepairAhead(llm, DdlLibrary(task_dir, _tables()), "", concurrency=2)
            ahead.send([_candidate(MISSING)])
            ahead.request([_candidate(BROKEN)], "-- ddl")
            assert ahead.close() == 1
            # the unused call has been answered and counted before close returned
            assert llm.usage.to_dict()["by_purpose"]["sql_repair"]["calls"] == 2


def test_a_failure_found_late_gets_a_batch_of_its_own_and_the_guessed_one_goes_ahead(task_dir, fast_settings,
                                                                                     business_url, caplog):
    """MISSING is guessed to fail and checked first; DIVIDE fails on the server only, after GOOD pairs. Round 1
    batches the guessed failures apart (repair.first_round_batches), so the call sent ahead for MISSING alone is
    the round's own and is used, whenever DIVIDE's failure is found; DIVIDE is asked about in a batch of its own.
    The stub answers a batch holding both with a wrong repair that must never reach the pair file."""
    goods = [Pair(f"第{i}家公司的名称", f"SELECT company_name FROM bss_company ORDER BY id OFFSET {i} LIMIT 1")
             for i in range(6)]
    path = _write(task_dir, [MISSING, *goods, DIVIDE])

    def responder(req):
        ids = _pair_ids(req)
        if len(ids) > 1:
            return json.dumps({"repairs": [{"pair_id": pid, "sql": "SELECT wrong_again FROM bss_service_area"}
                                           for pid in ids]})
        return _answer(req)

    with OpenAIStub(latency=0.1) as stub:
        stub.responder = responder
        s = fast_settings.model_copy(update={"llm_base_url": stub.base_url, "llm_model": "stub-model",
                                             "validation_concurrency": 1})
        with make_llm(s) as llm, caplog.at_level("INFO", logger="test.sql_validation"):
            sql_validation.run(_ctx(task_dir, s, business_url, llm=llm))
        batches = sorted(tuple(_pair_ids(r.json)) for r in stub.chat_requests)
    assert batches == sorted([(MISSING.id,), (DIVIDE.id,)])
    assert "sent while the other pairs were still checked: 1, used 1" in caplog.text
    by_id = {d["pair_id"]: d for d in _report(task_dir)["detailed_results"]}
    assert by_id[DIVIDE.id]["status"] == "error" and "division by zero" in by_id[DIVIDE.id]["error_message"]
    assert by_id[MISSING.id]["repaired_sql"] == FIXES[MISSING.id]
    assert by_id[DIVIDE.id]["repaired_sql"] == DIVIDE_FIX
    assert {p.sql for p in read_pairs(path)} >= {FIXES[MISSING.id], DIVIDE_FIX}


def test_round_one_batches_the_guessed_failures_apart():
    pairs = [Pair(f"问题{i}", f"SELECT {i}") for i in range(8)]
    cands = [_candidate(p) for p in pairs]
    lead = {pairs[i].sql for i in (1, 4, 6)}
    ids = [[c.pair_id for c in b] for b in first_round_batches(cands, 2, lead)]
    assert ids == [[pairs[1].id, pairs[4].id], [pairs[6].id], [pairs[0].id, pairs[2].id], [pairs[3].id, pairs[5].id],
                   [pairs[7].id]]
    assert [len(b) for b in first_round_batches(cands, 5)] == [5, 3]       # no guess: the file order


def test_qa_sends_the_repairs_of_its_failing_pairs_before_validation_starts(tmp_path, fast_settings, business_url):
    """qa_generation hands its final LLM pairs over (early_checks.send_repairs_ahead): the repair of the one that
    fails leaves before sql_validation starts, and the step's round 1 uses that answer: one call in all. The
    pair's metadata names its table, so the prompt sent ahead matches the round's only if the metadata read back
    from the pair file is the one qa_generation held."""
    task = tmp_path / "t"
    task.mkdir()
    save_snapshot(task / "schema_snapshot.json", _tables())
    pairs = [Pair(GOOD.question, GOOD.sql, {"tables": ["public.bss_company"], "source": "llm"}),
             Pair(MISSING.question, MISSING.sql, {"tables": ["public.bss_service_area"], "source": "llm"})]
    with OpenAIStub() as stub:
        stub.responder = _answer
        s = fast_settings.model_copy(update={"llm_base_url": stub.base_url, "llm_model": "stub-model"})
        with make_llm(s) as llm:
            ctx = _ctx(task, s, business_url, llm=llm)
            ctx.options = {early_checks.NEXT_STEPS_OPTION: ["sql_validation", "training_load"]}
            early_checks.submit(ctx, [p.sql for p in pairs])
            early_checks.send_repairs_ahead(ctx, pairs, lambda: sql_validation.new_repair_ahead(ctx))
            wait_for(lambda: len(stub.chat_requests) == 1, 30, what="the repair call sent from qa_generation")
            _write(task, pairs)
            sql_validation.run(ctx)
        assert len(stub.chat_requests) == 1
    by_id = {d["pair_id"]: d for d in _report(task)["detailed_results"]}
    assert by_id[MISSING.id]["repaired_sql"] == FIXES[MISSING.id]
    assert {p.sql for p in read_pairs(task / next(p.name for p in task.glob("qs_*_pair.json")))} == \
        {GOOD.sql, FIXES[MISSING.id]}


def test_a_batchs_answers_are_checked_together_and_retried_in_batch_order(task_dir, fast_settings, business_url):
    """The repaired SQL of one batch is checked on the database all at once (the two checks meet at a barrier
    that times out if they ran one after the other); round 2 retries in the batch's order."""
    third = Pair("公司名称", "SELECT company_nme FROM bss_company")
    batches: list[list[str]] = []

    def request(batch, _ddl_text):
        batches.append([c.pair_id for c in batch])
        if len(batches) == 1:    # BROKEN fixed, MISSING answered with another wrong SQL, no answer for the third
            return {BROKEN.id: FIXES[BROKEN.id], MISSING.id: "SELECT service_area_nme FROM bss_service_area"}
        return {}
    barrier = threading.Barrier(2, timeout=10)
    with SqlChecker.from_settings(business_url, fast_settings) as checker:
        def check(sql):
            if len(batches) == 1:
                barrier.wait()
            return checker.check_pooled(sql)
        outcomes = repair_failing([_candidate(BROKEN), _candidate(MISSING), _candidate(third)], llm=None,
                                  check=check, ddl=DdlLibrary(task_dir, _tables()), request=request, batch_size=5)
    assert batches == [[BROKEN.id, MISSING.id, third.id], [MISSING.id, third.id]]
    assert outcomes[BROKEN.id].repaired_sql == FIXES[BROKEN.id]
    assert [a.status for a in outcomes[MISSING.id].attempts] == ["error", "no_answer"]
    assert [a.status for a in outcomes[third.id].attempts] == ["no_answer", "no_answer"]
