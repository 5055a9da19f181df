"""Checks qa_generation starts for sql_validation in the same process (issue 26): taken by the step, same results."""
from __future__ import annotations

from data_pipeline.schema.model import save_snapshot
from data_pipeline.steps import early_checks, sql_validation
from tests.executor_support import wait_for
from tests.validation.test_sql_validation import (EMPTY, GOOD, HOSTILE, MISSING, _ctx, _report, _tables, _write,
                                                  fast_settings)  # noqa: F401 - fast_settings is a fixture

PAIRS = [GOOD, EMPTY, MISSING, HOSTILE]
COMPLETE_RUN = {early_checks.NEXT_STEPS_OPTION: ["sql_validation", "training_load"]}


def _task_dir(path):
    path.mkdir()
    save_snapshot(path / "schema_snapshot.json", _tables())
    return path


def _outcome(task_dir) -> list[tuple]:
    return sorted((d["pair_id"], d["status"], d["valid"], d["row_count"], d["error_message"])
                  for d in _report(task_dir)["detailed_results"])


def test_validation_takes_the_checks_qa_started_and_finds_the_same(tmp_path, fast_settings, business_url):
    plain, early = _task_dir(tmp_path / "plain"), _task_dir(tmp_path / "early")
    for d in (plain, early):
        _write(d, PAIRS)
    sql_validation.run(_ctx(plain, fast_settings, business_url))

    ctx = _ctx(early, fast_settings, business_url)
    ctx.options = dict(COMPLETE_RUN)
    early_checks.submit(ctx, [p.sql for p in PAIRS[:2]])     # as qa_generation does, a theme at a time
    early_checks.submit(ctx, [p.sql for p in PAIRS[1:3]])
    assert (ctx.task_id, ctx.execution_id, business_url) in early_checks._open
    sql_validation.run(ctx)
    assert not early_checks._open                            # taken (and closed) by the step
    assert _outcome(early) == _outcome(plain)
    assert {d["status"] for d in _report(early)["detailed_results"]} == {"valid", "empty", "error", "rejected"}


def test_nothing_starts_when_no_validation_follows_in_this_process(tmp_path, fast_settings, business_url):
    ctx = _ctx(_task_dir(tmp_path / "t"), fast_settings, business_url)     # step mode: no next steps
    early_checks.submit(ctx, [GOOD.sql])
    ctx.options = {early_checks.NEXT_STEPS_OPTION: ["training_load"]}
    early_checks.submit(ctx, [GOOD.sql])
    assert early_checks.take(ctx) is None


def test_sql_guessed_to_fail_is_checked_first(tmp_path, fast_settings, business_url):
    """One connection: the pairs the snapshot says will fail (an unknown column, a refused statement) are
    checked before those that came earlier, the rest in arrival order; every result is the real check's."""
    ctx = _ctx(_task_dir(tmp_path / "t"), fast_settings.model_copy(update={"validation_concurrency": 1}),
               business_url)
    early = early_checks.EarlyChecks(ctx)
    order, real_check = [], early.checker.check
    early.checker.check = lambda sql: order.append(sql) or real_check(sql)
    try:
        early.submit([GOOD.sql, EMPTY.sql, MISSING.sql, HOSTILE.sql])
        results = {sql: early.result(sql) for sql in (GOOD.sql, EMPTY.sql, MISSING.sql, HOSTILE.sql)}
    finally:
        early.close()
    assert order == [MISSING.sql, HOSTILE.sql, GOOD.sql, EMPTY.sql]
    assert early.guessed_failing == {MISSING.sql, HOSTILE.sql}
    assert [results[s].status for s in (GOOD.sql, EMPTY.sql, MISSING.sql, HOSTILE.sql)] == \
        ["valid", "empty", "error", "rejected"]


def test_a_theme_answer_queues_only_the_sql_guessed_to_fail(tmp_path, fast_settings, business_url):
    """qa_generation offers a theme's SQL as soon as the answer passed the guard (guessed_only): only what is
    guessed to fail is checked then; the rest waits for the pairs to be final and is checked once, when offered
    again."""
    ctx = _ctx(_task_dir(tmp_path / "t"), fast_settings.model_copy(update={"validation_concurrency": 1}),
               business_url)
    early = early_checks.EarlyChecks(ctx)
    order, real_check = [], early.checker.check
    early.checker.check = lambda sql: order.append(sql) or real_check(sql)
    guesses, real_guess = [], early._guess
    early._guess = lambda sql: guesses.append(sql) or real_guess(sql)
    try:
        early.submit([GOOD.sql, MISSING.sql], guessed_only=True)
        assert early.result(MISSING.sql).status == "error"
        assert early.known(GOOD.sql) is None and order == [MISSING.sql]     # not queued: not final yet
        early.submit([GOOD.sql, MISSING.sql])
        assert early.result(GOOD.sql).status == "valid"
    finally:
        early.close()
    assert order == [MISSING.sql, GOOD.sql]             # each checked once
    assert guesses == [GOOD.sql, MISSING.sql]           # each guessed once
    assert early.guessed_failing == {MISSING.sql}


def test_closing_leaves_queued_checks_unchecked(tmp_path, fast_settings, business_url):
    ctx = _ctx(_task_dir(tmp_path / "t"), fast_settings.model_copy(update={"validation_concurrency": 1}),
               business_url)
    early = early_checks.EarlyChecks(ctx)
    early.close()
    early.submit([GOOD.sql])
    assert early.result(GOOD.sql) is None and early.known(GOOD.sql) is None


def test_qa_opens_the_check_connections_before_its_first_theme(tmp_path, fast_settings, business_url):
    """early_checks.start (qa_generation, before its theme call): the pool's connections are open and vetted
    before any SQL arrives, one per pool thread, and the first checks use them."""
    ctx = _ctx(_task_dir(tmp_path / "t"), fast_settings, business_url)
    ctx.options = dict(COMPLETE_RUN)
    early_checks.start(ctx).join()
    early = early_checks._open[(ctx.task_id, ctx.execution_id, business_url)]
    try:
        wait_for(lambda: len(early.checker._connections) == fast_settings.validation_concurrency, 30,
                 what="the check connections opened ahead")
        opened = list(early.checker._connections)
        early_checks.submit(ctx, [p.sql for p in PAIRS])
        assert [early.result(p.sql).status for p in PAIRS] == ["valid", "empty", "error", "rejected"]
        assert early.checker._connections == opened and early.checker.reconnects == 0
    finally:
        early_checks.take(ctx).close()
