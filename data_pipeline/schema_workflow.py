"""Manual runs from a terminal: `python -m data_pipeline.schema_workflow` (seed 001 "命令行参数扩展").

    python -m data_pipeline.schema_workflow --table-list tables.txt --business-context "高速公路服务区"
    python -m data_pipeline.schema_workflow --table-names bss_company,bss_service_area --step ddl_generation
    python -m data_pipeline.schema_workflow --task-id manual_20250701_120000 --step qa_generation
    python -m data_pipeline.schema_workflow --table-list tables.txt --no-db-tracking --output-dir ./out

With tracking (the default) the run registers a `manual_YYYYMMDD_HHMMSS` task (or continues `--task-id`), claims
an execution under the same rules as the API (one run per task, MAX_CONCURRENT_TASKS overall, dependencies
unless --force) and records progress exactly like an API-started run: it is the same runner
(data_pipeline.executor.session), executed in this process. `--no-db-tracking` runs the same runner without any
task/execution row. Progress (step, percent, table counts) is printed on the terminal; the full log goes to
`<task dir>/data_pipeline.log`. Ctrl-C cancels cleanly. Exit code: 0 completed, 1 failed, 3 cancelled, 2 usage.
"""
from __future__ import annotations

import argparse
import logging
import sys
import threading
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Optional

from core.errors import AppError
from data_pipeline.steps import ALL_STEPS, STEPS

STEP_NUMBERS = {str(i): step for i, step in enumerate(STEPS, start=1)}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m data_pipeline.schema_workflow",
                                description="Schema工作流编排器 - 端到端的Schema处理流程 (manual runs)",
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n")[1])
    src = p.add_argument_group("input")
    src.add_argument("--db-connection", help="business database URL (default: the configured/demo database)")
    src.add_argument("--vector-db-connection", help="vector store URL training_load writes (default: VECTOR_DB_URL, "
                                                    "else the metadata database)")
    src.add_argument("--table-list", help="table list file (one name per line or comma separated)")
    src.add_argument("--table-names", help="comma separated table names (instead of --table-list)")
    src.add_argument("--business-context", help="business description used in comments and questions")
    src.add_argument("--question-language", choices=("zh", "en", "auto"), default="zh",
                     help="language of questions and generated comments (auto: from business context/comments)")
    src.add_argument("--db-name", help="database name used in output file names")
    src.add_argument("--task-name", help="task name shown in the task list")
    src.add_argument("--output-dir", help="root of the task directories (default: TRAINING_DATA_DIR); the task "
                                          "directory is <output-dir>/<task_id>")
    flags = p.add_argument_group("steps")
    flags.add_argument("--skip-validation", "--disable-sql-validation", dest="skip_validation", action="store_true",
                       help="skip sql_validation in complete mode")
    flags.add_argument("--disable-llm-repair", action="store_true", help="no LLM repair of invalid SQL")
    flags.add_argument("--no-modify-file", action="store_true", help="validation reports only; pair file untouched")
    flags.add_argument("--skip-training-load", "--disable-training-data-load", dest="skip_training_load",
                       action="store_true", help="skip training_load in complete mode")
    flags.add_argument("--backup-vector-tables", action="store_true", help="back up the vector tables first")
    flags.add_argument("--truncate-vector-tables", action="store_true",
                       help="empty langchain_pg_embedding before loading (implies a backup)")
    flags.add_argument("--enable-evaluation", action="store_true",
                       help="hold out pairs in training_load and run the evaluation step after it (complete mode)")
    flags.add_argument("--eval-holdout-ratio", type=float, default=None, help="share of the pairs held out (0.1)")
    flags.add_argument("--eval-max-questions", type=int, default=None, help="questions asked of the LLM (50)")
    run = p.add_argument_group("execution")
    run.add_argument("--execution-mode", choices=("complete", "step", "single"), default=None,
                     help="complete (default) or step ('single' is seed 001's name for step)")
    run.add_argument("--step", "--step-name", dest="step",
                     help="step to run in step mode: a name (ddl_generation ... evaluation) or 1-4")
    run.add_argument("--single-step", choices=tuple(STEP_NUMBERS), help="seed 001: step number 1-4 (implies step mode)")
    run.add_argument("--task-id", help="continue an existing task (task_… or manual_…) instead of creating one")
    run.add_argument("--no-db-tracking", action="store_true", help="do not record the run in the task tables")
    run.add_argument("--force", action="store_true", help="run the step even if its dependencies are not met")
    run.add_argument("--no-clean-previous", action="store_true", help="keep the step's earlier output files")
    return p


def resolve_mode(args, parser) -> tuple[str, Optional[str]]:
    step = args.step or args.single_step
    if step is not None:
        step = STEP_NUMBERS.get(step, step)
        if step not in ALL_STEPS:
            parser.error(f"--step must be one of {', '.join(ALL_STEPS)} or 1-4")
    mode = {"single": "step"}.get(args.execution_mode, args.execution_mode) or ("step" if step else "complete")
    if mode == "step" and not step:
        parser.error("step mode needs --step")
    return mode, (step if mode == "step" else None)


def read_table_names(args, parser, settings) -> Optional[list[str]]:
    from data_pipeline.taskfiles import table_list
    if args.table_list and args.table_names:
        parser.error("give --table-list or --table-names, not both")
    try:
        if args.table_list:
            text = Path(args.table_list).read_text(encoding="utf-8-sig")
            refs = table_list.parse_text(text, max_lines=settings.table_list_max_lines)
        elif args.table_names:
            refs = table_list.parse_names(args.table_names.split(","))
        else:
            return None
    except OSError as exc:
        parser.error(f"cannot read --table-list: {exc.strerror}")
    except AppError as exc:
        parser.error(f"bad table list: {exc.details}")
    if not refs:
        parser.error("the table list is empty")
    return [r.qualified for r in refs]


def task_parameters(args) -> dict:
    return {"enable_sql_validation": not args.skip_validation, "enable_llm_repair": not args.disable_llm_repair,
            "modify_original_file": not args.no_modify_file, "enable_training_data_load": not args.skip_training_load,
            "backup_vector_tables": args.backup_vector_tables or args.truncate_vector_tables,
            "truncate_vector_tables": args.truncate_vector_tables, "enable_evaluation": args.enable_evaluation,
            "eval_holdout_ratio": args.eval_holdout_ratio, "eval_max_questions": args.eval_max_questions}


def create_manual_task(ctx, args, names: list[str], mode: str) -> str:
    from data_pipeline.tasks import create_task
    req = SimpleNamespace(table_names=names, table_list_file=None, business_context=args.business_context,
                          db_name=args.db_name, db_connection=args.db_connection, task_name=args.task_name,
                          vector_db_connection=args.vector_db_connection,
                          created_by="manual", question_language=args.question_language, **task_parameters(args))
    row = create_task(ctx, req, task_type="complete_workflow" if mode == "complete" else "data_workflow",
                      id_prefix="manual")
    return row["task_id"]


def run_tracked(ctx, args, names, mode, step, cancel_event, progress, last_acts: list) -> str:
    from data_pipeline import ids
    from data_pipeline.executor import plan
    from data_pipeline.executor.session import run_claimed_execution
    from data_pipeline.store import executions as execution_store
    if args.task_id:
        from data_pipeline.tasks import get_task_or_404
        task = get_task_or_404(ctx, args.task_id)
        if names is not None:
            raise AppError("--task-id continues a task with its own table list; drop --table-list/--table-names",
                           status=400)
        task_id = task["task_id"]
    else:
        if names is None:
            raise AppError("a new task needs --table-list or --table-names", status=400)
        task_id = create_manual_task(ctx, args, names, mode)
    options = {"clean_previous": not args.no_clean_previous, "force_execute": args.force,
               "backup_vector_tables": args.backup_vector_tables or args.truncate_vector_tables,
               "truncate_vector_tables": args.truncate_vector_tables, "enable_evaluation": args.enable_evaluation,
            "eval_holdout_ratio": args.eval_holdout_ratio, "eval_max_questions": args.eval_max_questions}
    check = (lambda status: plan.dependency_problem(step, status)) if mode == "step" and not args.force else None
    execution = execution_store.claim_execution(
        ctx.db, task_id=task_id, execution_id=ids.new_execution_id(task_id, step or "complete"),
        execution_step=step or "complete", execution_mode=mode, options=options, force=args.force,
        max_running=ctx.settings.max_concurrent_tasks, dependency_problem=check)
    progress.note(f"task {task_id}: execution {execution['execution_id']} ({mode}"
                    f"{', ' + step if step else ''}) -> {ctx.display_path(ctx.task_dir(task_id))}")
    return run_claimed_execution(ctx, task_id=task_id, execution_id=execution["execution_id"], mode=mode, step=step,
                                 cancel_event=cancel_event, observers=(progress,), before_exit=last_acts)


def run_untracked_cli(ctx, args, names, mode, step, cancel_event, progress) -> str:
    """--no-db-tracking: a task directory and the same runner, but no task, execution, output or log rows."""
    from core.db import database_name
    from data_pipeline import ids
    from data_pipeline.taskfiles import table_list
    from data_pipeline.executor.session import run_untracked
    if names is None:
        raise AppError("--no-db-tracking needs --table-list or --table-names", status=400)
    if args.task_id:
        task_id = ids.require_task_id(args.task_id)
    else:
        now, attempt = datetime.now(), 1
        while ctx.task_dir(task_id := ids.new_task_id("manual", now, attempt)).exists():
            attempt += 1
    task_dir = ctx.task_dir(task_id)
    task_dir.mkdir(parents=True, exist_ok=True)
    refs = table_list.parse_names(names)
    (task_dir / table_list.TABLE_LIST_FILE).write_text(table_list.render(refs), encoding="utf-8")
    url = args.db_connection or ctx.runtime.business_url
    params = {**task_parameters(args), "business_context": args.business_context, "db_connection": args.db_connection,
              "question_language": args.question_language,
              "db_name": args.db_name or database_name(url) or None, "task_name": args.task_name,
              "file_upload_mode": False, "vector_db_connection": args.vector_db_connection}
    options = {"clean_previous": not args.no_clean_previous, "force_execute": args.force,
               "backup_vector_tables": params["backup_vector_tables"],
               "truncate_vector_tables": params["truncate_vector_tables"]}
    progress.note(f"task {task_id} (no DB tracking) ({mode}{', ' + step if step else ''}) -> "
                  f"{ctx.display_path(task_dir)}")
    return run_untracked(ctx.settings, ctx, task_id=task_id, task_dir=task_dir, params=params, tables=refs,
                         mode=mode, step=step, options=options, cancel_event=cancel_event, observers=(progress,))


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    mode, step = resolve_mode(args, parser)
    from app_config import ConfigError, get_settings
    from data_pipeline.context import build_context
    from data_pipeline.executor.session import EXIT_CODES, install_cancel_signals
    from data_pipeline.executor.tracking import TerminalProgress
    try:
        settings = get_settings()
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.output_dir:
        settings = settings.model_copy(update={"training_data_dir": Path(args.output_dir).resolve()})
    names = read_table_names(args, parser, settings)
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setLevel(logging.WARNING)
    stderr.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(stderr)
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    cancel_event = threading.Event()
    install_cancel_signals(cancel_event)
    progress = TerminalProgress()
    last_acts: list = []
    ctx = build_context(settings, maxconn=4)
    try:
        if args.no_db_tracking:
            outcome = run_untracked_cli(ctx, args, names, mode, step, cancel_event, progress)
        else:
            outcome = run_tracked(ctx, args, names, mode, step, cancel_event, progress, last_acts)
    except AppError as exc:
        print(f"error: {exc.code}: {exc.details}", file=sys.stderr)
        return 1 if exc.status >= 409 or exc.status == 404 else 2
    finally:
        ctx.db.close()
    code = EXIT_CODES.get(outcome, 1)
    if outcome == "cancelled":  # do not wait for the cancelled step's threads (see session.exit_process)
        from data_pipeline.executor.session import exit_process
        exit_process(code, last_acts)
    return code


if __name__ == "__main__":
    sys.exit(main())
