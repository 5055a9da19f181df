"""qa_generation's theme call sent from the end of ddl_generation (steps/themes_ahead.py, issue 26): used when its
prompt is the one qa_generation builds, else qa_generation asks again; nothing is sent in step mode."""
from __future__ import annotations

import json

import pytest

from app_config import load_settings
from core.errors import LLMError
from core.llm import make_llm
from data_pipeline.steps import qa_generation, themes_ahead
from data_pipeline.steps.base import NEXT_STEPS_OPTION
from tests.executor_support import wait_for
from tests.openai_stub import OpenAIStub, Reply
from tests.qa.test_qa_generation import THEMES, _ctx, _responder, ddl_dir, task_dir  # noqa: F401 - fixtures

COMPLETE_RUN = {NEXT_STEPS_OPTION: ["qa_generation", "sql_validation", "training_load"]}


def _theme_calls(stub) -> list:
    return [r for r in stub.chat_requests if "归纳为最多" in r.json["messages"][-1]["content"]]


def _settings(app_ctx, stub):
    return load_settings({"data_home": app_ctx.settings.data_home, "llm_base_url": stub.base_url,
                          "llm_model": "stub-model", "llm_max_retries": 0, "llm_max_concurrency": 2,
                          "log_level": "WARNING"})


def _steps(app_ctx, task_dir, settings, llm):  # noqa: F811 - task_dir is the fixture's path
    """(ddl_generation's context, qa_generation's) of one execution, as the runner makes them."""
    ddl, qa = _ctx(app_ctx, task_dir, settings, llm), _ctx(app_ctx, task_dir, settings, llm)
    ddl.execution_id = qa.execution_id = "task_20250101_000000_step_complete_exec_1"
    ddl.options = dict(COMPLETE_RUN)
    return ddl, qa


def test_qa_uses_the_theme_call_ddl_sent_and_finds_the_same(app_ctx, ddl_dir, tmp_path):  # noqa: F811
    plain, early = tmp_path / "plain", tmp_path / "early"
    for d in (plain, early):
        d.mkdir()
        for f in ddl_dir.iterdir():
            (d / f.name).write_bytes(f.read_bytes())
    with OpenAIStub() as stub:
        stub.responder = _responder
        settings = _settings(app_ctx, stub)
        with make_llm(settings) as llm:
            alone = qa_generation.run(_ctx(app_ctx, plain, settings, llm))
            alone_prompt = _theme_calls(stub)[0].json["messages"]
            stub.reset()
            stub.responder = _responder
            ddl, qa = _steps(app_ctx, early, settings, llm)
            themes_ahead.send(ddl, qa_generation.theme_messages_for)
            wait_for(lambda: len(_theme_calls(stub)) == 1, 30, what="the theme call sent from ddl_generation")
            result = qa_generation.run(qa)
            assert len(_theme_calls(stub)) == 1          # used: not asked again
            assert _theme_calls(stub)[0].json["messages"] == alone_prompt
    for key in ("themes", "pairs", "failed_themes", "duplicates_removed", "by_difficulty", "pairs_by_source"):
        assert result.summary[key] == alone.summary[key], key
    assert not themes_ahead._open


def test_an_input_changed_after_the_send_means_a_call_of_its_own(app_ctx, task_dir, caplog):  # noqa: F811
    """A doc edited between the send and qa_generation's start: its prompt differs, so it asks again and uses
    that answer (the call sent ahead is logged as not used)."""
    with OpenAIStub() as stub:
        stub.responder = _responder
        settings = _settings(app_ctx, stub)
        with make_llm(settings) as llm:
            ddl, qa = _steps(app_ctx, task_dir, settings, llm)
            themes_ahead.send(ddl, qa_generation.theme_messages_for)
            wait_for(lambda: len(_theme_calls(stub)) == 1, 30, what="the theme call sent from ddl_generation")
            doc = task_dir / "bss_company_detail.md"
            doc.write_text(doc.read_text(encoding="utf-8") + "\n用户补充：公司即经营主体。\n", encoding="utf-8")
            with caplog.at_level("WARNING", logger="test.qa"):
                result = qa_generation.run(qa)
            calls = _theme_calls(stub)
    assert len(calls) == 2 and "用户补充" in calls[1].json["messages"][-1]["content"]
    assert "用户补充" not in calls[0].json["messages"][-1]["content"]
    assert result.summary["themes"] == 3
    assert any("theme call sent ahead was not used" in r.getMessage() for r in caplog.records)


def test_the_error_of_the_call_sent_ahead_is_the_steps(app_ctx, task_dir):  # noqa: F811
    with OpenAIStub() as stub:
        stub.responder = lambda req: Reply(content="抱歉，我无法完成。")
        settings = _settings(app_ctx, stub)
        with make_llm(settings) as llm:
            ddl, qa = _steps(app_ctx, task_dir, settings, llm)
            themes_ahead.send(ddl, qa_generation.theme_messages_for).join(30)
            with pytest.raises(LLMError, match="theme discovery failed"):
                qa_generation.run(qa)
            assert len(_theme_calls(stub)) == 1


def test_nothing_is_sent_unless_qa_follows_here_with_an_llm(app_ctx, task_dir):  # noqa: F811
    with OpenAIStub() as stub:
        stub.responder = lambda req: Reply(content=json.dumps(THEMES, ensure_ascii=False))
        settings = _settings(app_ctx, stub)
        with make_llm(settings) as llm:
            step_mode = _ctx(app_ctx, task_dir, settings, llm)                       # no next steps
            assert themes_ahead.send(step_mode, qa_generation.theme_messages_for) is None
            rule_based = _ctx(app_ctx, task_dir, settings)
            rule_based.options = dict(COMPLETE_RUN)
            assert themes_ahead.send(rule_based, qa_generation.theme_messages_for) is None
            validation_only = _ctx(app_ctx, task_dir, settings, llm)
            validation_only.options = {NEXT_STEPS_OPTION: ["sql_validation"]}
            assert themes_ahead.send(validation_only, qa_generation.theme_messages_for) is None
        assert stub.chat_requests == [] and not themes_ahead._open
