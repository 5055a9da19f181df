"""The evaluation step end to end on the demo database: real steps (rule-based) build and load the task with a
hold-out, then `evaluation` runs against the OpenAI-speaking stub scripted to answer the gold SQL for some
questions and a wrong one for others, so EX (context and DDL-only baseline) and the lift are known exactly; one
question's LLM call fails and must be a miss with its reason, not a failed step."""
from __future__ import annotations

import json
import re
from dataclasses import replace

import pytest

from core.llm import LLMClient
from data_pipeline.evaluation.holdout import HOLDOUT_FILE, read_holdout
from data_pipeline.evaluation.report import REPORT_FILE, SUMMARY_FILE
from data_pipeline.steps import step_module
from data_pipeline.taskfiles.table_list import parse_names
from tests.openai_stub import Reply
from tests.vector_fixtures import all_rows, create_task, empty_vector_tables, step_context

TABLES = ["bss_company", "bss_service_area", "bss_car_day_count", "bss_business_day_data"]
WRONG_SQL = "SELECT -987654321 AS wrong_answer;"
PARAMS = {"business_context": "高速公路服务区管理系统", "modify_original_file": True, "enable_evaluation": True,
          "eval_holdout_ratio": 0.3, "eval_max_questions": 50}


@pytest.fixture()
def loaded(client, app_ctx):
    """A task built and loaded by the real four steps with enable_evaluation: (task_id, step context)."""
    empty_vector_tables(app_ctx.db)
    task_id = create_task(client, "评估", table_names=TABLES, enable_evaluation=True, eval_holdout_ratio=0.3)
    ctx = replace(step_context(app_ctx, task_id, params=PARAMS), tables=parse_names(TABLES))
    summaries = {}
    for step in ("ddl_generation", "qa_generation", "sql_validation", "training_load"):
        summaries[step] = step_module(step).run(ctx).summary
    app_ctx.db.execute("UPDATE data_pipeline_tasks SET result = %s WHERE id = %s",
                       (json.dumps({"steps": summaries}), task_id))
    yield task_id, replace(ctx, execution_id=f"{task_id}_step_evaluation_exec_test")
    empty_vector_tables(app_ctx.db)


def _llm(app_ctx, stub, **extra) -> LLMClient:
    return LLMClient(app_ctx.settings.model_copy(update={
        "llm_base_url": stub.base_url, "llm_model": "stub-model", "llm_api_key": "sk-test-key",
        "llm_max_retries": 0, "llm_max_concurrency": 2, **extra}))


def test_held_out_pairs_are_written_and_not_loaded(loaded, app_ctx):
    task_id, ctx = loaded
    holdout = read_holdout(ctx.task_dir)
    assert holdout["held_out"] == len(holdout["pairs"]) >= 5
    assert holdout["pairs_total"] > holdout["held_out"]
    loaded_questions = {json.loads(r["document"])["question"] for r in all_rows(app_ctx.db)
                        if r["collection"] == "sql"}
    assert loaded_questions and not loaded_questions & {p["question"] for p in holdout["pairs"]}
    levels = {p["level"] for p in holdout["pairs"]}
    assert levels <= {"simple", "moderate", "complex", "highly complex"} and len(levels) >= 2   # stratified


def test_exact_ex_and_lift_with_a_scripted_llm_and_one_failing_call(loaded, app_ctx, openai_stub):
    task_id, ctx = loaded
    pairs = read_holdout(ctx.task_dir)["pairs"]
    gold = {p["question"]: p["sql"] for p in pairs}
    ordered = sorted(gold)
    right_with_context, right_baseline, failing = set(ordered[:4]), set(ordered[:1]) | {ordered[5]}, ordered[6]

    def responder(req):
        messages = req["messages"]
        if "paraphrases" in messages[-1]["content"]:       # the one batched paraphrase call
            ids = re.findall(r'"id": "([^"]+)"', messages[-1]["content"])
            return Reply.of_json({"paraphrases": [{"id": i, "question": f"请问：第{n}个问题换个说法"}
                                                  for n, i in enumerate(ids)]})
        question = messages[-1]["content"]
        if question == failing:
            return Reply(status=500)
        with_context = "===Additional Context" in messages[0]["content"]
        assert ("===Tables" in messages[0]["content"]) and (len(messages) > 2) == with_context
        right = right_with_context if with_context else right_baseline
        return f"```sql\n{gold[question]}\n```" if question in right else f"这样写：{WRONG_SQL}"

    openai_stub.responder = responder
    llm = _llm(app_ctx, openai_stub)
    result = step_module("evaluation").run(replace(ctx, llm=llm))
    report = json.loads((ctx.task_dir / REPORT_FILE).read_text(encoding="utf-8"))
    execution, n = report["execution"], len(pairs)
    assert execution["status"] == "completed" and execution["questions"] == n
    assert execution["context"]["ex"] == round(4 / n, 4)
    assert execution["baseline"]["ex"] == round(2 / n, 4)
    assert execution["lift_points"]["ex"] == round(100 * (round(4 / n, 4) - round(2 / n, 4)), 1)
    misses = execution["misses"]
    assert len(misses) == (n - 4) + (n - 2)
    failed = [m for m in misses if m["question"] == failing]
    assert len(failed) == 2 and all(m["reason"].startswith("LLM call failed") and m["generated_sql"] is None
                                    for m in failed)
    wrong = next(m for m in misses if m["question"] not in (failing,) and m["arm"] == "context")
    assert wrong["generated_sql"].strip() == WRONG_SQL and wrong["gold_sql"] == gold[wrong["question"]]
    assert wrong["reason"]
    # worst first: the context arm missed what the baseline got right
    assert misses[0]["arm"] == "context" and misses[0]["question"] == ordered[5] and misses[0]["baseline_ex"]
    # paraphrases from the one LLM call, retrieval measured for both wordings
    assert report["paraphrase"] == {"mode": "llm", "llm_fallbacks": 0}
    assert all(q["paraphrase"].startswith("请问") for q in report["retrieval"]["questions"])
    assert report["retrieval"]["verbatim"]["n"] == report["retrieval"]["paraphrase"]["n"] == n
    paraphrase_calls = [r for r in openai_stub.requests if "paraphrases" in r.prompt_text()]
    assert len(paraphrase_calls) == 1
    assert openai_stub.max_in_flight <= 2
    assert result.summary["ex_context"] == execution["context"]["ex"]
    assert "Misses" in (ctx.task_dir / SUMMARY_FILE).read_text(encoding="utf-8")


def test_eval_max_questions_bounds_the_llm_calls(loaded, app_ctx, openai_stub):
    task_id, ctx = loaded
    openai_stub.responder = lambda req: WRONG_SQL
    params = {**ctx.params, "eval_max_questions": 3}
    step_module("evaluation").run(replace(ctx, llm=_llm(app_ctx, openai_stub), params=params))
    sql_calls = [r for r in openai_stub.requests if "paraphrases" not in r.prompt_text()]
    assert len(sql_calls) == 2 * 3                      # 3 questions, context and baseline
    report = json.loads((ctx.task_dir / REPORT_FILE).read_text(encoding="utf-8"))
    assert report["execution"]["questions"] == 3 and report["execution"]["context"]["ex"] == 0
    # the paraphrase answer was not JSON: every question got its rule-based wording instead
    asked = len(report["retrieval"]["questions"]) + report["retrieval"]["loaded_pairs"]["verbatim"]["n"]
    assert report["paraphrase"]["llm_fallbacks"] == asked


def test_without_an_llm_retrieval_is_measured_and_execution_says_not_run(loaded):
    task_id, ctx = loaded
    result = step_module("evaluation").run(ctx)
    report = json.loads((ctx.task_dir / REPORT_FILE).read_text(encoding="utf-8"))
    assert report["execution"]["status"] == "not_run"
    assert report["paraphrase"]["mode"] == "rule_based"
    retrieval = report["retrieval"]
    for variant in ("verbatim", "paraphrase"):
        for k in ("1", "5", "10"):
            assert 0 <= retrieval[variant]["table_recall"][k] <= 1
        assert retrieval[variant]["table_recall"]["1"] <= retrieval[variant]["table_recall"]["10"]
    assert retrieval["verbatim"]["table_recall"]["10"] > 0.5     # the demo tables are found for their questions
    assert all(q["paraphrase"] != q["question"] for q in retrieval["questions"])
    assert result.summary["execution"] == "not_run"
    assert retrieval["holdout_leaks"]["count"] == 0       # the held-out pairs are nowhere in the store
    # a second run keeps the first in evaluation_history.json; one embedder so far: nothing to compare
    step_module("evaluation").run(ctx)
    history = json.loads((ctx.task_dir / "evaluation_history.json").read_text(encoding="utf-8"))["runs"]
    again = json.loads((ctx.task_dir / REPORT_FILE).read_text(encoding="utf-8"))
    assert len(history) == 2 and len(again["embedders"]) == 1
    assert again["embedders"][0]["embedding"]["model"] == "builtin-hashing-ngram-v1"
    # loaded pairs asked again with their own words come back (the built-in embedder is lexical)
    own = retrieval["loaded_pairs"]
    assert own["verbatim"]["n"] >= 20 and own["verbatim"]["pair_hit"]["5"] >= 0.8
    assert own["paraphrase"]["pair_hit"]["5"] <= own["verbatim"]["pair_hit"]["5"]


def test_too_few_held_out_pairs_is_a_step_error(loaded):
    from core.errors import StepDependencyNotMet
    task_id, ctx = loaded
    data = json.loads((ctx.task_dir / HOLDOUT_FILE).read_text(encoding="utf-8"))
    data["pairs"] = data["pairs"][:4]
    (ctx.task_dir / HOLDOUT_FILE).write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(StepDependencyNotMet, match="4 held-out pair"):
        step_module("evaluation").run(ctx)
